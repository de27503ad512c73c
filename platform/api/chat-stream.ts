import type { Response } from 'express';
import type { Generation, GenerationEvent, Usage } from '../functions/invoker.js';
import type { LoggedToken } from '../functions/output-text.js';
import type { ResolvedFunction } from '../functions/resolved-function.js';
import { toLegacyDelta } from '../models/legacy-functions.js';
import type { ChatDelta } from '../models/tool-call-deltas.js';
import { ToolCallStreamParser } from '../models/tool-call-stream-parser.js';
import { type ChatBase, chatFinishReason, completionHead } from './chat-response.js';
import { type ChoiceEvent, mergeChoices } from './choices.js';
import { type TokenStrings, chatLogprobs, tokenStrings } from './logprobs-shapes.js';
import { streamGeneration, sumUsage, usageBody } from './run-generation.js';
import { chunkEncoder } from './sse.js';
import type { ToolPlan } from './tool-plan.js';

export interface ChatStreamOptions {
  readonly base: ChatBase;
  readonly fn: ResolvedFunction;
  readonly tools: ToolPlan;
  readonly generations: readonly Generation[];
  readonly promptTokens: number;
  readonly includeUsage: boolean;
  readonly logprobs: boolean;
}

/**
 * Streams `n` choices as OpenAI does: a role chunk per choice, then content deltas (or, with tools, tool-call
 * deltas: the call's id and name first, then argument pieces), each with the logprobs of the tokens behind
 * it, a finish chunk per choice, and with `include_usage` one last chunk with `choices: []` and the usage.
 */
export async function chatStream(res: Response, o: ChatStreamOptions): Promise<void> {
  const chunk = chunkEncoder(completionHead(o.base, 'chat.completion.chunk'));
  const strings = tokenStrings(o.fn.tokenizer);
  const choices = o.generations.map((_, index) => new ChoiceStream(index, o.tools, o.logprobs ? strings : undefined));
  const frame = ({ index, event }: ChoiceEvent): unknown[] => choices[index]!.frame(event).map((choice) => chunk({ choices: [choice] }));
  const preamble = choices.map((c) => chunk({ choices: [{ index: c.index, delta: { role: 'assistant', content: '' }, finish_reason: null, logprobs: null }] }));
  const epilogue = () => {
    if (!o.includeUsage) return [];
    const usage = sumUsage(
      o.promptTokens,
      choices.map((c) => c.usage ?? { promptTokens: 0, completionTokens: 0 }),
    );
    return [chunk({ choices: [], usage: usageBody(usage) })];
  };
  await streamGeneration(res, mergeChoices(o.generations), frame, preamble, epilogue);
}

/** One choice's stream: its tool-call parser, the logprobs not yet sent, its usage once done. */
class ChoiceStream {
  private readonly parser: ToolCallStreamParser | undefined;
  private pending: LoggedToken[] = [];
  usage: Usage | undefined;

  constructor(
    readonly index: number,
    private readonly tools: ToolPlan,
    private readonly strings: TokenStrings | undefined,
  ) {
    this.parser = tools.parse ? new ToolCallStreamParser(tools.family) : undefined;
  }

  frame(event: GenerationEvent): Record<string, unknown>[] {
    if (event.type === 'text') {
      if (event.tokens) this.pending.push(...event.tokens);
      return this.deltas(this.parser ? this.parser.push(event.text) : event.text ? [{ content: event.text }] : [], false);
    }
    this.usage = event.usage;
    const last = this.deltas(this.parser ? this.parser.finish() : [], true);
    const calls = this.parser ? this.parser.result().toolCalls.length : 0;
    const finish = chatFinishReason(event.finishReason, this.tools.legacy ? Math.min(calls, 1) : calls, this.tools);
    return [...last, { index: this.index, delta: {}, finish_reason: finish, logprobs: null }];
  }

  /** Chunks for parser deltas; the first carries the pending logprobs (an empty content chunk when no delta came but `flush`). */
  private deltas(deltas: readonly ChatDelta[], flush: boolean): Record<string, unknown>[] {
    const shaped = deltas.map((d) => (this.tools.legacy ? toLegacyDelta(d) : d)).filter((d) => d !== undefined);
    const out: Record<string, unknown>[] = shaped.map((delta) => ({ index: this.index, delta, finish_reason: null, logprobs: null }));
    if (this.strings && this.pending.length > 0 && (out.length > 0 || flush)) {
      if (out.length === 0) out.push({ index: this.index, delta: { content: '' }, finish_reason: null, logprobs: null });
      out[0]!.logprobs = chatLogprobs(this.pending, this.strings);
      this.pending = [];
    }
    return out;
  }
}
