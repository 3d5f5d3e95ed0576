// Cluster: several real nodes in one test, in-process, on loopback,
// sharing one throwaway PostgreSQL and one redis-server. Heartbeats are fast
// so deaths are noticed within about a second.

import { startPostgres, type PostgresServer } from './postgres.js';
import { startRedis, type RedisServer } from './redis.js';
import { startServer, type TestServer, type TestServerOptions } from './server.js';

export interface TestCluster {
  pg: PostgresServer;
  redis: RedisServer;
  nodes: TestServer[];
  /** Env every node of this cluster gets (for child-process nodes too). */
  env: Record<string, string>;
  addNode(id: string, opts?: TestServerOptions): Promise<TestServer>;
  stop(): Promise<void>;
}

/**
 * Fast beats for tests: a node silent for 3 s is dead (a TTL of 1 s let nodes
 * starved of CPU by a busy machine lose their rooms' leases; a killed node is
 * noticed faster anyway, by its channel having no subscriber).
 */
export const FAST_CLUSTER_ENV = {
  NODE_HEARTBEAT_MS: '250',
  NODE_TTL_MS: '3000',
  CLUSTER_REQUEST_TIMEOUT_MS: '3000',
  CLUSTER_REAP_GRACE_MS: '3000',
};

export async function startCluster(nodeIds: string[], opts: TestServerOptions = {}): Promise<TestCluster> {
  const [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
  const env = { REDIS_URL: redis.url, DATABASE_URL: pg.url, ...FAST_CLUSTER_ENV };
  const cluster: TestCluster = {
    pg,
    redis,
    nodes: [],
    env,
    async addNode(id, nodeOpts = {}) {
      const merged = { ...opts, ...nodeOpts };
      const node = await startServer({ ...merged, databaseUrl: pg.url, env: { ...env, NODE_ID: id, ...merged.env } });
      cluster.nodes.push(node);
      return node;
    },
    async stop() {
      await Promise.allSettled(cluster.nodes.map((n) => n.stop()));
      await Promise.allSettled([pg.stop(), redis.stop()]);
    },
  };
  try {
    for (const id of nodeIds) await cluster.addNode(id);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}
