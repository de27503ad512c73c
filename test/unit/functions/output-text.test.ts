import { describe, expect, it } from 'vitest';
import { samplingWith } from '../../../protocol/sampling.js';
import { OutputText } from '../../../platform/functions/output-text.js';
import { byteLevelTokenizer } from '../../../platform/models/tokenizer.js';

// The control plane's text pipeline: what reaches the text, where stop strings cut, and which tokens each
// piece of text carries for logprobs.
const tokenizer = byteLevelTokenizer({ eosTokenIds: [300] });
const ids = (text: string) => [...Buffer.from(text)];
const lp = (id: number) => ({ logprob: -id / 1000, top: [[id, -id / 1000]] as const });

/** Feeds tokens until a stop string ends the generation, as the invoker does. */
function run(output: OutputText, tokens: readonly number[]) {
  const pieces = [];
  for (const id of tokens) {
    const piece = output.token(id, lp(id));
    pieces.push(piece);
    if (piece.stopped) break;
  }
  return { pieces, text: pieces.map((p) => p.text).join(''), stopped: pieces.some((p) => p.stopped) };
}

describe('output text', () => {
  it('keeps end-of-sequence ids and a stop_token_ids id out of the text, unless include_stop_str_in_output', () => {
    expect(run(new OutputText(tokenizer, samplingWith({ max_tokens: 9, stop_token_ids: [98] })), [...ids('ab'), 300]).text).toBe('a');
    expect(run(new OutputText(tokenizer, samplingWith({ max_tokens: 9, stop_token_ids: [98], include_stop_str_in_output: true })), ids('ab')).text).toBe('ab');
  });

  it('cuts before a stop string (after it when asked), and looks for none until min_tokens are out', () => {
    expect(run(new OutputText(tokenizer, samplingWith({ max_tokens: 9, stop: ['cd'] })), ids('abcde'))).toMatchObject({ text: 'ab', stopped: true });
    expect(run(new OutputText(tokenizer, samplingWith({ max_tokens: 9, stop: ['cd'], include_stop_str_in_output: true })), ids('abcde')).text).toBe('abcd');
    // Tokens 1 and 2 pass unchecked; the 3rd (min_tokens reached) holds a stop string and is cut, as in vLLM.
    const held = run(new OutputText(tokenizer, samplingWith({ max_tokens: 9, stop: ['a'], min_tokens: 3 })), ids('aaaa'));
    expect(held).toMatchObject({ text: 'aa', stopped: true });
    expect(held.pieces).toHaveLength(3);
  });

  it('gives each piece the tokens behind it: held-back tokens ride with the next text, and the end takes the rest', () => {
    const output = new OutputText(tokenizer, samplingWith({ max_tokens: 9, stop: ['xyz'], logprobs: true }));
    const { pieces } = run(output, ids('axyb'));
    expect(pieces.map((p) => [p.text, p.tokens.map((t) => t.id)])).toEqual([
      ['a', [97]],
      ['', []],
      ['', []],
      ['xyb', [120, 121, 98]],
    ]);
    const euro = new OutputText(tokenizer, samplingWith({ max_tokens: 9, logprobs: true }));
    const split = run(euro, [0xe2, 0x82]);
    expect(split.text).toBe('');
    expect(euro.end()).toMatchObject({ text: '\uFFFD', tokens: [{ id: 0xe2 }, { id: 0x82 }] });
  });
});
