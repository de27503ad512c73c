import type { NodeEvent, NodeGenerateRequest } from '../../protocol/node-runtime.js';

/**
 * How a fake node serves a group (`request.seeds`, a request's n choices): `one` runs each choice in turn with
 * its seed, and every event of a group is tagged with its `choice`, as a real node's are; a single-choice
 * request runs once, untagged.
 */
export async function* eachChoice(request: NodeGenerateRequest, one: (seed: number, choice: number) => AsyncIterable<NodeEvent>): AsyncGenerator<NodeEvent> {
  const seeds = request.seeds ?? [request.sampling.seed];
  for (let choice = 0; choice < seeds.length; choice++) {
    for await (const event of one(seeds[choice]!, choice)) yield request.seeds ? { ...event, choice } : event;
  }
}
