import { formatBytes } from '../format.js';
import type { OpsGpu, OpsNode } from '../../../platform/ops/ops-types.js';

/** Each node with its device slots: memory split into weights, KV and free, and its host pool. */
export function NodesPanel({ nodes }: { nodes: readonly OpsNode[] | undefined }) {
  return (
    <section class="panel" data-panel="nodes">
      <header>
        <h2>Nodes and devices</h2>
      </header>
      {!nodes ? (
        <p class="empty">Waiting for the first state report…</p>
      ) : nodes.length === 0 ? (
        <p class="empty">No nodes registered.</p>
      ) : (
        nodes.map((node) => (
          <div class="node" data-node={node.id} key={node.id}>
            <h3>
              {node.id} <span class={`status status-${node.status}`}>{node.status}</span>
            </h3>
            {node.gpus.map((gpu) => (
              <GpuMemory gpu={gpu} key={gpu.index} />
            ))}
            <MemoryBar label="host pool" total={node.hostPool.capacityBytes} parts={[{ name: 'used', bytes: node.hostPool.usedBytes, cls: 'host-used' }]} />
          </div>
        ))
      )}
    </section>
  );
}

function GpuMemory({ gpu }: { gpu: OpsGpu }) {
  return (
    <div class="gpu" data-gpu={gpu.index}>
      <MemoryBar
        label={gpu.name}
        total={gpu.memoryBytes}
        parts={[
          { name: 'weights', bytes: gpu.weightsBytes, cls: 'weights' },
          { name: 'KV in use', bytes: gpu.kvUsedBytes, cls: 'kv' },
          { name: 'KV idle', bytes: Math.max(0, gpu.kvBytes - gpu.kvUsedBytes), cls: 'kv-idle' },
          { name: 'scratch', bytes: gpu.scratchBytes, cls: 'scratch' },
          { name: 'free', bytes: gpu.freeBytes, cls: 'free' },
        ]}
      />
      <p class="resident">{!gpu.up ? 'engine restarting' : gpu.resident.length > 0 ? `resident: ${gpu.resident.join(', ')}` : 'no model resident'}</p>
    </div>
  );
}

interface Part {
  readonly name: string;
  readonly bytes: number;
  readonly cls: string;
}

function MemoryBar({ label, total, parts }: { label: string; total: number; parts: readonly Part[] }) {
  const width = (bytes: number) => `${total > 0 ? Math.min(100, (bytes / total) * 100) : 0}%`;
  return (
    <div class="membar" data-membar={label}>
      <div class="membar-head">
        <span>{label}</span>
        <span class="dim">
          {parts.map((p) => `${p.name} ${formatBytes(p.bytes)}`).join(' · ')} of {formatBytes(total)}
        </span>
      </div>
      <div class="membar-track" role="img" aria-label={`${label} memory`}>
        {parts.map((p) => (
          <div class={`membar-part ${p.cls}`} style={{ width: width(p.bytes) }} title={`${p.name}: ${formatBytes(p.bytes)}`} />
        ))}
      </div>
    </div>
  );
}
