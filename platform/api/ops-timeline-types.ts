import type { NodeTimeline } from '../../protocol/timeline-types.js';

/**
 * `GET /v1/ops/timeline`'s body, and the data of each `timeline` event on `/v1/ops/events` (there, each
 * node's `spans` holds only what the stream had not sent yet). Types only: the dashboard bundle imports it.
 */
export interface ClusterTimeline {
  /** Epoch ms on the control plane's clock when the answer was put together. */
  readonly nowMs: number;
  readonly nodes: readonly NodeTimeline[];
  /** Nodes that keep no timeline or did not answer; the dashboard names them instead of drawing gaps. */
  readonly unavailable: readonly { readonly nodeId: string; readonly message: string }[];
}
