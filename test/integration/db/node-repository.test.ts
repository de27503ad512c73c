import { expect, it } from 'vitest';
import { deleteNode, getNode, heartbeatNode, listNodes, markSilentNodesDown, upsertNode } from '../../../platform/db/repositories/node-repository.js';
import { withDatabases } from '../../helpers/databases.js';

const gpus = [{ index: 0, name: 'NVIDIA H100', memoryBytes: 80 * 2 ** 30 }];

withDatabases(({ database }) => {
  it('registers a node and refreshes it on re-registration without losing registered_at', async () => {
    const { db } = database();
    const first = new Date('2026-01-01T00:00:00Z');
    const later = new Date('2026-01-01T00:05:00Z');
    await upsertNode(db, { id: 'node-reg', address: 'http://10.0.0.1:8081', backend: 'cuda', gpus, hostPoolBytes: 64 * 2 ** 30, state: 'ready' }, first);
    const again = await upsertNode(
      db,
      { id: 'node-reg', address: 'http://10.0.0.2:8081', backend: 'cuda', gpus, hostPoolBytes: 64 * 2 ** 30, state: 'ready' },
      later,
    );
    expect(again).toMatchObject({ address: 'http://10.0.0.2:8081', hostPoolBytes: 64 * 2 ** 30, gpus, heartbeatAt: later, registeredAt: first });
    expect(await getNode(db, 'node-reg')).toEqual(again);
  });

  it('records heartbeats and marks silent nodes down', async () => {
    const { db } = database();
    const start = new Date('2030-01-01T00:00:00Z');
    await upsertNode(db, { id: 'node-hb-live', address: 'a', backend: 'cpu', gpus: [], hostPoolBytes: 1, state: 'ready' }, start);
    await upsertNode(db, { id: 'node-hb-silent', address: 'b', backend: 'cpu', gpus: [], hostPoolBytes: 1, state: 'ready' }, start);
    expect(await heartbeatNode(db, 'node-hb-live', { now: new Date('2030-01-01T00:01:00Z'), state: 'draining' })).toBe(true);
    expect(await heartbeatNode(db, 'node-unknown')).toBe(false);
    const live = await listNodes(db, { heartbeatSince: new Date('2030-01-01T00:00:30Z') });
    expect(live.map((node) => node.id)).toEqual(['node-hb-live']);
    expect(live[0]?.state).toBe('draining');
    expect(await markSilentNodesDown(db, new Date('2030-01-01T00:00:30Z'))).toBeGreaterThanOrEqual(1);
    expect((await getNode(db, 'node-hb-silent'))?.state).toBe('down');
    expect((await listNodes(db, { state: 'down' })).map((node) => node.id)).toContain('node-hb-silent');
    expect(await deleteNode(db, 'node-hb-silent')).toBe(true);
    expect(await getNode(db, 'node-hb-silent')).toBeNull();
  });
});
