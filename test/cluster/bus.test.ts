// The cluster bus and node registry against a real redis-server: requests,
// typed errors, timeouts, ordering, dead nodes, and a Redis restart.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Redis } from 'ioredis';
import { AppError } from '../../server/kernel/errors.js';
import { createLogger } from '../../server/kernel/logger.js';
import { RedisNodeBus } from '../../server/edges/cluster/nodeBus.js';
import { NodeRegistry } from '../../server/edges/cluster/nodeRegistry.js';
import { connectRedis, ready } from '../../server/edges/cluster/redis.js';
import { eventually, sleep } from '../support/net.js';
import { startRedis, type RedisServer } from '../support/redis.js';

const log = createLogger(process.env['TEST_LOG_LEVEL'] ?? 'silent');
type Ctx = { redis: RedisServer; closers: Array<() => Promise<unknown>> };
const test = suite<Ctx>('cluster bus and registry', {} as Ctx);

test.before(async (ctx) => {
  ctx.redis = await startRedis();
});
test.after(async (ctx) => ctx.redis.stop());
test.before.each((ctx) => {
  ctx.closers = [];
});
test.after.each(async (ctx) => {
  for (const c of ctx.closers.reverse()) await c().catch(() => {});
});

let prefixes = 0;
/** The AppError a request rejects with (fails the test if it resolves). */
function failure(p: Promise<unknown>): Promise<AppError> {
  return p.then(
    () => assert.unreachable('resolved'),
    (e: AppError) => e,
  ) as Promise<AppError>;
}

/** The methods these tests use (the bus is generic over its catalog; the cluster's is BusMethods). */
interface TestMethods {
  sum: { request: { x: number; y: number }; reply: { sum: number; from: string } };
  later: { request: string; reply: string };
  typed: { request: Record<string, never>; reply: null };
  crash: { request: Record<string, never>; reply: null };
  'no-such-method': { request: Record<string, never>; reply: null };
  x: { request: Record<string, never>; reply: null };
  hang: { request: Record<string, never>; reply: null };
  // eslint-disable-next-line @typescript-eslint/no-invalid-void-type -- `void` marks a one-way send in a bus catalog (nodeBus.ts), as in BusMethods
  seq: { request: number; reply: void };
  // eslint-disable-next-line @typescript-eslint/no-invalid-void-type -- `void` marks a one-way send in a bus catalog (nodeBus.ts), as in BusMethods
  raw: { request: string | { not: string }; reply: void };
  echo: { request: number; reply: number };
}

async function bus(ctx: Ctx, nodeId: string, prefix: string, requestTimeoutMs = 2000) {
  const b = await RedisNodeBus.connect<TestMethods>({ redisUrl: ctx.redis.url, nodeId, prefix, log, requestTimeoutMs });
  ctx.closers.push(() => b.close());
  return b;
}

async function redisClient(ctx: Ctx): Promise<Redis> {
  const r = connectRedis(ctx.redis.url, 'test');
  await ready(r);
  ctx.closers.push(async () => r.disconnect());
  return r;
}

test('request/response between two nodes; the handler sees the sender', async (ctx) => {
  const prefix = `t${prefixes++}:`;
  const a = await bus(ctx, 'a', prefix);
  const b = await bus(ctx, 'b', prefix);
  b.handle('sum', (p, from) => ({ sum: p.x + p.y, from }));
  b.handle('later', async (p) => {
    await sleep(20);
    return p.toUpperCase();
  });
  assert.equal(await a.request('b', 'sum', { x: 2, y: 3 }), { sum: 5, from: 'a' });
  assert.is(await a.request('b', 'later', 'hi'), 'HI');
  // Many in flight at once each get their own answer.
  const many = await Promise.all(Array.from({ length: 50 }, (_, i) => a.request('b', 'sum', { x: i, y: 1 })));
  assert.equal(
    many.map((r) => r.sum),
    Array.from({ length: 50 }, (_, i) => i + 1),
  );
});

test('an AppError keeps its code and field; other errors become internal_error', async (ctx) => {
  const prefix = `t${prefixes++}:`;
  const a = await bus(ctx, 'a', prefix);
  const b = await bus(ctx, 'b', prefix);
  b.handle('typed', () => {
    throw new AppError('room_full', 'this room is full', 'room');
  });
  b.handle('crash', () => {
    throw new Error('secret detail');
  });
  const typed = await failure(a.request('b', 'typed', {}));
  assert.instance(typed, AppError);
  assert.is(typed.code, 'room_full');
  assert.is(typed.message, 'this room is full');
  assert.is(typed.field, 'room');
  const crash = await failure(a.request('b', 'crash', {}));
  assert.is(crash.code, 'internal_error');
  assert.not.match(crash.message, /secret/);
  const missing = await failure(a.request('b', 'no-such-method', {}));
  assert.is(missing.code, 'not_found');
});

test('a node that is gone fails at once; one that does not answer times out with unavailable', async (ctx) => {
  const prefix = `t${prefixes++}:`;
  const a = await bus(ctx, 'a', prefix, 300);
  const b = await bus(ctx, 'b', prefix, 300);
  const unreachable: string[] = [];
  a.onUnreachable((n) => unreachable.push(n));
  const started = Date.now();
  const gone = await failure(a.request('nobody', 'x', {}, 5000));
  assert.is(gone.code, 'unavailable');
  assert.ok(Date.now() - started < 4000, 'did not wait for the timeout');
  assert.equal(unreachable, ['nobody']);
  b.handle('hang', () => new Promise(() => {}));
  const slow = await failure(a.request('b', 'hang', {}));
  assert.is(slow.code, 'unavailable');
  assert.match(slow.message, /did not answer/);
  // After close, b's channel has no subscriber.
  await b.close();
  assert.is((await failure(a.request('b', 'x', {}))).code, 'unavailable');
});

