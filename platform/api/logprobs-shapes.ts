import type { LoggedToken } from '../functions/output-text.js';
import type { FunctionTokenizer } from '../functions/resolved-function.js';

/**
 * Logprobs in OpenAI's response shapes. A token's string is its bytes decoded as UTF-8 (a token holding
 * part of a character shows U+FFFD, as OpenAI's do; `bytes` has the exact bytes). -Infinity (a masked
 * token among the alternatives) is written as -9999, as OpenAI and vLLM write it.
 */
export interface TokenStrings {
  text(id: number): string;
  bytes(id: number): number[];
}

const FLOOR = -9999;

export function tokenStrings(tokenizer: FunctionTokenizer): TokenStrings {
  const utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  const encoder = new TextEncoder();
  const table = tokenizer.tokenBytes;
  const bytesOf = (id: number): Uint8Array => table?.[id] ?? encoder.encode(tokenizer.decode([id]));
  return { text: (id) => utf8.decode(bytesOf(id)), bytes: (id) => [...bytesOf(id)] };
}

const clamp = (logprob: number): number => Math.max(logprob, FLOOR);

/** Chat Completions: `choices[].logprobs.content[]` (and streamed chunks' `logprobs.content`). */
export function chatLogprobs(tokens: readonly LoggedToken[], strings: TokenStrings): { content: unknown[]; refusal: null } {
  const entry = (id: number, logprob: number) => ({ token: strings.text(id), logprob: clamp(logprob), bytes: strings.bytes(id) });
  return {
    content: tokens.map((t) => ({ ...entry(t.id, t.logprob), top_logprobs: t.top.map(([id, lp]) => entry(id, lp)) })),
    refusal: null,
  };
}

/** Completions: parallel lists; `text_offset` counts characters of the returned text from `offset` on. */
export function completionLogprobs(tokens: readonly LoggedToken[], strings: TokenStrings, offset: number): CompletionLogprobs {
  const out: CompletionLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  let at = offset;
  for (const t of tokens) {
    const text = strings.text(t.id);
    out.tokens.push(text);
    out.token_logprobs.push(clamp(t.logprob));
    out.top_logprobs.push(Object.fromEntries(t.top.map(([id, lp]) => [strings.text(id), clamp(lp)])));
    out.text_offset.push(at);
    at += text.length;
  }
  return out;
}

export interface CompletionLogprobs {
  readonly tokens: string[];
  readonly token_logprobs: number[];
  readonly top_logprobs: Record<string, number>[];
  readonly text_offset: number[];
}

/** Responses API: `output_text.logprobs[]` entries ({token, logprob, bytes, top_logprobs}). */
export function responseLogprobs(tokens: readonly LoggedToken[], strings: TokenStrings): unknown[] {
  return chatLogprobs(tokens, strings).content;
}
