import { describe, expect, it } from 'vitest';
import { accepts } from '../../../protocol/structured-output/byte-dfa.js';
import { compileJsonSchema } from '../../../protocol/structured-output/response-format.js';
import { automatonHash, fromTransferForm, toEngineGrammar, toTransferForm } from '../../../protocol/structured-output/transfer-form.js';

describe('automaton transfer form', () => {
  const compiled = compileJsonSchema({ enum: ['yes', 'no'] }, 'p');

  it('is flat triples per state, and is stable JSON', () => {
    const form = toTransferForm(compiled.dfa);
    expect(form).toEqual({
      format: 'byte-dfa-v1',
      states: 7,
      start: 0,
      accepting: [6],
      transitions: [[0x22, 0x22, 1], [0x6e, 0x6e, 2, 0x79, 0x79, 3], [0x6f, 0x6f, 4], [0x65, 0x65, 5], [0x22, 0x22, 6], [0x73, 0x73, 4], []],
    });
    expect(automatonHash(compiled.dfa)).toBe(compiled.hash);
  });

  it("gives the engine's grammar command its flat [from, lo, hi, to] quadruples", () => {
    expect(toEngineGrammar(compiled.dfa)).toEqual({
      states: 7,
      start: 0,
      accepting: [6],
      transitions: [0, 0x22, 0x22, 1, 1, 0x6e, 0x6e, 2, 1, 0x79, 0x79, 3, 2, 0x6f, 0x6f, 4, 3, 0x65, 0x65, 5, 4, 0x22, 0x22, 6, 5, 0x73, 0x73, 4],
    });
  });

  it('round-trips through JSON', () => {
    const back = fromTransferForm(JSON.parse(JSON.stringify(toTransferForm(compiled.dfa))));
    expect(back).toEqual(compiled.dfa);
    expect(accepts(back, '"yes"')).toBe(true);
  });

  it.each([
    [null, /must be an object/],
    [{ format: 'other' }, /automaton.format/],
    [{ format: 'byte-dfa-v1', states: 1, start: 0, accepting: [1], transitions: [[]] }, /automaton.accepting/],
    [{ format: 'byte-dfa-v1', states: 1, start: 0, accepting: [0], transitions: [] }, /one entry per state/],
    [{ format: 'byte-dfa-v1', states: 2, start: 0, accepting: [1], transitions: [[5, 4, 1], []] }, /transitions\[0\]\[0\]/],
    [{ format: 'byte-dfa-v1', states: 2, start: 0, accepting: [1], transitions: [[1, 5, 1, 5, 6, 1], []] }, /transitions\[0\]\[1\]/],
    [{ format: 'byte-dfa-v1', states: 2, start: 0, accepting: [1], transitions: [[1, 300, 1], []] }, /byte range 0-255/],
    [{ format: 'byte-dfa-v1', states: 2, start: 0, accepting: [1], transitions: [[1, 2, 2], []] }, /valid next state/],
  ])('refuses a malformed form: %j', (raw, message) => {
    expect(() => fromTransferForm(raw)).toThrow(message);
  });
});
