import { formatMs, formatPercent, functionColor } from '../format.js';
import type { OpsFunction } from '../../../platform/ops/ops-types.js';

const TIER_TITLE = { gpu: 'weights on a device (hot)', host: 'weights in host memory (warm)', store: 'weights only in the object store (cold)' };

/** One row per function: where its weights are, its SLO and how well it is met, and its queue. */
export function FunctionsPanel({ functions }: { functions: readonly OpsFunction[] | undefined }) {
  return (
    <section class="panel" data-panel="functions">
      <header>
        <h2>Functions</h2>
      </header>
      {!functions ? (
        <p class="empty">Waiting for the first state report…</p>
      ) : functions.length === 0 ? (
        <p class="empty">
          No functions deployed. Deploy one with <code>tidepool deploy functions/tiny-chat</code>.
        </p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Function</th>
              <th>Tier</th>
              <th class="num">SLO TTFT / TPOT</th>
              <th class="num">Attainment</th>
              <th class="num">Calls (5 min)</th>
              <th class="num">TTFT p50</th>
              <th class="num">TPOT p50</th>
              <th class="num">Queued</th>
              <th class="num">Running</th>
            </tr>
          </thead>
          <tbody>
            {functions.map((fn) => (
              <tr data-function={fn.name} key={fn.name}>
                <td>
                  <i class="swatch" style={{ background: functionColor(fn.name) }} />
                  {fn.name} {fn.version !== null && <span class="dim">v{fn.version}</span>}
                </td>
                <td>
                  <span class={`tier tier-${fn.tier}`} title={TIER_TITLE[fn.tier]}>
                    {fn.tier}
                  </span>
                </td>
                <td class="num">
                  {formatMs(fn.slo.ttft_ms)} / {formatMs(fn.slo.tpot_ms)}
                </td>
                <td class={`num ${attainmentClass(fn.attainment)}`}>{formatPercent(fn.attainment)}</td>
                <td class="num">{fn.invocations5m}</td>
                <td class={`num ${overClass(fn.ttftP50Ms, fn.slo.ttft_ms)}`}>{formatMs(fn.ttftP50Ms)}</td>
                <td class={`num ${overClass(fn.tpotP50Ms, fn.slo.tpot_ms)}`}>{formatMs(fn.tpotP50Ms)}</td>
                <td class="num">{fn.queueDepth}</td>
                <td class="num">{fn.running}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function attainmentClass(attainment: number | null): string {
  if (attainment === null) return '';
  return attainment >= 0.99 ? 'good' : attainment >= 0.9 ? 'warn' : 'bad';
}

/** Red when a measured latency exceeds its SLO. */
export function overClass(ms: number | null, sloMs: number): string {
  if (ms === null) return '';
  return ms <= sloMs ? 'good' : 'bad';
}
