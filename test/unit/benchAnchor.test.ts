// The signaling bench's anchor (--baseline bare): the bare hub answers what
// the generators and the probe send, and the ratios say when they are not a
// result. No timing here: the numbers belong to the bench.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { importPKCS8, SignJWT } from 'jose';
import { WebSocket } from 'ws';
import { compareTargets, pair, ratioTable } from '../../bench/signaling/anchor.js';
import type { Options } from '../../bench/signaling/args.js';
import type { HoldRecord, JoinRecord, RelayEntry } from '../../bench/signaling/steps.js';
import { eventually, freePort } from '../support/net.js';

const HUB = fileURLToPath(new URL('../../bench/signaling/bareHub.js', import.meta.url));

type Frame = { type: string; id?: string; payload: Record<string, unknown> };

/** A raw client that keeps every frame it got. */
async function client(url: string): Promise<{ ws: WebSocket; frames: Frame[]; next: (type: string) => Promise<Frame> }> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const frames: Frame[] = [];
  ws.on('message', (data) => frames.push(JSON.parse(String(data)) as Frame));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const next = async (type: string) => (await eventually(() => frames.find((f) => f.type === type), 5000, type))!;
  return { ws, frames, next };
}

test('the bare hub: auth, join, peer-joined, offer relayed with from, ?token= and ping, /health', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bare-hub-'));
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  writeFileSync(path.join(dir, 'public.pem'), publicKey);
  const port = await freePort();
  const hub = spawn(process.execPath, [HUB], {
    env: { ...process.env, PORT: String(port), JWT_PUBLIC_KEY_FILE: path.join(dir, 'public.pem'), JWT_AUDIENCE: 'switchboard' },
    stdio: 'ignore',
  });
  try {
    const key = await importPKCS8(privateKey, 'RS256');
    const token = (sub: string, aud = 'switchboard') =>
      new SignJWT({ role: 'speaker' })
        .setProtectedHeader({ alg: 'RS256' })
        .setSubject(sub)
        .setAudience(aud)
        .setExpirationTime('1h')
        .sign(key);
    const base = `http://127.0.0.1:${port}`;
    await eventually(() => fetch(`${base}/health`).then((r) => r.ok), 10_000, 'the hub');

    const a = await client(`ws://127.0.0.1:${port}/ws?room=r1`);
    a.ws.send(JSON.stringify({ type: 'auth', id: '1', payload: { token: await token('alice') } }));
    a.ws.send(JSON.stringify({ type: 'join', id: '2', payload: { room: 'r1' } })); // queued behind the verification
    const ack = await a.next('ack');
    assert.is(ack.id, '1');
    const joinedA = await a.next('joined');
    assert.is(joinedA.id, '2');
    const alice = joinedA.payload['participant_id'] as string;
    assert.type(alice, 'string');

    // The token on the URL, as with --url-token.
    const b = await client(`ws://127.0.0.1:${port}/ws?room=r1&token=${await token('bob')}`);
    b.ws.send(JSON.stringify({ type: 'join', id: '2', payload: { room: 'r1' } }));
    const joinedB = await b.next('joined');
    const bob = joinedB.payload['participant_id'] as string;
    const state = joinedB.payload['room_state'] as { participants: Array<{ participant_id: string }> };
    assert.equal(state.participants.map((p) => p.participant_id).sort(), [alice, bob].sort());
    const peer = await a.next('peer-joined');
    assert.is((peer.payload['participant'] as { participant_id: string }).participant_id, bob);

    // The generators' offer, byte for byte their shape: it must arrive starting with {"type":"offer" and carry from.
    const raw: string[] = [];
    b.ws.on('message', (data) => raw.push(String(data)));
    a.ws.send(`{"type":"offer","payload":{"to":"${bob}","sdp":"ts=123;v=0\\r\\n"}}`);
    const offer = await b.next('offer');
    assert.equal(offer.payload, { to: bob, sdp: 'ts=123;v=0\r\n', from: alice });
    assert.ok(raw.find((t) => t.includes('"offer"'))!.startsWith('{"type":"offer"'));

    // The probe's ping.
    b.ws.send('{"type":"ping","id":"p1","payload":{}}');
    const pong = (await eventually(() => b.frames.find((f) => f.type === 'ack' && f.id === 'p1'), 5000, 'ping ack'))!;
    assert.type(pong.payload['server_time'], 'number');

    // A token for another audience is refused.
    const c = await client(`ws://127.0.0.1:${port}/ws`);
    c.ws.send(JSON.stringify({ type: 'auth', id: '1', payload: { token: await token('carol', 'elsewhere') } }));
    assert.is((await c.next('error')).payload['code'], 'unauthorized');

    const health = (await (await fetch(`${base}/health`)).json()) as {
      connections: number;
      participants: number;
      process: { pid: number };
    };
    assert.is(health.connections, 3);
    assert.is(health.participants, 2);
    assert.is(health.process.pid, hub.pid);
    b.ws.close();
    await a.next('peer-left');
    for (const x of [a, c]) x.ws.close();
  } finally {
    hub.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('anchor: ratio switchboard / bare, and a contended window is not a result', () => {
  assert.equal(pair(500, 2000), { switchboard: 500, bare: 2000, ratio: 0.25 });
  assert.equal(pair('n/a', 2000), { switchboard: null, bare: 2000, ratio: null });
  assert.is(pair(5, 0).ratio, null);

  const join = (joins: number, other: number, contended: boolean) =>
    ({
      joins_per_s: joins,
      server_cpu_us_per_join: 1_000_000 / joins,
      latency_ms: { total: { p99: 10 } },
      other_busy_pct: other,
      contended,
      machine_saturated: false,
    }) as unknown as JoinRecord;
  const hold = { rss_kib_per_connection: 8, heap_kib_per_connection: 6, other_busy_pct: 1, contended: false } as unknown as HoldRecord;
  const relay = (p99: number, contended: boolean) =>
    [
      { target_rate: 10_000, latency_ms: { p50: 1, p90: 2, p99, p999: 40 }, server_cpu_us_per_msg: 20, other_busy_pct: 5, contended },
    ] as unknown as RelayEntry[];
  const opts = { quietThreshold: 30 } as Options;

  const a = compareTargets(
    { join: join(1000, 3, false), hold, relay: relay(20, false) },
    { join: join(4000, 45, true), hold, relay: relay(10, false) },
    opts,
  );
  assert.is(a.join.joins_per_s.ratio, 0.25);
  assert.is(a.join.server_cpu_us_per_join.ratio, 4);
  assert.ok(a.join.contended, 'the bare side was contended');
  assert.match(a.join.note ?? '', /not a result/);
  assert.equal(a.join.other_busy_pct, { switchboard: 3, bare: 45 });
  assert.is(a.relay[0].p99_ms.ratio, 2);
  assert.is(a.relay[0].ran_first, 'switchboard');
  assert.not.ok(a.relay[0].contended);

  const table = ratioTable([{ name: 'full', anchor: a }]);
  assert.ok(table.some((l) => /joins\/s/.test(l) && /CONTENDED: not a result/.test(l)));
  assert.ok(table.some((l) => /relay 10000\/s/.test(l) && /p99 ms/.test(l) && !/CONTENDED/.test(l)));
  assert.equal(ratioTable([{ name: 'small' }]), []);
});

test.run();
