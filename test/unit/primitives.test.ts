import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RateLimiter } from '../../server/kernel/rateLimiter.js';
import { clientSchemas } from '../../signaling/protocol/protocol.js';
import { ValidationError } from '../../signaling/protocol/schema.js';
import { KeyedMutex } from '../../server/kernel/keyedMutex.js';
import { Batcher } from '../../server/storage/batcher.js';

test('rate limiter: burst, refill, abuse', () => {
  const limiter = new RateLimiter(10, 5, 0);
  let allowed = 0;
  for (let i = 0; i < 8; i++) if (limiter.take(0)) allowed++;
  assert.is(allowed, 5);
  assert.ok(limiter.take(100), 'one token after 100 ms at 10/s');
  assert.not.ok(limiter.take(100));
  assert.not.ok(limiter.abusive);
  for (let i = 0; i < 10; i++) limiter.take(100);
  assert.ok(limiter.abusive);
});

test('schemas drop unknown fields and name the bad one', () => {
  const parsed = clientSchemas.offer.parse({ to: 'PA_1', sdp: 'v=0', evil: true }, 'payload');
  assert.equal(parsed, { to: 'PA_1', sdp: 'v=0' });
  try {
    clientSchemas['ice-candidate'].parse({ to: 'PA_1', candidate: 'c', sdpMLineIndex: -1 }, 'payload');
    assert.unreachable();
  } catch (err) {
    assert.instance(err, ValidationError);
    assert.is((err as ValidationError).field, 'payload.sdpMLineIndex');
  }
});

test('keyed mutex runs tasks of one key in order, other keys concurrently', async () => {
  const mutex = new KeyedMutex();
  const log: string[] = [];
  const slow = (tag: string, ms: number) => async () => {
    log.push(`start ${tag}`);
    await new Promise((r) => setTimeout(r, ms));
    log.push(`end ${tag}`);
  };
  await Promise.all([mutex.run('a', slow('a1', 30)), mutex.run('a', slow('a2', 1)), mutex.run('b', slow('b1', 1))]);
  assert.ok(log.indexOf('end a1') < log.indexOf('start a2'), log.join(','));
  assert.ok(log.indexOf('end b1') < log.indexOf('end a1'), 'b did not wait for a');
  const failing = mutex.run('a', async () => {
    throw new Error('boom');
  });
  await failing.catch(() => {});
  assert.is(await mutex.run('a', async () => 7), 7, 'a failure does not block the key');
  await new Promise((r) => setImmediate(r));
  assert.is(mutex.busyKeys, 0, 'idle keys are forgotten');
});

test('batcher groups writes of one tick and fails them together', async () => {
  const batches: number[][] = [];
  const batcher = new Batcher<number>(async (items) => {
    batches.push(items);
    if (items.includes(-1)) throw new Error('bad row');
  });
  await Promise.all([1, 2, 3].map((n) => batcher.add(n)));
  await batcher.add(4);
  assert.equal(batches, [[1, 2, 3], [4]]);
  const results = await Promise.allSettled([batcher.add(5), batcher.add(-1)]);
  assert.equal(
    results.map((r) => r.status),
    ['rejected', 'rejected'],
  );
});

test('batcher: what arrives while a flush runs goes out together when it ends', async () => {
  const batches: number[][] = [];
  let release: () => void = () => {};
  const batcher = new Batcher<number>(async (items) => {
    batches.push(items);
    if (batches.length === 1) await new Promise<void>((r) => (release = r));
  });
  const first = batcher.add(1);
  await new Promise((r) => setImmediate(r));
  assert.equal(batches, [[1]], 'the first item is written at once');
  const later = [2, 3, 4].map((n) => batcher.add(n));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(batches, [[1]], 'nothing else is written while one flush runs');
  assert.is(batcher.pending, 4);
  release();
  await Promise.all([first, ...later]);
  assert.equal(batches, [[1], [2, 3, 4]]);
  assert.is(batcher.pending, 0);
});

test('batcher with a linger: a busy store waits for company, an idle one writes at once', async () => {
  const batches: number[][] = [];
  const batcher = new Batcher<number>(
    async (items) => {
      batches.push(items);
    },
    { lingerMs: 30 },
  );
  let t0 = performance.now();
  await batcher.add(1);
  assert.ok(performance.now() - t0 < 25, 'idle: no linger');
  // Right after a flush the store counts as busy: this one waits for the next.
  t0 = performance.now();
  const waiting = batcher.add(2);
  await new Promise((r) => setTimeout(r, 10));
  const joining = batcher.add(3);
  await Promise.all([waiting, joining]);
  assert.ok(performance.now() - t0 >= 25, 'busy: the batch lingered');
  assert.equal(batches, [[1], [2, 3]]);
});

test.run();
