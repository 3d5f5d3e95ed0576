// A throwaway PostgreSQL for `--start-postgres`: initdb in a temp dir owned by
// the postgres user (initdb refuses root), started on a free loopback port.
// Durable defaults (fsync on) unless settings say otherwise.

import { execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';

export interface BenchPostgres {
  url: string;
  version: string;
  settings: string[];
  /** postmaster pid (its children are the backends). */
  pid(): number | null;
  stop(): Promise<void>;
}

function binDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (existsSync(path.join(root, v, 'bin', 'initdb'))) return path.join(root, v, 'bin');
  throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql');
}

const asPostgres = (cmd: string, args: string[]): [string, string[]] =>
  process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];

export async function startPostgres(port: number, settings: string[]): Promise<BenchPostgres> {
  const bin = binDir();
  const dir = mkdtempSync(path.join(tmpdir(), 'switchboard-bench-pg-'));
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
  }
  const data = path.join(dir, 'data');
  const [initCmd, initArgs] = asPostgres(path.join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8']);
  execFileSync(initCmd, initArgs, { stdio: 'ignore' });
  const conf = settings.flatMap((s) => ['-c', s]);
  const [cmd, args] = asPostgres(path.join(bin, 'postgres'), [
    '-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', ...conf,
  ]);
  const child = spawn(cmd, args, { stdio: 'ignore' });
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const deadline = Date.now() + 30_000;
  let version = '';
  for (;;) {
    if (child.exitCode !== null) throw new Error(`postgres exited with code ${child.exitCode}`);
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      version = (await client.query('SHOW server_version')).rows[0].server_version;
      await client.end();
      break;
    } catch (err) {
      await client.end().catch(() => {});
      if (Date.now() > deadline) throw new Error(`postgres did not become ready: ${String(err)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const pid = () => {
    try {
      return Number(readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]) || null;
    } catch {
      return null;
    }
  };
  return {
    url,
    version,
    settings,
    pid,
    async stop() {
      const p = pid();
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        try {
          if (p) process.kill(p, 'SIGINT'); // fast shutdown
          else child.kill('SIGINT');
        } catch {
          // already gone
        }
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
        if (child.exitCode === null && p) {
          try {
            process.kill(p, 'SIGKILL');
          } catch {
            // gone
          }
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
