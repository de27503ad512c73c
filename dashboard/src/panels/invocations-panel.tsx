import { formatClock, formatMs, functionColor } from '../format.js';
import type { OpsInvocation, OpsFunction } from '../../../platform/ops/ops-types.js';
import { overClass } from './functions-panel.js';

/** The latest invocations with their TTFT and TPOT, colored against their function's SLO. */
export function InvocationsPanel({ rows, functions }: { rows: readonly OpsInvocation[] | undefined; functions: readonly OpsFunction[] | undefined }) {
  const slo = new Map((functions ?? []).map((f) => [f.name, f.slo]));
  return (
    <section class="panel" data-panel="invocations">
      <header>
        <h2>Recent invocations</h2>
      </header>
      {!rows ? (
        <p class="empty">Waiting for invocation records…</p>
      ) : rows.length === 0 ? (
        <p class="empty">No invocations yet.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Time</th>
              <th>Function</th>
              <th>Status</th>
              <th class="num">Tokens</th>
              <th class="num">TTFT</th>
              <th class="num">TPOT</th>
              <th>SLO</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => {
              const target = slo.get(row.function);
              return (
                <tr key={row.id} data-invocation={row.id}>
                  <td class="dim">{formatClock(Date.parse(row.started_at))}</td>
                  <td>
                    <i class="swatch" style={{ background: functionColor(row.function) }} />
                    {row.function}
                  </td>
                  <td>{row.status}</td>
                  <td class="num">{row.completion_tokens}</td>
                  <td class={`num ${target ? overClass(row.ttft_ms, target.ttft_ms) : ''}`}>{formatMs(row.ttft_ms)}</td>
                  <td class={`num ${target ? overClass(row.tpot_ms, target.tpot_ms) : ''}`}>{formatMs(row.tpot_ms)}</td>
                  <td class={row.slo_met === null ? 'dim' : row.slo_met ? 'good' : 'bad'}>{row.slo_met === null ? '–' : row.slo_met ? 'met' : 'missed'}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
