import type { GenerationEvent } from '../functions/invoker.js';
import type { ChatDelta } from '../models/tool-call-deltas.js';
import { ToolCallStreamParser } from '../models/tool-call-stream-parser.js';
import { type TokenStrings, responseLogprobs } from './logprobs-shapes.js';
import { type ResponseHead, type ResponseStatus, callItem, messageItem, newItemId, responseObject, textPart } from './responses-output.js';
import type { ToolPlan } from './tool-plan.js';

type Raw = Record<string, unknown>;

type OpenItem =
  | { readonly kind: 'message'; readonly id: string; readonly index: number; text: string; logprobs: unknown[] }
  | { readonly kind: 'call'; readonly id: string; readonly index: number; readonly callId: string; readonly name: string; args: string };

/**
 * A response as the Responses API streams it: `response.created`, `response.in_progress`, then per output
 * item `response.output_item.added`, its content (`response.content_part.added`, `response.output_text.delta`
 * ... `.done`, `response.content_part.done`, or `response.function_call_arguments.delta` ... `.done`),
 * `response.output_item.done`, and at the end `response.completed` (or `response.incomplete` when
 * max_output_tokens cut it). Every event carries its `sequence_number`.
 */
export class ResponseEventWriter {
  private sequence = 0;
  private readonly done: Raw[] = [];
  private open: OpenItem | undefined;
  private readonly parser: ToolCallStreamParser | undefined;

  constructor(
    private readonly head: ResponseHead,
    tools: ToolPlan,
    private readonly strings: TokenStrings | undefined,
  ) {
    this.parser = tools.parse ? new ToolCallStreamParser(tools.family) : undefined;
  }

  /** The items of the finished response, for `item_reference`. */
  get items(): readonly Raw[] {
    return this.done;
  }

  start(): Raw[] {
    const response = responseObject(this.head, 'in_progress', [], null);
    return [this.event('response.created', { response }), this.event('response.in_progress', { response })];
  }

  frame(event: GenerationEvent): Raw[] {
    if (event.type === 'text') {
      const logprobs = this.strings && event.tokens ? responseLogprobs(event.tokens, this.strings) : [];
      const deltas: ChatDelta[] = this.parser ? this.parser.push(event.text) : event.text ? [{ content: event.text }] : [];
      const out = deltas.flatMap((d) => this.delta(d, logprobs));
      if (deltas.length === 0 && logprobs.length > 0) out.push(...this.delta({ content: '' }, logprobs));
      return out;
    }
    const status: ResponseStatus = event.finishReason === 'length' ? 'incomplete' : 'completed';
    const out = (this.parser?.finish() ?? []).flatMap((d) => this.delta(d, []));
    if (this.done.length === 0 && !this.open) out.push(...this.openMessage());
    out.push(...this.close(status));
    const response = responseObject(this.head, status, this.done, event.usage);
    out.push(this.event(status === 'completed' ? 'response.completed' : 'response.incomplete', { response }));
    return out;
  }

  private delta(delta: ChatDelta, logprobs: unknown[]): Raw[] {
    if ('content' in delta) {
      const out = this.open?.kind === 'message' ? [] : [...this.close('completed'), ...this.openMessage()];
      const item = this.open as Extract<OpenItem, { kind: 'message' }>;
      item.text += delta.content;
      item.logprobs.push(...logprobs);
      out.push(this.event('response.output_text.delta', { item_id: item.id, output_index: item.index, content_index: 0, delta: delta.content, logprobs }));
      return out;
    }
    return delta.tool_calls.flatMap((call) => {
      const out: Raw[] = [];
      if (call.id !== undefined) {
        out.push(...this.close('completed'));
        const opened: OpenItem = { kind: 'call', id: newItemId('fc'), index: this.done.length, callId: call.id, name: call.function.name ?? '', args: '' };
        this.open = opened;
        out.push(
          this.event('response.output_item.added', {
            output_index: opened.index,
            item: callItem(opened.id, 'in_progress', { callId: opened.callId, name: opened.name, arguments: '' }),
          }),
        );
      }
      const item = this.open;
      if (item?.kind === 'call' && call.function.arguments !== '') {
        item.args += call.function.arguments;
        out.push(this.event('response.function_call_arguments.delta', { item_id: item.id, output_index: item.index, delta: call.function.arguments }));
      }
      return out;
    });
  }

  private openMessage(): Raw[] {
    const item: OpenItem = { kind: 'message', id: newItemId('msg'), index: this.done.length, text: '', logprobs: [] };
    this.open = item;
    return [
      this.event('response.output_item.added', { output_index: item.index, item: messageItem(item.id, 'in_progress', []) }),
      this.event('response.content_part.added', {
        item_id: item.id,
        output_index: item.index,
        content_index: 0,
        part: textPart('', this.strings ? [] : undefined),
      }),
    ];
  }

  private close(status: ResponseStatus): Raw[] {
    const item = this.open;
    if (!item) return [];
    this.open = undefined;
    if (item.kind === 'call') {
      const done = callItem(item.id, status, { callId: item.callId, name: item.name, arguments: item.args });
      this.done.push(done);
      return [
        this.event('response.function_call_arguments.done', { item_id: item.id, output_index: item.index, name: item.name, arguments: item.args }),
        this.event('response.output_item.done', { output_index: item.index, item: done }),
      ];
    }
    const part = textPart(item.text, this.strings ? item.logprobs : undefined);
    const done = messageItem(item.id, status, [part]);
    this.done.push(done);
    return [
      this.event('response.output_text.done', {
        item_id: item.id,
        output_index: item.index,
        content_index: 0,
        text: item.text,
        logprobs: this.strings ? item.logprobs : [],
      }),
      this.event('response.content_part.done', { item_id: item.id, output_index: item.index, content_index: 0, part }),
      this.event('response.output_item.done', { output_index: item.index, item: done }),
    ];
  }

  private event(type: string, fields: Raw): Raw {
    return { type, sequence_number: this.sequence++, ...fields };
  }
}
