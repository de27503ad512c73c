import { TidepoolError } from '../../protocol/errors.js';
import type { Logger } from '../../protocol/logger.js';

/**
 * Every request field of OpenAI's Chat Completions, Completions and Responses APIs (and the vLLM extensions
 * clients send to OpenAI-compatible servers), with what Tidepool does with it: `works` (honoured), `no_effect`
 * (accepted; it changes nothing a server computes, e.g. `user`), or `refused` (a 400 naming the field and
 * why, unless the value is the one Tidepool serves anyway). Any other field is ignored and logged once per
 * name. docs/api.md's compatibility table is this data, with vLLM's behaviour beside each row.
 */
export type FieldRule =
  | { readonly kind: 'works'; readonly vllm: string; readonly note?: string }
  | { readonly kind: 'no_effect'; readonly why: string; readonly vllm: string }
  | { readonly kind: 'refused'; readonly why: string; readonly vllm: string; readonly unless?: (value: unknown) => boolean };

export type FieldTable = Readonly<Record<string, FieldRule>>;

const works = (vllm = 'works', note?: string): FieldRule => ({ kind: 'works', vllm, ...(note ? { note } : {}) });
const noEffect = (why: string, vllm = 'accepted, no effect'): FieldRule => ({ kind: 'no_effect', why, vllm });
const refused = (why: string, vllm: string, unless?: (value: unknown) => boolean): FieldRule => ({ kind: 'refused', why, vllm, ...(unless ? { unless } : {}) });
const is = (expected: unknown) => (value: unknown) => JSON.stringify(value) === JSON.stringify(expected);

/** Sampling fields both APIs share (OpenAI's and vLLM's). */
const SAMPLING: FieldTable = {
  max_tokens: works('works', '1 to 1,000,000, within the context'),
  temperature: works(),
  top_p: works(),
  seed: works(),
  stop: works('works', 'up to 4 strings of 1-256 characters, cut on the text'),
  n: works('works', '1-16 (null: 1); choice i is sampled with seed + i'),
  frequency_penalty: works(),
  presence_penalty: works(),
  logit_bias: works('works', 'up to 1024 ids, each checked against the vocabulary, biases in [-100, 100]'),
  stream: works(),
  stream_options: works('works (`include_usage`, `continuous_usage_stats`)', '`include_usage`'),
  top_k: works('works (vLLM extension)', '0 or -1: off'),
  min_p: works('works (vLLM extension)'),
  repetition_penalty: works('works (vLLM extension)'),
  min_tokens: works('works (vLLM extension)'),
  ignore_eos: works('works (vLLM extension)'),
  stop_token_ids: works('works (vLLM extension)', 'the ending id is left out of the text'),
  include_stop_str_in_output: works('works (vLLM extension)', 'keeps the stop string (and a stop_token_ids id) in the text'),
  user: noEffect('an end-user id for abuse monitoring'),
  response_format: works('works (guided decoding)', 'json_object and json_schema (strict or not), enforced by constrained decoding'),
};

/** vLLM-only fields that change the output and that Tidepool does not implement: refused rather than ignored. */
const VLLM_REFUSED: FieldTable = {
  use_beam_search: refused('beam search is not implemented', 'works', is(false)),
  length_penalty: refused('only applies to beam search, which is not implemented', 'works (beam search)', is(1)),
  prompt_logprobs: refused('prompt logprobs are not computed', 'works'),
  allowed_token_ids: refused('not implemented; use logit_bias', 'works'),
  bad_words: refused('not implemented; use logit_bias', 'works'),
  skip_special_tokens: refused('special tokens are always skipped', 'works', is(true)),
  spaces_between_special_tokens: refused('special tokens are always skipped', 'works', is(true)),
  truncate_prompt_tokens: refused('prompts are never truncated: a prompt over the context is a 400', 'works'),
  guided_json: refused('use response_format json_schema', 'works'),
  guided_regex: refused('regular-expression constraints are not implemented', 'works'),
  guided_choice: refused('use response_format json_schema with an enum', 'works'),
  guided_grammar: refused('grammar constraints are not implemented; use response_format json_schema', 'works'),
  guided_decoding_backend: refused('there is one constrained-decoding implementation', 'works'),
  guided_whitespace_pattern: refused('the whitespace of constrained JSON is fixed (docs/structured-outputs.md)', 'works'),
  structured_outputs: refused('use response_format', 'works'),
  structural_tag: refused('not implemented', 'works'),
  logits_processors: refused('custom logits processors are not loaded', 'works (when enabled)'),
  return_tokens_as_token_ids: refused('not implemented', 'works', is(false)),
  return_token_ids: refused('not implemented', 'works', is(false)),
  priority: refused('requests are scheduled by their function SLO, not a priority', 'works (priority scheduling)', is(0)),
  add_special_tokens: refused('prompts are encoded without special tokens', 'works', is(false)),
  request_id: noEffect('Tidepool assigns invocation ids', 'works'),
  cache_salt: noEffect('there is no prefix cache to salt', 'works'),
  kv_transfer_params: refused('disaggregated KV transfer is not exposed', 'works'),
  vllm_xargs: refused('not implemented', 'works'),
  mm_processor_kwargs: refused('only text is served', 'works'),
};

