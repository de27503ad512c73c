import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { Registry } from 'prom-client';
import { startNodeAgent, type NodeAgent } from '../runtime/cluster/node-agent.js';
import { startNodeServer, type NodeServer } from '../runtime/cluster/node-server.js';
import type { LocalNodeRuntime } from '../runtime/node.js';
import { clusterInternalRoutes, clusterPublicRoutes } from '../platform/api/cluster-routes.js';
import type { TidepoolConfig } from '../platform/config.js';
import { startNodeRuntime } from './start-node-runtime.js';
import { createControlPlane, type ControlPlane } from '../platform/control-plane.js';
import type { Database } from '../platform/db/database.js';
import { openDatabase } from '../platform/db/open-database.js';
import { storeBlobs } from '../platform/functions/store-blobs.js';
import { createClusterRouter } from '../platform/router/cluster-router.js';
import { createWarmHoldSync } from '../platform/router/warm-hold-sync.js';
import { createObjectStore } from '../platform/storage/create-object-store.js';
import { CliError } from './cli-error.js';
import { crashLeftovers, sweepPartialUploads } from './crash-leftovers.js';
import { nodeIdOf } from './node-id.js';
import { storeBlobSource } from '../platform/storage/blob-store.js';
import type { Logger } from '../protocol/logger.js';
import { instanceShmDir } from '../runtime/pool/shm-namespace.js';

export interface ServeMode {
  readonly url: string;
  readonly plane: ControlPlane;
  readonly database: Database;
  close(): Promise<void>;
  /**
   * SIGTERM: as `tidepool up` does it (see `ControlPlane.shutdown`): new requests get 503 `shutting_down`,
   * in-flight ones get `graceMs`, records are flushed; then the database closes.
   */
  shutdown(graceMs: number): Promise<void>;
}

/**
 * `tidepool serve`: the control plane alone. State lives in PostgreSQL (functions, nodes, invocations) and the
 * object store, so any number of replicas can run side by side; nodes register over HTTP.
 */
export async function startServe(config: TidepoolConfig, log: Logger): Promise<ServeMode> {
  if (!config.databaseUrl) {
    throw new CliError(
      'serve needs PostgreSQL: set DATABASE_URL (the embedded PGlite database cannot be shared between processes, so it only serves `tidepool up`)',
    );
  }
  const token = requireToken(config);
  if (config.s3Bucket === undefined) await mkdir(config.dataDir, { recursive: true });
  const database = await openDatabase({ databaseUrl: config.databaseUrl });
  try {
    const registry = new Registry();
    const router = createClusterRouter({
      db: database.db,
      token,
      downAfterMs: config.nodeDownAfterMs,
      downRetentionMs: config.nodeDownRetentionMs,
      registry,
      log,
    });
    // min_warm holds converge from the database: every heartbeat that reports other holds gets the wanted set.
    const warmHolds = createWarmHoldSync({ db: database.db, token, downAfterMs: config.nodeDownAfterMs, log });
    // Names the replica that answered `cluster status`: routing counts are per replica.
    let replica = hostname();
    const routeOptions = {
      db: database.db,
      token,
      downAfterMs: config.nodeDownAfterMs,
      heartbeatMs: config.nodeHeartbeatMs,
      routing: () => ({ replica, ...router.routing() }),
      warmHolds,
    };
    const store = createObjectStore(config);
    await sweepPartialUploads(store, log);
    const plane = createControlPlane({
      database,
      blobs: storeBlobs(store),
      router,
      registry,
      maxBodyBytes: config.maxBodyBytes,
      maxUploadBytes: config.maxUploadBytes,
      apiKey: config.apiKey,
      metricsPublic: config.metricsPublic,
      log,
      clusterRoutes: { internal: clusterInternalRoutes(routeOptions), public: clusterPublicRoutes(routeOptions) },
      leftovers: crashLeftovers(store),
    });
    const url = await plane.listen(config.port, config.host);
    replica = `${hostname()}:${new URL(url).port}`;
    void warmHolds.syncAll().catch((error: Error) => log.warn(`warm holds at start-up: ${error.message}`));
    // Silent nodes are marked down (and long-down ones removed) even when no request arrives to trigger a read.
    const sweep = setInterval(
      () => void router.refresh().catch((error: Error) => log.warn(`node sweep: ${error.message}`)),
      Math.max(250, config.nodeHeartbeatMs),
    );
    sweep.unref();
    return {
      url,
      plane,
      database,
      async close() {
        clearInterval(sweep);
        await plane.close().catch((error: Error) => log.error(`shutdown: ${error.message}`));
        await database.close();
      },
      async shutdown(graceMs) {
        clearInterval(sweep);
        await plane.shutdown(graceMs).catch((error: Error) => log.error(`shutdown: ${error.message}`));
        await database.close();
      },
    };
  } catch (error) {
    await database.close();
    throw error;
  }
}

