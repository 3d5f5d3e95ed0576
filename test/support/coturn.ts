// A throwaway coturn (`turnserver`, Debian's coturn package, installed by
// scripts/setup.sh) for tests, on a free loopback port, checking TURN REST API
// credentials (`--use-auth-secret --static-auth-secret`) as a deployment
// would. Relays on 127.0.0.1 only and to loopback peers (which coturn refuses
// by default), so nothing leaves `lo`. Ready once it answers a STUN binding
// request.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, sleep } from './net.js';

export interface CoturnServer {
  port: number;
  /** The TURN REST API shared secret it checks credentials with. */
  secret: string;
  realm: string;
  /** Everything it logged so far (`--log-file=stdout`). */
  output(): string;
  stop(): Promise<void>;
}

/** One STUN Binding request over UDP; true when a Binding success response comes back. */
export function stunBinding(port: number, timeoutMs = 300): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createSocket('udp4');
    const txn = randomBytes(12);
    // RFC 5389 header: type 0x0001 (Binding request), length 0, magic cookie, transaction id.
    const request = Buffer.concat([Buffer.from([0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42]), txn]);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.close();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.on('message', (msg) => done(msg.length >= 20 && msg.readUInt16BE(0) === 0x0101 && msg.subarray(8, 20).equals(txn)));
    sock.on('error', () => done(false));
    sock.send(request, port, '127.0.0.1');
  });
}

export async function startCoturn(opts: { secret?: string; realm?: string } = {}): Promise<CoturnServer> {
  const secret = opts.secret ?? randomBytes(24).toString('base64url');
  const realm = opts.realm ?? 'switchboard.test';
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'switchboard-coturn-'));
  // Relay ports: a small range of their own (a test needs a few allocations).
  const minPort = 49152 + Math.floor(Math.random() * 150) * 100;
  const args = [
    '-n', // no configuration file: only these flags
    `--listening-ip=127.0.0.1`,
    `--relay-ip=127.0.0.1`,
    `--listening-port=${port}`,
    `--min-port=${minPort}`,
    `--max-port=${minPort + 99}`,
    '--use-auth-secret',
    `--static-auth-secret=${secret}`,
    `--realm=${realm}`,
    '--fingerprint',
    '--allow-loopback-peers', // the peers are on 127.0.0.1 too
    '--no-cli',
    '--no-tls',
    '--no-dtls',
    '--no-tcp-relay',
    '--no-software-attribute',
    '--log-file=stdout',
    '--simple-log',
    `--pidfile=${path.join(dir, 'turnserver.pid')}`,
    `--userdb=${path.join(dir, 'turndb')}`,
  ];
  const child: ChildProcess = spawn('turnserver', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d));
  child.stderr?.on('data', (d: Buffer) => (output += d));
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  let failed: Error | null = null;
  void spawnError.then((err) => (failed = err));
  // A test process that dies leaves no turnserver behind.
  const onExit = () => child.kill('SIGKILL');
  process.once('exit', onExit);

  const stop = async () => {
    process.off('exit', onExit);
    if (child.exitCode === null && child.signalCode === null && !failed) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 10_000;
  for (;;) {
    if (failed || child.exitCode !== null) {
      await stop();
      const why = failed ? String(failed) : `exited with code ${child.exitCode}`;
      throw new Error(`turnserver ${why} (is coturn installed? run scripts/setup.sh)\n${output}`);
    }
    if (await stunBinding(port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`turnserver did not answer STUN on 127.0.0.1:${port}\n${output}`);
    }
    await sleep(50);
  }
  return { port, secret, realm, output: () => output, stop };
}
