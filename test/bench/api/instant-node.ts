import type { NodeEvent, NodeGenerateRequest, NodeRuntime } from '../../../protocol/node-runtime.js';
import { eachChoice } from '../../helpers/each-choice.js';

/**
 * A node that answers every generation at once: `maxTokens` tokens cycling through `tokenIds`, then `done`,
 * with no engine, queue or timer behind it. Over it, a request's latency is the control plane's own work
 * (HTTP, auth, lookup, tokenizer, quota, recorder, metrics, JSON or SSE), which is what the api bench's
 * throughput bar is about; rows measured over it say "instant node" so they are never read as engine numbers.
 */
export function instantNode(tokenIds: readonly number[]): NodeRuntime & { readonly generated: () => number } {
  if (tokenIds.length === 0) throw new Error('instantNode needs at least one token id');
  let generated = 0;
  return {
    nodeId: 'instant-node',
    generated: () => generated,
    async *generate(request: NodeGenerateRequest, signal?: AbortSignal): AsyncGenerator<NodeEvent> {
      generated++;
      yield* eachChoice(request, async function* (): AsyncGenerator<NodeEvent> {
        let produced = 0;
        for (; produced < request.sampling.max_tokens; produced++) {
          if (signal?.aborted) break;
          yield { type: 'token', token: tokenIds[produced % tokenIds.length]! };
        }
        const reason = produced < request.sampling.max_tokens ? 'cancelled' : 'length';
        yield { type: 'done', reason, promptTokens: request.promptTokens.length, completionTokens: produced };
      });
    },
    residency: async () => [],
    close: async () => {},
  };
}
