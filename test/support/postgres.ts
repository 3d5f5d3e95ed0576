// A throwaway PostgreSQL server for tests and benchmarks: initdb in a temp
// dir, started on a free loopback port as the postgres user (initdb refuses
// to run as root).

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './net.js';

export interface PostgresServer {
  url: string;
  version: string;
  /** The `-c` settings the server was started with. */
  settings: string[];
  /** postmaster pid (its children are the backends). */
  pid(): number | null;
  /**
   * Fast shutdown (SIGINT: clients disconnected, a clean checkpoint), keeping
   * the data directory; `start()` runs it again on the same port and data.
   */
  shutdown(): Promise<void>;
  /** Starts it again after shutdown(); resolves when it accepts connections. */
  start(): Promise<void>;
  /** Shuts down and removes the data directory. */
  stop(): Promise<void>;
}

/** Tests trade durability for speed; benchmarks pass their own settings. */
export const FAST_SETTINGS = ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off', 'max_connections=200'];

function binDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (existsSync(path.join(root, v, 'bin', 'initdb'))) return path.join(root, v, 'bin');
  throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql (run scripts/setup.sh)');
}

function asPostgres(cmd: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
}

/** Waits until the server answers; returns its version. */
async function waitReady(url: string, child: ChildProcess, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`postgres exited with code ${child.exitCode}`);
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      const version = (await client.query('SHOW server_version')).rows[0].server_version as string;
      await client.end();
      return version;
    } catch (err) {
      await client.end().catch(() => {});
      if (Date.now() > deadline) throw new Error(`postgres did not become ready: ${String(err)}`, { cause: err });
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export async function startPostgres(opts: { settings?: string[]; port?: number } = {}): Promise<PostgresServer> {
  const settings = opts.settings ?? FAST_SETTINGS;
  const bin = binDir();
  const dir = mkdtempSync(path.join(tmpdir(), 'switchboard-pg-'));
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
  }
  const data = path.join(dir, 'data');
  const [initCmd, initArgs] = asPostgres(path.join(bin, 'initdb'), [
    '-D',
    data,
    '-A',
    'trust',
    '-U',
    'postgres',
    '--no-sync',
    '-E',
    'UTF8',
  ]);
  execFileSync(initCmd, initArgs, { stdio: 'ignore' });
  const port = opts.port ?? (await freePort());
  const launch = (): ChildProcess => {
    const [cmd, args] = asPostgres(path.join(bin, 'postgres'), [
      '-D',
      data,
      '-p',
      String(port),
      '-k',
      dir,
      '-c',
      'listen_addresses=127.0.0.1',
      ...settings.flatMap((s) => ['-c', s]),
    ]);
    return spawn(cmd, args, { stdio: 'ignore' });
  };
  let child = launch();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const version = await waitReady(url, child, 30_000);
  const pid = () => {
    try {
      return Number(readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]) || null;
    } catch {
      return null;
    }
  };
  const shutdown = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    // Signal the postmaster itself (runuser does not pass SIGINT on); SIGINT = fast shutdown.
    const p = pid();
    try {
      if (p) process.kill(p, 'SIGINT');
      else child.kill('SIGINT');
    } catch {
      // already gone
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (child.exitCode === null && child.signalCode === null) {
      try {
        if (p) process.kill(p, 'SIGKILL');
        child.kill('SIGKILL');
      } catch {
        // gone
      }
    }
  };
  return {
    url,
    version,
    settings,
    pid,
    shutdown,
    async start() {
      if (child.exitCode === null && child.signalCode === null) return;
      child = launch();
      await waitReady(url, child, 30_000);
    },
    async stop() {
      await shutdown();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
