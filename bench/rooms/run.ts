// Room-control benchmark against the real server process (signaling only,
// PGlite in a temp dir): a raise-hand storm, chat fan-out, and webhook
// delivery from the outbox to a local receiver. Prints a JSON record.
// Usage: node dist/bench/rooms/run.js [--viewers 300] [--messages 100] [--cycles 200]

import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignalingClient } from '../../clients/node/signalingClient.js';
import { TokenIssuer } from '../../server/edges/auth/tokens.js';
import { testKeys } from '../../test/support/keys.js';
import { freePort } from '../../test/support/net.js';
import { spawnServer } from '../../test/support/process.js';
import { basicAuth } from '../../test/support/server.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const VIEWERS = flag('viewers', 300);
const MESSAGES = flag('messages', 100);
const CYCLES = flag('cycles', 200);
const SECRET = 'bench-webhook-secret-0123';

function summary(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => (s.length ? Number(s[Math.min(s.length - 1, Math.floor(q * s.length))].toFixed(2)) : null);
  return { n: s.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1) };
}

const log = (msg: string) => process.stderr.write(`[bench:rooms] ${msg}\n`);

async function main(): Promise<void> {
  const keys = testKeys();
  const issuer = await TokenIssuer.fromPrivateKeyFile(keys.privateKeyFile, { audience: 'switchboard', issuer: null });
  const token = async (user: string, role: 'host' | 'viewer' | 'speaker') =>
    (await issuer.mint({ userId: user, role, ttlSeconds: 3600 })).token;

  // Webhook receiver: records receipt time per event.
  const received: Array<{ event: string; room: string; lagMs: number }> = [];
  const receiver = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const body = JSON.parse(raw);
      received.push({ event: body.event, room: body.room, lagMs: Date.now() - Date.parse(body.created_at) });
      res.writeHead(204).end();
    });
  });
  const hookPort = await freePort();
  await new Promise<void>((r) => receiver.listen(hookPort, '127.0.0.1', r));

  const dataDir = mkdtempSync(path.join(tmpdir(), 'switchboard-bench-rooms-'));
  const server = await spawnServer({
    DATA_DIR: dataDir,
    LOG_LEVEL: 'info', // spawnServer waits for 'switchboard listening'
    RATE_LIMIT_PER_SECOND: '100000',
    RATE_LIMIT_BURST: '100000',
    WEBHOOK_URLS: `http://127.0.0.1:${hookPort}/hook`,
    WEBHOOK_SECRET: SECRET,
    ROOM_EMPTY_TIMEOUT_SECONDS: '0',
  });
  const result: Record<string, unknown> = { viewers: VIEWERS, messages: MESSAGES, cycles: CYCLES, node: process.version };
  try {
    // A group room sized for the run (the group template holds 25).
    const made = await fetch(`${server.url}/api/v1/rooms`, {
      method: 'POST',
      headers: { authorization: basicAuth(), 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench-hands', type: 'group', max_participants: VIEWERS + 1 }),
    });
    if (made.status !== 201) throw new Error(`room create: HTTP ${made.status}`);
    log(`joining ${VIEWERS} viewers and a host`);
    const host = await SignalingClient.connect(server.url);
    await host.request('auth', { token: await token('host', 'host') });
    await host.request('join', { room: 'bench-hands' });
    const viewers = await Promise.all(
      Array.from({ length: VIEWERS }, async (_, i) => {
        const c = await SignalingClient.connect(server.url);
        await c.request('auth', { token: await token(`v${i}`, 'viewer') });
        await c.request('join', { room: 'bench-hands' }, 60_000);
        return c;
      }),
    );

    // A: every viewer raises at once; ack latency and time until the host's queue is complete.
    log('raise-hand storm');
    const full = host.next('hand-queue', (q) => q.hands.length === VIEWERS, 120_000);
    const t0 = performance.now();
    const acks = await Promise.all(
      viewers.map(async (c) => {
        const s = performance.now();
        await c.request('raise-hand', {}, 120_000);
        return performance.now() - s;
      }),
    );
    await full;
    result['raise_hand'] = { ack_ms: summary(acks), all_queued_ms: Number((performance.now() - t0).toFixed(1)) };
    log(`raise-hand: ${JSON.stringify(result['raise_hand'])}`);
    // Drain queued hand-queue events so the chat phase measures only chat.
    await new Promise((r) => setTimeout(r, 2000));

    // B: chat fan-out: the host sends MESSAGES messages to the room; latency per delivery.
    log('chat fan-out');
    const lat: number[] = [];
    const waits = viewers.map((c) =>
      (async () => {
        for (let m = 0; m < MESSAGES; m++) {
          const d = await c.next('data', (x) => x.topic === 'chat', 60_000);
          lat.push(Date.now() - (d.data as { t: number }).t);
        }
      })(),
    );
    const c0 = performance.now();
    for (let m = 0; m < MESSAGES; m++) await host.request('send-data', { topic: 'chat', data: { t: Date.now(), m } });
    await Promise.all(waits);
    const chatSeconds = (performance.now() - c0) / 1000;
    result['chat'] = { deliveries: lat.length, deliveries_per_second: Math.round(lat.length / chatSeconds), latency_ms: summary(lat) };
    log(`chat: ${JSON.stringify(result['chat'])}`);
    await host.close();
    await Promise.all(viewers.map((c) => c.close()));

    // C: webhooks: CYCLES join+leave cycles over 20 rooms; receipt lag from event creation.
    log('webhooks');
    await new Promise((r) => setTimeout(r, 3000));
    const client = await SignalingClient.connect(server.url);
    await client.request('auth', { token: await token('cycler', 'speaker') });
    const w0 = performance.now();
    for (let i = 0; i < CYCLES; i++) {
      await client.request('join', { room: `bench-hook-${i % 20}` });
      await client.request('leave', {});
    }
    const expected = CYCLES * 4; // room_started, joined, left, room_finished
    const mine = () => received.filter((r) => r.room.startsWith('bench-hook-')); // late events of the earlier phases are not counted
    const deadline = Date.now() + 120_000;
    while (mine().length < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const seconds = (performance.now() - w0) / 1000;
    const got = mine();
    result['webhooks'] = {
      events: got.length,
      expected,
      seconds: Number(seconds.toFixed(2)),
      events_per_second: Math.round(got.length / seconds),
      lag_ms: summary(got.map((r) => r.lagMs)),
    };
    log(`webhooks: ${JSON.stringify(result['webhooks'])}`);
    await client.close();
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
    receiver.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
}

main().catch((err) => {
  process.stderr.write(`${err?.stack ?? err}\n`);
  process.exit(1);
});