export interface NodeMode {
  readonly node: LocalNodeRuntime;
  readonly server: NodeServer;
  readonly agent: NodeAgent;
  /** The address the control plane was given. */
  readonly address: string;
  /** Stops at once (a fatal error): in-flight generations are cut. */
  close(): Promise<void>;
  /**
   * SIGTERM: new generations are refused (the control plane's router retries them on another node), the
   * control plane is told this node is `draining`, generations in flight get `graceMs` to finish (then they
   * are cut), and the engine stops. Resolves with how many were cut.
   */
  shutdown(graceMs: number): Promise<{ readonly cut: number }>;
}

/**
 * `tidepool node --control-plane <url>`: one node runtime (host pool, engine, scheduler) behind its internal
 * HTTP API on `TIDEPOOL_NODE_PORT`, registered with the control plane and heartbeating every
 * `TIDEPOOL_NODE_HEARTBEAT_MS`.
 */
export async function startNode(config: TidepoolConfig, controlPlaneUrl: string, log: Logger, onFatal: (error: Error) => void): Promise<NodeMode> {
  const token = requireToken(config);
  if (config.s3Bucket === undefined) await mkdir(config.dataDir, { recursive: true });
  const advertiseHost = config.nodeAdvertiseHost ?? hostname();
  const nodeId = nodeIdOf(config);
  const node = await startNodeRuntime(config, {
    nodeId,
    fetchBlob: storeBlobSource(createObjectStore(config)),
    shmDir: instanceShmDir(config.shmDir, { nodeId }),
    registry: new Registry(),
    log,
  });
  let server: NodeServer | undefined;
  try {
    let draining = false;
    let registered = false;
    // The node listens on TIDEPOOL_HOST (0.0.0.0 in containers) and advertises TIDEPOOL_NODE_ADVERTISE_HOST.
    // Ready means routable: registered, not draining, and an engine is up (the node's device router avoids
    // devices whose engine restarts, so one live device can serve).
    const ready = () => registered && !draining && node.devices.some((_, device) => node.enginePid(device) !== undefined);
    server = await startNodeServer({ node, token, host: config.host, port: config.nodePort, ready, log });
    const address = `http://${advertiseHost.includes(':') ? `[${advertiseHost}]` : advertiseHost}:${server.port}`;
    const agent = startNodeAgent({
      node,
      controlPlaneUrl,
      token,
      heartbeatMs: config.nodeHeartbeatMs,
      log,
      onFatal,
      describe: () => ({
        address,
        backend: node.backend,
        gpus: node.backend === 'cuda' ? node.devices.map((d, index) => ({ index, ordinal: d.ordinal, name: d.name, memoryBytes: d.memoryBytes })) : [],
        hostPoolBytes: config.hostPoolBytes,
      }),
    });
    void agent.registered.then(
      () => (registered = true),
      () => {},
    );
    const srv = server;
    return {
      node,
      server: srv,
      agent,
      address,
      async close() {
        draining = true;
        await agent.stop();
        await srv.close();
        await node.close();
      },
      async shutdown(graceMs) {
        draining = true;
        // Refusing first means a request routed from a replica's cached node list still gets a retryable 503.
        const drained = srv.drain(graceMs);
        await agent.stop();
        const { cut } = await drained;
        if (cut > 0) log.warn(`shutdown: ${cut} generation(s) still running after ${graceMs} ms; cut them`);
        await node.close();
        return { cut };
      },
    };
  } catch (error) {
    await server?.close();
    await node.close();
    throw error;
  }
}

function requireToken(config: TidepoolConfig): string {
  if (!config.clusterToken) throw new CliError('cluster mode needs TIDEPOOL_CLUSTER_TOKEN: the same secret on every control-plane replica and node');
  return config.clusterToken;
}
