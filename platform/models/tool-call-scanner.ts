/**
 * Reads one tool-call object (`{"name": "f", "arguments": {...}}`) as its text arrives, without waiting for
 * the end: it reports the name as soon as its string closes, and the arguments value as raw text fragments
 * (exactly the model's bytes, so the fragments concatenate to the final `arguments` string). Arguments that
 * arrive before the name are held until the name is known. Other keys are read and ignored.
 */
export type ScanEvent =
  | { readonly kind: 'name'; readonly name: string }
  | { readonly kind: 'arguments'; readonly text: string }
  /** The object closed; `rest` is the input after it, not consumed. */
  | { readonly kind: 'end'; readonly rest: string }
  /** The text is not a call object; `rest` is the input after the offending character, not consumed. */
  | { readonly kind: 'error'; readonly reason: string; readonly rest: string };

type Phase = 'start' | 'key-or-end' | 'key' | 'colon' | 'value-start' | 'value' | 'after-value' | 'done';
const WHITESPACE = /\s/;

export class ToolCallScanner {
  private phase: Phase = 'start';
  private key = '';
  private keyRaw = '';
  private valueRaw = '';
  private valueKind: 'container' | 'string' | 'scalar' = 'scalar';
  private depth = 0;
  private inString = false;
  private escaped = false;
  private name: string | undefined;
  private heldArguments = '';
  private sawArguments = false;
  /** Everything consumed so far. */
  raw = '';

  constructor(private readonly argumentsKeys: readonly string[]) {}

  get finished(): boolean {
    return this.phase === 'done';
  }

  get started(): boolean {
    return this.name !== undefined;
  }

  push(text: string): ScanEvent[] {
    if (this.phase === 'done') return [];
    const events: ScanEvent[] = [];
    let fragment = '';
    const flush = () => {
      if (fragment !== '' && this.name !== undefined) events.push({ kind: 'arguments', text: fragment });
      fragment = '';
    };
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      const step = this.step(c);
      if (step === 'reprocess') {
        i--;
        continue;
      }
      this.raw += c;
      if (step === 'argument') {
        if (this.name === undefined) this.heldArguments += c;
        else fragment += c;
      } else if (step === 'close') {
        flush();
        this.phase = 'done';
        events.push(...this.closing(text.slice(i + 1)));
        return events;
      } else if (typeof step === 'object') {
        flush();
        if (step.kind === 'error') {
          this.phase = 'done';
          events.push({ ...step, rest: text.slice(i + 1) });
          return events;
        }
        events.push(step);
        if (this.heldArguments !== '') {
          events.push({ kind: 'arguments', text: this.heldArguments });
          this.heldArguments = '';
        }
      }
    }
    flush();
    return events;
  }

  /** At the closing brace: a call without a name is an error; one without arguments gets `{}`. */
  private closing(rest: string): ScanEvent[] {
    if (this.name === undefined) return [{ kind: 'error', reason: 'the tool call has no "name"', rest }];
    const events: ScanEvent[] = this.sawArguments ? [] : [{ kind: 'arguments', text: '{}' }];
    return [...events, { kind: 'end', rest }];
  }

  /**
   * One character: 'argument' when it belongs to the arguments value, 'close' at the object's closing brace,
   * an event, or 'reprocess' to see the character again in the next phase.
   */
  private step(c: string): 'skip' | 'argument' | 'reprocess' | 'close' | ScanEvent {
    const error = (reason: string): ScanEvent => ({ kind: 'error', reason, rest: '' });
    switch (this.phase) {
      case 'start':
        if (WHITESPACE.test(c)) return 'skip';
        if (c !== '{') return error(`expected "{", got ${JSON.stringify(c)}`);
        this.phase = 'key-or-end';
        return 'skip';
      case 'key-or-end':
        if (WHITESPACE.test(c)) return 'skip';
        if (c === '}') return 'close';
        if (c !== '"') return error(`expected a key, got ${JSON.stringify(c)}`);
        this.phase = 'key';
        this.keyRaw = '';
        return 'skip';
      case 'key':
        return this.keyChar(c);
      case 'colon':
        if (WHITESPACE.test(c)) return 'skip';
        if (c !== ':') return error(`expected ":", got ${JSON.stringify(c)}`);
        this.phase = 'value-start';
        return 'skip';
      case 'value-start':
        if (WHITESPACE.test(c)) return 'skip';
        this.phase = 'value';
        this.valueRaw = '';
        this.depth = 0;
        this.valueKind = c === '{' || c === '[' ? 'container' : c === '"' ? 'string' : 'scalar';
        if (this.isArgumentsKey()) this.sawArguments = true;
        return 'reprocess';
      case 'value':
        return this.valueChar(c);
      case 'after-value':
        if (WHITESPACE.test(c)) return 'skip';
        if (c === ',') {
          this.phase = 'key-or-end';
          return 'skip';
        }
        if (c === '}') return 'close';
        return error(`expected "," or "}", got ${JSON.stringify(c)}`);
      case 'done':
        return 'skip';
    }
  }

  private keyChar(c: string): 'skip' | ScanEvent {
    if (this.escaped) this.escaped = false;
    else if (c === '\\') this.escaped = true;
    else if (c === '"') {
      try {
        this.key = JSON.parse(`"${this.keyRaw}"`) as string;
      } catch {
        return { kind: 'error', reason: 'a key is not a valid JSON string', rest: '' };
      }
      this.phase = 'colon';
      return 'skip';
    }
    this.keyRaw += c;
    return 'skip';
  }

  private valueChar(c: string): 'argument' | 'skip' | 'reprocess' | ScanEvent {
    if (!this.inString && this.valueKind === 'scalar' && (c === ',' || c === '}' || WHITESPACE.test(c))) {
      const done = this.completeValue();
      return typeof done === 'object' ? done : 'reprocess';
    }
    this.valueRaw += c;
    let complete = false;
    if (this.inString) {
      if (this.escaped) this.escaped = false;
      else if (c === '\\') this.escaped = true;
      else if (c === '"') {
        this.inString = false;
        complete = this.depth === 0;
      }
    } else if (c === '"') {
      this.inString = true;
    } else if (c === '{' || c === '[') {
      this.depth++;
    } else if (c === '}' || c === ']') {
      this.depth--;
      complete = this.depth === 0;
    }
    const isArgument = this.isArgumentsKey();
    if (!complete) return isArgument ? 'argument' : 'skip';
    // For an arguments key completeValue only changes phase; the closing character is still an argument.
    const done = this.completeValue();
    return isArgument ? 'argument' : done;
  }

  private completeValue(): 'skip' | ScanEvent {
    this.phase = 'after-value';
    if (this.key !== 'name') return 'skip';
    if (this.name !== undefined) return { kind: 'error', reason: 'the tool call has two "name" keys', rest: '' };
    let name: unknown;
    try {
      name = JSON.parse(this.valueRaw);
    } catch {
      return { kind: 'error', reason: '"name" is not valid JSON', rest: '' };
    }
    if (typeof name !== 'string') return { kind: 'error', reason: '"name" is not a string', rest: '' };
    this.name = name;
    return { kind: 'name', name };
  }

  private isArgumentsKey(): boolean {
    return this.argumentsKeys.includes(this.key);
  }
}
