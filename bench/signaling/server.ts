// The server under test (dist/server/main.js) as a child process: start,
// stop, its HTTP endpoints (/health, /metrics, the cluster view) and log.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../test/support/net.js';
import type { Options } from './args.js';
import { log, sleep } from './util.js';

const HERE = path.dirname(fileURLToPath(import.meta.url)); // dist/bench/signaling
export const REPO = path.resolve(HERE, '../../..');
export const SERVER_MAIN = path.join(REPO, 'dist/server/main.js');
/** The anchor of --baseline bare (bareHub.ts, compiled beside this file). */
export const BARE_HUB_MAIN = path.join(HERE, 'bareHub.js');
export const AUDIENCE = 'switchboard';

/** Every child process still running (server, generators): killed on the way out. */
export const children = new Set<ChildProcess>();

export interface Keys {
  privateKeyFile: string;
  publicKeyFile: string;
  privatePem: string;
}

/** What the bench reads of GET /health. */
export interface Health {
  connections?: number;
  participants?: number;
  process?: { pid?: number };
  [key: string]: unknown;
}

/** What is measured: the real server, or the bare hub of --baseline bare. */
export type TargetKind = 'switchboard' | 'bare';

export interface Server {
  kind: TargetKind;
  child: ChildProcess;
  pid: number;
  url: string;
  logFile: string;
  inspectPort: number | null;
  exitCode: number | null | undefined;
  /** REST credentials (the cluster view lists a multi-process node's processes). */
  apiAuth: string;
}

export async function startServer(
  opts: Options,
  tmp: string,
  name: string,
  connections: number,
  databaseUrl: string | null,
  keys: Keys,
  redisUrl: string | null,
): Promise<Server> {
  const port = await freePort();
  const apiSecret = randomBytes(24).toString('hex');
  const dataDir = path.join(tmp, `data-${name}`);
  mkdirSync(dataDir, { recursive: true });
  const logFile = path.join(tmp, `server-${name}.log`);
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    NODE_ID: `bench-${name}`,
    JWT_PUBLIC_KEY_FILE: keys.publicKeyFile,
    JWT_PRIVATE_KEY_FILE: keys.privateKeyFile,
    JWT_AUDIENCE: AUDIENCE,
    API_KEY: 'APIbench',
    API_SECRET: apiSecret,
    LOG_LEVEL: 'warn',
    MAX_CONNECTIONS: String(opts.maxConnections ?? connections + 100),
    // Multiproc: every process may take every room (placement skips a process at NODE_CAPACITY).
    NODE_PROCESSES: String(opts.processes),
    NODE_CAPACITY: String(connections + 100),
    DRAIN_TIMEOUT_SECONDS: '0', // SIGTERM at the end of a scenario: no waiting for rooms to finish
    RATE_LIMIT_PER_SECOND: String(opts.rateLimit),
    RATE_LIMIT_BURST: String(opts.rateLimit * 2),
    // Signaling only: no mediasoup workers (and if enabled with --server-env, loopback only).
    RTC_WORKERS: '0',
    RTC_LISTEN_IP: '127.0.0.1',
    ...opts.serverEnv,
  };
  delete env['DATABASE_URL'];
  delete env['REDIS_URL'];
  if (databaseUrl) env['DATABASE_URL'] = databaseUrl;
  if (redisUrl) env['REDIS_URL'] = redisUrl;
  return launch(opts, SERVER_MAIN, 'switchboard', port, env, logFile, `Basic ${Buffer.from(`APIbench:${apiSecret}`).toString('base64')}`);
}

/** The bare hub (bareHub.ts) on a free port, with the same tokens' public key and the server's node flags. */
export async function startBareHub(opts: Options, tmp: string, name: string, keys: Keys): Promise<Server> {
  const port = await freePort();
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    PORT: String(port),
    HOST: '127.0.0.1',
    JWT_PUBLIC_KEY_FILE: keys.publicKeyFile,
    JWT_AUDIENCE: AUDIENCE,
  };
  return launch(opts, BARE_HUB_MAIN, 'bare', port, env, path.join(tmp, `bare-${name}.log`), '');
}

/** Spawns `main` (with --inspect when --rss-gc is on) and waits until its /health answers. */
async function launch(
  opts: Options,
  main: string,
  kind: TargetKind,
  port: number,
  env: Record<string, string>,
  logFile: string,
  apiAuth: string,
): Promise<Server> {
  const fd = openSync(logFile, 'a');
  const inspectPort = opts.rssGc ? await freePort() : null;
  const flags = [...opts.serverNodeFlags, ...(inspectPort ? [`--inspect=127.0.0.1:${inspectPort}`] : [])];
  const child = spawn(process.execPath, [...flags, main], { cwd: REPO, env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  children.add(child);
  const server: Server = {
    kind,
    child,
    pid: child.pid!,
    url: `http://127.0.0.1:${port}`,
    logFile,
    inspectPort,
    exitCode: undefined,
    apiAuth,
  };
  child.once('exit', (code, signal) => {
    server.exitCode = code ?? (signal ? -1 : null);
    children.delete(child);
  });
  const multi = kind === 'switchboard' && opts.processes > 1;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (server.exitCode !== undefined) throw new Error(`${kind} exited (${server.exitCode}) during start: ${tail(logFile)}`);
    if ((await health(server)) !== null && (!multi || (await processViews(server)).length === opts.processes)) return server;
    if (Date.now() > deadline) throw new Error(`${kind} not ready after 120 s: ${tail(logFile)}`);
    await sleep(200);
  }
}

function tail(file: string, lines = 5): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join(' | ').slice(0, 2000);
  } catch {
    return '';
  }
}