test('sends arrive in order per sender and receiver', async (ctx) => {
  const prefix = `t${prefixes++}:`;
  const a = await bus(ctx, 'a', prefix);
  const c = await bus(ctx, 'c', prefix);
  const b = await bus(ctx, 'b', prefix);
  const got: Record<string, number[]> = { a: [], c: [] };
  b.handle('seq', (n, from) => {
    got[from].push(n);
  });
  for (let i = 0; i < 500; i++) {
    a.send('b', 'seq', i);
    c.send('b', 'seq', i);
  }
  await eventually(() => got['a'].length === 500 && got['c'].length === 500, 10_000, 'all sends');
  const inOrder = Array.from({ length: 500 }, (_, i) => i);
  assert.equal(got['a'], inOrder);
  assert.equal(got['c'], inOrder);
});

test('string payloads travel unchanged (raw frames): quotes, newlines, control characters, unicode', async (ctx) => {
  const prefix = `t${prefixes++}:`;
  const a = await bus(ctx, 'a', prefix);
  const b = await bus(ctx, 'b', prefix);
  const got: Array<[unknown, string]> = [];
  b.handle('raw', (p, from) => {
    got.push([p, from]);
  });
  const texts = ['{"type":"offer","payload":{"sdp":"v=0\\r\\n"}}', 'line1\nline2', 'x\u0001y\u0001z', 'héllo ✓ 🎥', ''];
  for (const t of texts) await a.trySend('b', 'raw', t);
  a.send('b', 'raw', { not: 'a string' });
  await eventually(() => got.length === texts.length + 1, 5000, 'all frames');
  assert.equal(
    got.map((g) => g[0]),
    [...texts, { not: 'a string' }],
  );
  assert.ok(got.every((g) => g[1] === 'a'));
});

function registry(ctx: Ctx, redis: Redis, id: string, prefix: string, load = { rooms: 0, participants: 0, consumers: 0 }) {
  const r = new NodeRegistry(
    redis,
    { id, signalingUrl: `http://127.0.0.1:1/${id}`, rtcAddress: '127.0.0.1', capacity: { participants: 100 } },
    { prefix, heartbeatMs: 100, ttlMs: 500 },
    () => load,
    log,
  );
  ctx.closers.push(() => r.stop());
  return r;
}

test('registry: live nodes with address, capacity and load; a node that stops beating is dead within the ttl', async (ctx) => {
  const prefix = `t${prefixes++}:`;
  const r1 = registry(ctx, await redisClient(ctx), 'n1', prefix, { rooms: 2, participants: 7, consumers: 9 });
  // n2 has its own connection, so cutting it off is a crash (no clean stop).
  const n2Redis = connectRedis(ctx.redis.url, 'n2');
  await ready(n2Redis);
  const r2 = registry(ctx, n2Redis, 'n2', prefix);
  await r1.start();
  await r2.start();
  const down: string[] = [];
  r1.on('node-down', (id) => down.push(id));
  await eventually(async () => (await r1.liveNodes()).length === 2, 5000, 'both nodes live');
  const [n1] = await r1.liveNodes();
  assert.is(n1.id, 'n1');
  assert.is(n1.signalingUrl, 'http://127.0.0.1:1/n1');
  assert.is(n1.rtcAddress, '127.0.0.1');
  assert.equal(n1.capacity, { participants: 100 });
  assert.equal(
    { rooms: n1.load.rooms, participants: n1.load.participants, consumers: n1.load.consumers },
    { rooms: 2, participants: 7, consumers: 9 },
  );
  assert.type(n1.load.cpu, 'number');
  assert.is(n1.draining, false);

  await r1.setDraining(true);
  assert.is((await r1.liveNodes()).find((n) => n.id === 'n1')!.draining, true);

  // n2 crashes: its beats stop, its key is not deleted by anyone.
  n2Redis.disconnect();
  const crashedAt = Date.now();
  await eventually(async () => !(await r1.liveNodes()).some((n) => n.id === 'n2'), 10_000, 'n2 dead');
  const deadAfter = Date.now() - crashedAt;
  assert.ok(deadAfter < 5000, `dead within a bound (ttl 500 ms; took ${deadAfter} ms)`);
  await eventually(() => down.includes('n2'), 2000, 'node-down event');
  assert.is(await r1.isLive('n2'), false);
});

test('Redis restarted: the bus and the registry come back on their own', async (ctx) => {
  const prefix = `t${prefixes++}:`;
  const a = await bus(ctx, 'a', prefix, 500);
  const b = await bus(ctx, 'b', prefix, 500);
  b.handle('echo', (p) => p);
  const reg = registry(ctx, await redisClient(ctx), 'a', prefix);
  await reg.start();
  const recovered: boolean[] = [];
  reg.on('beat', (r) => r && recovered.push(r));
  assert.is(await a.request('b', 'echo', 1), 1);

  await ctx.redis.kill();
  const during = await failure(a.request('b', 'echo', 2));
  assert.is(during.code, 'unavailable');
  await eventually(() => !reg.healthy, 5000, 'registry notices the outage');
  await ctx.redis.start(); // empty: nothing survived

  await eventually(async () => (await a.request('b', 'echo', 3).catch(() => null)) === 3, 15_000, 'bus back');
  await eventually(async () => reg.healthy && (await reg.liveNodes()).some((n) => n.id === 'a'), 15_000, 'registry re-announced');
  assert.ok(recovered.length >= 1);
});

test.run();
