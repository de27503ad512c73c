/**
 * Thrown by the automaton builders when a work bound is hit; the compiler turns it into a
 * `schema_too_large` StructuredOutputError that names the request field.
 */
export class AutomatonLimitError extends Error {
  constructor(
    readonly limit: string,
    readonly value: number,
  ) {
    super(`the automaton exceeds ${limit} (${value})`);
    this.name = 'AutomatonLimitError';
  }
}
