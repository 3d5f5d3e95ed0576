// A throwaway redis-server for tests and benchmarks, on a free loopback port,
// with no persistence (`--save "" --appendonly no`). `restart()` stops it and
// starts a fresh one on the same port: everything it held is gone, as after a
// real Redis crash without persistence.

import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { freePort, sleep } from './net.js';

export interface RedisServer {
  url: string;
  port: number;
  /** redis-server's pid (benchmarks read its CPU time). */
  pid(): number | null;
  /** Stops the server (SIGKILL: as abrupt as a crash). */
  kill(): Promise<void>;
  /** Starts it again on the same port (after kill()). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

function launch(port: number): ChildProcess {
  return spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'],
    {
      stdio: 'ignore',
    },
  );
}

/** Resolves once the port answers PING with PONG. */
async function waitReady(port: number, child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode} (is it installed? run scripts/setup.sh)`);
    const pong = await new Promise<boolean>((resolve) => {
      const sock = createConnection({ host: '127.0.0.1', port }, () => sock.write('PING\r\n'));
      sock.once('data', (d) => {
        sock.destroy();
        resolve(d.toString().startsWith('+PONG'));
      });
      sock.once('error', () => resolve(false));
    });
    if (pong) return;
    if (Date.now() > deadline) throw new Error('redis-server did not become ready');
    await sleep(50);
  }
}

async function killChild(child: ChildProcess | null): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  let child: ChildProcess | null = launch(port);
  // A test process that dies leaves no redis-server behind.
  process.once('exit', () => child?.kill('SIGKILL'));
  await waitReady(port, child);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: () => child?.pid ?? null,
    async kill() {
      await killChild(child);
      child = null;
    },
    async start() {
      if (child) return;
      child = launch(port);
      await waitReady(port, child);
    },
    async stop() {
      await killChild(child);
      child = null;
    },
  };
}