/** GET /health (null when it fails: at the open-files limit the server cannot accept this either). */
async function health(server: Server): Promise<Health | null> {
  try {
    const res = await fetch(`${server.url}/health`, { signal: AbortSignal.timeout(5000) });
    return res.ok ? ((await res.json()) as Health) : null;
  } catch {
    return null;
  }
}

/** A few lines of GET /metrics (heap, server-side join time). */
async function metrics(server: Server): Promise<Record<string, number> | null> {
  try {
    const res = await fetch(`${server.url}/metrics`, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) return null;
    const text = await res.text();
    const out: Record<string, number> = {};
    for (const name of [
      'nodejs_heap_size_used_bytes',
      'nodejs_heap_size_total_bytes',
      'nodejs_external_memory_bytes',
      'switchboard_join_duration_seconds_sum',
      'switchboard_join_duration_seconds_count',
    ]) {
      const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text);
      if (m) out[name] = Number(m[1]);
    }
    return out;
  } catch {
    return null;
  }
}

export interface ProcessView {
  node_id: string;
  url: string;
  pid: number | null;
  connections: number | null;
  participants: number | null;
  /** Connections of this process relayed to rooms on another process (0 when routing kept rooms together). */
  relayed_connections: number | null;
}

/** The processes of a multi-process node (cluster view, then each one's own /health and /metrics). */
export async function processViews(server: Server): Promise<ProcessView[]> {
  try {
    const res = await fetch(`${server.url}/api/v1/cluster`, {
      headers: { authorization: server.apiAuth },
      signal: AbortSignal.timeout(5000),
    });
    if (!res.ok) return [];
    const view = (await res.json()) as { nodes: Array<{ id: string; signalingUrl: string }> };
    return await Promise.all(
      view.nodes.map(async (n) => {
        const h = await fetch(`${n.signalingUrl}/health`, { signal: AbortSignal.timeout(5000) })
          .then((r) => r.json() as Promise<Health>)
          .catch(() => null);
        const m = await fetch(`${n.signalingUrl}/metrics`, { signal: AbortSignal.timeout(5000) })
          .then((r) => r.text())
          .catch(() => '');
        const relayed = /^switchboard_cluster_relayed_connections (\S+)$/m.exec(m);
        return {
          node_id: n.id,
          url: n.signalingUrl,
          pid: h?.['process']?.['pid'] ?? null,
          connections: h?.['connections'] ?? null,
          participants: h?.['participants'] ?? null,
          relayed_connections: relayed ? Number(relayed[1]) : null,
        };
      }),
    );
  } catch {
    return [];
  }
}

/**
 * The bench's HTTP requests to the server, one at a time over one kept-alive
 * connection (a /health every 2 s keeps it open): at the open-files limit the
 * server could not accept a new one.
 */
export class Keeper {
  last: Health | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly server: Server) {
    this.timer = setInterval(() => void this.health(), 2000);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn);
    this.chain = p.catch(() => {});
    return p;
  }

  health(): Promise<Health | null> {
    return this.serial(async () => {
      const h = await health(this.server);
      if (h) this.last = h;
      return h;
    });
  }

  metrics(): Promise<Record<string, number> | null> {
    return this.serial(() => metrics(this.server));
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

export async function stopServer(server: Server): Promise<void> {
  if (server.exitCode !== undefined) return;
  const exited = new Promise<void>((r) => server.child.once('exit', () => r()));
  server.child.kill('SIGTERM');
  // The grace timer is unref'd: a server that stopped in time must not keep the bench alive for 20 s.
  let grace: NodeJS.Timeout | undefined;
  const late = new Promise<false>((r) => (grace = setTimeout(() => r(false), 20_000).unref()));
  const done = await Promise.race([exited.then(() => true), late]);
  clearTimeout(grace);
  if (!done) {
    log('server did not stop within 20 s of SIGTERM: SIGKILL');
    server.child.kill('SIGKILL');
    await exited;
  }
}

export function serverLogSummary(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  const lines = text
    .split('\n')
    .filter((l) => l && !/^(Debugger listening|For help, see|Debugger attached|Waiting for the debugger)/.test(l));
  const messages: Record<string, number> = {};
  let other = 0;
  for (const line of lines) {
    try {
      const rec = JSON.parse(line) as { msg?: string; level?: number };
      const key = `${rec.level ?? '?'}:${(rec.msg ?? '').slice(0, 80)}`;
      if (messages[key] !== undefined || Object.keys(messages).length < 12) messages[key] = (messages[key] ?? 0) + 1;
      else other++;
    } catch {
      other++;
    }
  }
  return { lines: lines.length, messages, other_lines: other };
}
