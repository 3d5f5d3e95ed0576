// The cluster under test: a throwaway PostgreSQL (durable settings) and
// redis-server, and two real nodes (dist/server/main.js) as child processes,
// each with two mediasoup workers, delivering webhooks to the bench's receiver.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { processTree } from '../signaling/procstat.js';
import { freePort } from '../../test/support/net.js';
import { startPostgres, type PostgresServer } from '../../test/support/postgres.js';
import { spawnServer, type ServerProcess } from '../../test/support/process.js';
import { startRedis, type RedisServer } from '../../test/support/redis.js';
import { basicAuth } from '../../test/support/server.js';

export const NODE_IDS = ['faults-a', 'faults-b'] as const;
export const WEBHOOK_SECRET = 'faults-bench-webhook-secret';

export interface ClusterNodeHandle {
  id: string;
  url: string;
  proc: ServerProcess;
}

export interface NodeHealth {
  http: number;
  status: string;
  database: string;
}

export interface Cluster {
  pg: PostgresServer;
  redis: RedisServer;
  nodes: ClusterNodeHandle[];
  env: Record<string, string>;
  /** GET /health of a node (null: no answer within 2 s). */
  health(node: ClusterNodeHandle): Promise<NodeHealth | null>;
  /** Room name -> node id, from GET /api/v1/cluster (null while the registry is unavailable). */
  roomOwners(): Promise<Map<string, string> | null>;
  /** The node's mediasoup worker processes (children with the worker binary's name). */
  mediasoupWorkers(node: ClusterNodeHandle): number[];
  stop(): Promise<void>;
  /** Synchronous last resort at exit: nothing we started may outlive the bench. */
  killAllSync(): void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

export async function startCluster(opts: {
  webhookUrl: string;
  serverEnv: Record<string, string>;
  log: (m: string) => void;
}): Promise<Cluster> {
  const tmp = mkdtempSync(path.join(tmpdir(), 'switchboard-faults-'));
  opts.log('starting PostgreSQL (durable settings) and redis-server');
  // Durable defaults (fsync on, synchronous commit): an acknowledged row must survive.
  const [pg, redis] = await Promise.all([startPostgres({ settings: ['max_connections=200'] }), startRedis()]);
  const env: Record<string, string> = {
    REDIS_URL: redis.url,
    DATABASE_URL: pg.url,
    RTC_WORKERS: '2',
    RTC_PORT: '0',
    RTC_LISTEN_IP: '127.0.0.1',
    MEDIASOUP_LOG_LEVEL: 'error',
    WEBHOOK_URLS: opts.webhookUrl,
    WEBHOOK_SECRET,
    LOG_LEVEL: 'warn',
    // The load sends a few requests per second per connection at most; churn reconnects.
    RATE_LIMIT_PER_SECOND: '200',
    RATE_LIMIT_BURST: '400',
    DRAIN_TIMEOUT_SECONDS: '0',
    ...opts.serverEnv,
  };
  const nodes: ClusterNodeHandle[] = [];
  const cluster: Cluster = {
    pg,
    redis,
    nodes,
    env,
    async health(node) {
      try {
        const res = await fetch(`${node.url}/health`, { signal: AbortSignal.timeout(2000) });
        const body = (await res.json()) as { status?: string; database?: { status?: string } };
        return { http: res.status, status: body.status ?? '?', database: body.database?.status ?? '?' };
      } catch {
        return null;
      }
    },
    async roomOwners() {
      for (const node of nodes) {
        try {
          const res = await fetch(`${node.url}/api/v1/cluster`, {
            headers: { authorization: basicAuth() },
            signal: AbortSignal.timeout(3000),
          });
          if (!res.ok) continue;
          const view = (await res.json()) as { nodes: Array<{ id: string; room_names?: string[] }> };
          const owners = new Map<string, string>();
          for (const n of view.nodes) for (const r of n.room_names ?? []) owners.set(r, n.id);
          return owners;
        } catch {
          // try the other node
        }
      }
      return null;
    },
    mediasoupWorkers(node) {
      return processTree(node.proc.child.pid!).filter((pid) => comm(pid).startsWith('mediasoup-work'));
    },
    async stop() {
      await Promise.all(
        nodes.map(async (n) => {
          const child = n.proc.child;
          if (child.exitCode !== null || child.signalCode !== null) return;
          child.kill('SIGTERM');
          await Promise.race([n.proc.exited, sleep(10_000)]);
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        }),
      );
      await Promise.allSettled([pg.stop(), redis.stop()]);
      rmSync(tmp, { recursive: true, force: true });
    },
    killAllSync() {
      for (const n of nodes) {
        for (const pid of processTree(n.proc.child.pid!).reverse()) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone
          }
        }
      }
      const pgPid = pg.pid();
      if (pgPid) {
        try {
          process.kill(pgPid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      const redisPid = redis.pid();
      if (redisPid) {
        try {
          process.kill(redisPid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      rmSync(tmp, { recursive: true, force: true });
    },
  };
  try {
    for (const id of NODE_IDS) {
      const port = await freePort();
      opts.log(`starting node ${id} on port ${port}`);
      const proc = await spawnServer(
        { ...env, NODE_ID: id, PORT: String(port), DATA_DIR: path.join(tmp, id) },
        { readyUrl: `http://127.0.0.1:${port}/health`, maxOutputChars: 200_000 },
      );
      nodes.push({ id, url: proc.url, proc });
    }
    // Both nodes see each other before load starts.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const res = await fetch(`${nodes[0].url}/api/v1/cluster`, {
        headers: { authorization: basicAuth() },
        signal: AbortSignal.timeout(3000),
      })
        .then((r) => r.json() as Promise<{ nodes?: unknown[] }>)
        .catch(() => null);
      if (res?.nodes?.length === NODE_IDS.length) break;
      if (Date.now() > deadline) throw new Error('the nodes did not see each other within 30 s');
      await sleep(200);
    }
  } catch (err) {
    cluster.killAllSync();
    throw err;
  }
  return cluster;
}