export const CHAT_FIELDS: FieldTable = {
  model: works(),
  messages: works('works', 'roles system, developer, user, assistant (with tool_calls), tool, function; text content'),
  ...SAMPLING,
  max_completion_tokens: works('works', 'wins over max_tokens'),
  logprobs: works('works', "true: each token's logprob, bytes and top_logprobs"),
  top_logprobs: works('works (up to `--max-logprobs`, default 20)', '0-20, needs logprobs: true'),
  tools: works('works with a tool parser (`--tool-call-parser`)', "function tools, rendered in the model family's template, calls read back into tool_calls"),
  tool_choice: works(
    'works (`required` and named through guided decoding)',
    'auto, none, required, a named function (required and named enforced by constrained decoding)',
  ),
  parallel_tool_calls: works('accepted', 'false: at most one call per answer'),
  functions: works('ignored', 'served as tools (legacy)'),
  function_call: works('ignored', 'served as tool_choice; answers carry message.function_call'),
  metadata: noEffect('stored by OpenAI for its dashboard'),
  store: noEffect('asks OpenAI to keep the completion'),
  service_tier: noEffect('a billing tier'),
  prompt_cache_key: noEffect('a caching hint'),
  prompt_cache_options: noEffect('a caching hint'),
  prompt_cache_retention: noEffect('a caching hint'),
  safety_identifier: noEffect('an end-user id for abuse monitoring'),
  prediction: noEffect('predicted output only changes latency', 'ignored'),
  modalities: refused('only text is served', 'ignored', is(['text'])),
  audio: refused('only text is served', 'ignored'),
  reasoning_effort: refused('the served models do not reason', 'passed to reasoning models'),
  verbosity: refused('not implemented', 'ignored'),
  web_search_options: refused('web search is not available', 'ignored'),
  echo: refused('echo is a Completions field', 'works', is(false)),
  add_generation_prompt: refused('the assistant turn is always opened', 'works', is(true)),
  continue_final_message: refused('the last message is never continued', 'works', is(false)),
  chat_template: refused('each function renders with its model family template', 'works'),
  chat_template_kwargs: refused('templates take no arguments', 'works'),
  documents: refused('not implemented', 'works (RAG templates)'),
  ...VLLM_REFUSED,
};

export const COMPLETION_FIELDS: FieldTable = {
  model: works(),
  prompt: works('works (text, list of texts, token ids, list of token-id lists)', 'a text, a list of texts, token ids, or lists of token ids'),
  ...SAMPLING,
  logprobs: works('works', 'a count of alternatives, 0-20'),
  echo: works('works', 'refused together with logprobs'),
  best_of: works('refused (V1 engine)', 'n to 20 candidates, the n with the highest logprob per token returned; not streamed'),
  suffix: refused('the served models have no fill-in-the-middle format', 'refused'),
  ...VLLM_REFUSED,
};

