// Cascade settings: defaults and validation (fail fast).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../server/kernel/config.js';
import { assertRefused } from '../support/config.js';

test('cascade defaults: on, node budget = workers x router budget, no port range', () => {
  const c = loadConfig({ RTC_WORKERS: '3', SFU_ROUTER_CONSUMER_BUDGET: '100' });
  assert.equal(c.cascade, {
    enabled: true,
    nodeConsumerBudget: 300,
    pingIntervalMs: 2000,
    pingMisses: 3,
    portRange: null,
    address: null,
    idleSeconds: 30,
  });
  const off = loadConfig({ SFU_CASCADE: 'off', SFU_NODE_CONSUMER_BUDGET: '0', SFU_CASCADE_PORTS: '50000-50999' });
  assert.is(off.cascade.enabled, false);
  assert.is(off.cascade.nodeConsumerBudget, 0);
  assert.equal(off.cascade.portRange, { min: 50000, max: 50999 });
});

test('bad cascade settings are refused with the variable named', () => {
  assertRefused([
    [{ SFU_CASCADE: 'maybe' }, 'SFU_CASCADE'],
    [{ SFU_NODE_CONSUMER_BUDGET: '-1' }, 'SFU_NODE_CONSUMER_BUDGET'],
    [{ SFU_CASCADE_PORTS: '50000' }, 'SFU_CASCADE_PORTS'],
    [{ SFU_CASCADE_PORTS: '60000-50000' }, 'SFU_CASCADE_PORTS'],
    [{ SFU_CASCADE_PORTS: '80-90' }, 'SFU_CASCADE_PORTS'],
    [{ SFU_CASCADE_PING_MS: '5' }, 'SFU_CASCADE_PING_MS'],
    [{ SFU_CASCADE_PING_MISSES: '0' }, 'SFU_CASCADE_PING_MISSES'],
  ]);
});

test.run();
