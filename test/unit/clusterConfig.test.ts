// Cluster: configuration checks and the node selector, without Redis.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigError, loadConfig } from '../../server/kernel/config.js';
import type { NodeInfo } from '../../server/edges/cluster/nodeRegistry.js';
import { eligible, leastLoaded } from '../../server/edges/cluster/nodeSelector.js';

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

test('cluster mode refuses PGlite with a clear error', () => {
  const p = problems({ REDIS_URL: 'redis://127.0.0.1:6379' });
  assert.ok(
    p.some((x) => x.includes('REDIS_URL') && x.includes('DATABASE_URL')),
    p.join('\n'),
  );
  assert.equal(problems({ REDIS_URL: 'redis://127.0.0.1:6379', DATABASE_URL: 'postgres://u@127.0.0.1/db' }), []);
});

test('cluster settings are checked', () => {
  assert.ok(problems({ NODE_HEARTBEAT_MS: '1000', NODE_TTL_MS: '1500' }).some((x) => x.includes('NODE_TTL_MS')));
  assert.ok(problems({ NODE_SELECTOR: 'closest' }).some((x) => x.includes('NODE_SELECTOR')));
  assert.ok(problems({ REDIS_PREFIX: 'bad prefix' }).some((x) => x.includes('REDIS_PREFIX')));
  assert.ok(problems({ NODE_PUBLIC_URL: 'ftp://x' }).some((x) => x.includes('NODE_PUBLIC_URL')));
  const c = loadConfig({ NODE_CAPACITY: '50', DRAIN_TIMEOUT_SECONDS: '7', NODE_SELECTOR: 'random' }).cluster;
  assert.is(c.capacity, 50);
  assert.is(c.drainTimeoutSeconds, 7);
  assert.is(c.selector, 'random');
  assert.is(c.ttlMs, 5000);
});

function node(id: string, participants: number, rooms: number, extra: Partial<NodeInfo> = {}): NodeInfo {
  return {
    id,
    signalingUrl: '',
    rtcAddress: null,
    capacity: { participants: 100 },
    draining: false,
    startedAt: 0,
    updatedAt: 0,
    load: { cpu: 0, rooms, participants, consumers: 0 },
    ...extra,
  };
}

test('least-loaded picks the emptiest eligible node; draining and full nodes are never picked', () => {
  const nodes = [node('a', 50, 3), node('b', 10, 9), node('c', 10, 2), node('d', 0, 0, { draining: true }), node('e', 100, 0)];
  assert.equal(
    eligible(nodes).map((n) => n.id),
    ['a', 'b', 'c'],
  );
  assert.is(leastLoaded(eligible(nodes), 'r')!.id, 'c');
  assert.is(leastLoaded(eligible([node('d', 0, 0, { draining: true })]), 'r'), null);
  // Capacity is relative: 30 of 1000 is less loaded than 10 of 100.
  assert.is(leastLoaded([node('small', 10, 0), node('big', 30, 0, { capacity: { participants: 1000 } })], 'r')!.id, 'big');
});

test.run();