export const RESPONSES_FIELDS: FieldTable = {
  model: works(),
  input: works('works', 'a text, or message, function_call, function_call_output and item_reference items'),
  instructions: works(),
  max_output_tokens: works(),
  temperature: works(),
  top_p: works(),
  top_logprobs: works(),
  stream: works(),
  text: works('works (`format` json_schema / json_object)', '`format` text, json_object, json_schema'),
  tools: works('works (function tools)', 'function tools; other types refused'),
  tool_choice: works(),
  parallel_tool_calls: works('accepted', 'false: at most one call per answer'),
  include: refused(
    'only `message.output_text.logprobs` is available',
    'partly',
    (v) => Array.isArray(v) && v.every((x) => x === 'message.output_text.logprobs'),
  ),
  metadata: noEffect('stored by OpenAI for its dashboard'),
  store: noEffect('responses are not stored (previous_response_id is refused)', 'works (in memory)'),
  user: noEffect('an end-user id for abuse monitoring'),
  service_tier: noEffect('a billing tier'),
  prompt_cache_key: noEffect('a caching hint'),
  prompt_cache_options: noEffect('a caching hint'),
  prompt_cache_retention: noEffect('a caching hint'),
  safety_identifier: noEffect('an end-user id for abuse monitoring'),
  stream_options: noEffect('only `include_obfuscation`, which changes no content'),
  truncation: refused('prompts are never truncated', 'accepted', is('disabled')),
  previous_response_id: refused('responses are not stored; send the whole conversation as input', 'works'),
  conversation: refused('conversations are not stored', 'refused'),
  background: refused('background responses are not implemented', 'works', is(false)),
  reasoning: refused('the served models do not reason', 'passed to reasoning models'),
  max_tool_calls: refused('not implemented', 'ignored'),
  prompt: refused('stored prompt templates are not available', 'refused'),
  seed: works('works'),
  top_k: works('works (vLLM extension)', '0 or -1: off'),
  min_p: works('works (vLLM extension)'),
  repetition_penalty: works('works (vLLM extension)'),
  frequency_penalty: works(),
  presence_penalty: works(),
};

export const EMBEDDING_FIELDS: FieldTable = {
  model: works(),
  input: works('works (text, list of texts, token ids, list of token-id lists)', 'a text, a list of texts, token ids, or lists of token ids'),
  encoding_format: works('works (float, base64)', 'float or base64'),
  dimensions: works('refused unless the model supports shortening', "only the model's hidden size"),
  user: noEffect('an end-user id for abuse monitoring'),
  truncate_prompt_tokens: VLLM_REFUSED.truncate_prompt_tokens!,
  add_special_tokens: VLLM_REFUSED.add_special_tokens!,
  priority: VLLM_REFUSED.priority!,
};

/**
 * Checks a body's fields against `table`: refuses a `refused` one (400 `unsupported_parameter` naming it and
 * why) unless its value is null or one served anyway; any field the table lacks is ignored and logged the
 * first time its name is seen on this endpoint.
 */
export function fieldChecker(endpoint: string, table: FieldTable, log: Logger): (body: Readonly<Record<string, unknown>>) => void {
  const seen = new Set<string>();
  return (body) => {
    for (const [key, value] of Object.entries(body)) {
      const rule = table[key];
      if (!rule) {
        if (seen.has(key) || seen.size > 1000) continue;
        seen.add(key);
        log.warn('unknown request field ignored', { endpoint, field: key });
        continue;
      }
      if (rule.kind !== 'refused' || value === null || value === undefined || rule.unless?.(value)) continue;
      throw new TidepoolError('unsupported_parameter', `${key}: not supported: ${rule.why}`, { param: key });
    }
  };
}

/** The table as docs/api.md prints it (a test keeps the two equal). */
export function fieldTableMarkdown(table: FieldTable): string {
  const what = (rule: FieldRule): string => {
    if (rule.kind === 'works') return rule.note ? `works: ${rule.note}` : 'works';
    if (rule.kind === 'no_effect') return `accepted, no effect: ${rule.why}`;
    return `refused (400${rule.unless ? ' unless the value changes nothing' : ''}): ${rule.why}`;
  };
  const rows = Object.entries(table).map(([field, rule]) => `| \`${field}\` | ${what(rule)} | ${rule.vllm} |`);
  return ['| field | Tidepool | vLLM |', '|---|---|---|', ...rows].join('\n');
}
