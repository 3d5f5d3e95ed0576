// Room control and webhook settings: defaults and validation (fail fast).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../server/kernel/config.js';
import { sign, verify } from '../../server/edges/webhooks/signature.js';
import { assertRefused } from '../support/config.js';

test('room and webhook defaults', () => {
  const c = loadConfig({});
  assert.equal(c.rooms, { emptyTimeoutSeconds: 300, kickBanSeconds: 600, defaultType: 'group' });
  assert.equal(c.webhooks.urls, []);
  assert.is(c.webhooks.secret, null);
});

test('webhook URLs are parsed and need a strong secret', () => {
  const ok = loadConfig({
    WEBHOOK_URLS: 'http://a.example/h, https://b.example/h',
    WEBHOOK_SECRET: 's'.repeat(16),
    ROOM_EMPTY_TIMEOUT_SECONDS: '0',
  });
  assert.equal(ok.webhooks.urls, ['http://a.example/h', 'https://b.example/h']);
  assert.is(ok.rooms.emptyTimeoutSeconds, 0);
  assertRefused([
    [{ WEBHOOK_URLS: 'http://a.example/h' }, 'WEBHOOK_SECRET'],
    [{ WEBHOOK_URLS: 'ftp://a.example/h', WEBHOOK_SECRET: 's'.repeat(16) }, 'WEBHOOK_URLS'],
    [{ WEBHOOK_URLS: 'http://a.example/h', WEBHOOK_SECRET: 'short' }, 'WEBHOOK_SECRET'],
    [{ ROOM_EMPTY_TIMEOUT_SECONDS: '-1' }, 'ROOM_EMPTY_TIMEOUT_SECONDS'],
    [{ KICK_BAN_SECONDS: 'x' }, 'KICK_BAN_SECONDS'],
    [{ ROOM_DEFAULT_TYPE: 'huge' }, 'ROOM_DEFAULT_TYPE'],
  ]);
});

test('signatures: HMAC-SHA256 over timestamp.body; wrong secret, body or stale timestamp fail', () => {
  const now = Date.now();
  const ts = Math.floor(now / 1000);
  const sig = sign('secret-0123456789', ts, '{"a":1}');
  assert.match(sig, /^v1=[0-9a-f]{64}$/);
  assert.ok(verify('secret-0123456789', String(ts), '{"a":1}', sig, 300, now));
  assert.not.ok(verify('secret-0123456789', String(ts), '{"a":2}', sig, 300, now));
  assert.not.ok(verify('other-secret-01234', String(ts), '{"a":1}', sig, 300, now));
  assert.not.ok(verify('secret-0123456789', String(ts), '{"a":1}', sig, 300, now + 301_000));
});

test.run();
