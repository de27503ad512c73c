import { TidepoolError } from '../../protocol/errors.js';
import { type SamplingRequest, readSampling } from '../../protocol/sampling.js';

/**
 * The Responses API's request, read into the Chat Completions shapes the rest of the API already serves:
 * `input` (a text, or items: messages, `function_call`s and their `function_call_output`s) and
 * `instructions` become chat messages; function tools (`{type, name, parameters}`, flat) become chat tools;
 * `tool_choice` and `text.format` their chat spellings. Anything else in `input` or `tools` (images, files,
 * hosted tools, reasoning items) is refused naming its place.
 */
export interface ResponsesChatRequest {
  readonly messages: unknown[];
  readonly tools?: unknown[];
  readonly toolChoice?: unknown;
  readonly responseFormat?: unknown;
  readonly sampling: SamplingRequest;
}

type Raw = Record<string, unknown>;
const isObject = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);
const fail = (param: string, what: string) => new TidepoolError('invalid_parameter', `${param}: ${what}`, { param });
const refuse = (param: string, what: string) => new TidepoolError('unsupported_parameter', `${param}: ${what}`, { param });

/** Resolves `item_reference` items (ids of items this server produced); undefined when unknown. */
export type ItemLookup = (id: string) => Raw | undefined;

export function readResponsesRequest(body: Readonly<Raw>, lookup: ItemLookup): ResponsesChatRequest {
  const messages = readInput(body.input, lookup);
  if (body.instructions !== undefined && body.instructions !== null) {
    if (typeof body.instructions !== 'string') throw fail('instructions', 'must be a string');
    messages.unshift({ role: 'system', content: body.instructions });
  }
  return {
    messages,
    ...(body.tools === undefined || body.tools === null ? {} : { tools: readTools(body.tools) }),
    ...(body.tool_choice === undefined || body.tool_choice === null ? {} : { toolChoice: readToolChoice(body.tool_choice) }),
    ...readFormat(body.text),
    sampling: readResponsesSampling(body),
  };
}

/** `max_output_tokens` and the sampling fields; logprobs when `include` asks for `message.output_text.logprobs`. */
function readResponsesSampling(body: Readonly<Raw>): SamplingRequest {
  const keys = ['temperature', 'top_p', 'seed', 'top_k', 'min_p', 'repetition_penalty', 'frequency_penalty', 'presence_penalty', 'top_logprobs'];
  const picked: Raw = Object.fromEntries(keys.filter((k) => body[k] !== undefined).map((k) => [k, body[k]]));
  const wantsLogprobs = Array.isArray(body.include) && body.include.includes('message.output_text.logprobs');
  if (wantsLogprobs) picked.logprobs = true;
  else if (typeof picked.top_logprobs === 'number' && picked.top_logprobs > 0) picked.logprobs = true;
  try {
    return readSampling({ ...picked, max_tokens: body.max_output_tokens }, 'chat');
  } catch (error) {
    if (error instanceof TidepoolError && error.param === 'max_tokens') throw fail('max_output_tokens', error.message.replace(/^max_tokens: /, ''));
    throw error;
  }
}

function readInput(input: unknown, lookup: ItemLookup): Raw[] {
  if (typeof input === 'string') {
    if (input.length === 0) throw fail('input', 'must not be empty');
    return [{ role: 'user', content: input }];
  }
  if (!Array.isArray(input) || input.length === 0) throw fail('input', 'must be a string or a non-empty array of items');
  const messages: Raw[] = [];
  input.forEach((raw: unknown, i) => {
    const at = `input[${i}]`;
    const item = isObject(raw) && raw.type === 'item_reference' ? referenced(raw, at, lookup) : raw;
    if (!isObject(item)) throw fail(at, 'must be an object');
    if (item.type === 'function_call') addCall(messages, item, at);
    else if (item.type === 'function_call_output')
      messages.push({ role: 'tool', tool_call_id: item.call_id, content: outputText(item.output, `${at}.output`) });
    else if (item.type === undefined || item.type === 'message') messages.push({ role: item.role, content: messageText(item.content, `${at}.content`) });
    else throw refuse(`${at}.type`, `"${String(item.type)}" items are not supported (messages, function_call and function_call_output are)`);
  });
  return messages;
}

function referenced(item: Raw, at: string, lookup: ItemLookup): Raw {
  const found = typeof item.id === 'string' ? lookup(item.id) : undefined;
  if (!found)
    throw fail(`${at}.id`, 'unknown item: only items this server produced in the last hour can be referenced; send the item itself (or store: false)');
  return found;
}

/** Consecutive calls join the assistant message before them (the chat shape: one message, several tool_calls). */
function addCall(messages: Raw[], item: Raw, at: string): void {
  if (typeof item.call_id !== 'string' || typeof item.name !== 'string' || typeof item.arguments !== 'string') {
    throw fail(at, 'a function_call needs call_id, name and arguments (strings)');
  }
  const call = { id: item.call_id, type: 'function', function: { name: item.name, arguments: item.arguments } };
  const last = messages.at(-1);
  if (last?.role === 'assistant') last.tool_calls = [...((last.tool_calls as unknown[] | undefined) ?? []), call];
  else messages.push({ role: 'assistant', content: null, tool_calls: [call] });
}

/** Text content: a string, or text parts (`input_text`, `output_text`, `text`); anything else is refused. */
function messageText(content: unknown, at: string): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw fail(at, 'must be a string or an array of text parts');
  return content
    .map((part: unknown, j) => {
      if (isObject(part) && ['input_text', 'output_text', 'text'].includes(part.type as string) && typeof part.text === 'string') return part.text;
      throw refuse(`${at}[${j}]`, 'only text parts are served');
    })
    .join('');
}

function outputText(output: unknown, at: string): string {
  return typeof output === 'string' ? output : messageText(output, at);
}

function readTools(tools: unknown): unknown[] {
  if (!Array.isArray(tools)) throw fail('tools', 'must be an array');
  return tools.map((tool: unknown, i) => {
    if (!isObject(tool) || tool.type !== 'function') throw refuse(`tools[${i}].type`, 'only function tools are served');
    const { name, description, parameters, strict } = tool;
    return {
      type: 'function',
      function: { name, ...(description == null ? {} : { description }), ...(parameters == null ? {} : { parameters }), ...(strict == null ? {} : { strict }) },
    };
  });
}

function readToolChoice(choice: unknown): unknown {
  if (typeof choice === 'string') return choice;
  if (isObject(choice) && choice.type === 'function' && typeof choice.name === 'string') return { type: 'function', function: { name: choice.name } };
  throw refuse('tool_choice', 'must be "none", "auto", "required" or {"type": "function", "name": ...}');
}

/** `text.format` as a chat `response_format`. */
function readFormat(text: unknown): { responseFormat?: unknown } {
  if (text === undefined || text === null) return {};
  if (!isObject(text)) throw fail('text', 'must be an object');
  if (text.verbosity !== undefined && text.verbosity !== null) throw refuse('text.verbosity', 'not implemented');
  const format = text.format;
  if (format === undefined || format === null) return {};
  if (!isObject(format)) throw fail('text.format', 'must be an object');
  if (format.type !== 'json_schema') return { responseFormat: format };
  return { responseFormat: { type: 'json_schema', json_schema: { name: format.name, schema: format.schema, strict: format.strict } } };
}
