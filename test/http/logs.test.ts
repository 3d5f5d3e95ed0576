// What the node logs carries no credentials: the node's real pino output is
// captured while requests with `?token=` / `?signature=` fail, a webhook URL
// with a password fails to deliver, and a database error happens on a join
// (PGlite attaches the statement's parameters to its errors), and none of
// the secrets appear in it.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Writable } from 'node:stream';
import { createLogger, scrubSecrets } from '../../server/kernel/logger.js';
import { eventually, freePort } from '../support/net.js';
import { rawRequest, sendRaw } from '../support/hostile.js';
import { startServer } from '../support/server.js';

test('tokens in URLs, URL passwords and SQL parameters never reach the logs', async () => {
  let logs = '';
  const stream = new Writable({
    write(chunk, _enc, cb) {
      logs += chunk;
      cb();
    },
  });
  const hookPort = await freePort(); // nothing listens: every delivery fails and is logged
  const srv = await startServer({
    logger: createLogger('debug', stream),
    env: {
      WEBHOOK_URLS: `http://hookuser:HOOK-PASSWORD-5521@127.0.0.1:${hookPort}/hook?token=HOOK-QUERY-TOKEN-8812`,
      WEBHOOK_SECRET: 'webhook-secret-0123456789',
      WEBHOOK_RETRY_BASE_MS: '100',
      WEBHOOK_POLL_INTERVAL_MS: '100',
    },
  });
  try {
    // A join emits webhook events; their delivery fails and is logged with the receiver's URL.
    const ok = await srv.connect();
    await ok.request('auth', { token: await srv.mint({ userId: 'first' }) });
    await ok.request('join', { room: 'log-room' });
    await eventually(() => /webhook delivery failed/.test(logs), 10_000, 'a failed delivery logged');

    // Requests carrying secrets in their URLs, failing.
    const bad = await srv.connect({ urlToken: 'URL-TOKEN-SECRET-4417' }).catch(() => null);
    if (bad) await bad.closed.catch(() => {});
    await sendRaw(srv.url, rawRequest('GET', '/live/log-room/index.m3u8?token=HLS-TOKEN-SECRET-9034'));
    await sendRaw(srv.url, rawRequest('GET', '/api/v1/recordings/r1/files/f1/content?expires=1&signature=SIG-SECRET-2290'));
    await sendRaw(srv.url, rawRequest('GET', '//x:99999/?token=TARGET-TOKEN-SECRET-7781'));

    // A database error on a join: the INSERT's parameters hold the user's id and name.
    await srv.app.db.exec('ALTER TABLE participants RENAME TO participants_gone');
    const victim = await srv.connect();
    await victim.request('auth', { token: await srv.mint({ userId: 'SQL-PARAM-USER-6650', name: 'SQL-PARAM-NAME-6650' }) });
    const failed = await victim.request('join', { room: 'log-room-2' }).then(
      () => null,
      (err: { code?: string }) => err.code,
    );
    assert.is(failed, 'unavailable', 'the join fails on the storage error');
    await eventually(() => /participants/.test(logs) && /"level":50/.test(logs), 5000, 'the database error logged');
    await srv.app.db.exec('ALTER TABLE participants_gone RENAME TO participants');

    for (const secret of [
      'HOOK-PASSWORD-5521',
      'HOOK-QUERY-TOKEN-8812',
      'URL-TOKEN-SECRET-4417',
      'HLS-TOKEN-SECRET-9034',
      'SIG-SECRET-2290',
      'TARGET-TOKEN-SECRET-7781',
      'SQL-PARAM-USER-6650',
      'SQL-PARAM-NAME-6650',
    ]) {
      assert.not.ok(
        logs.includes(secret),
        `${secret} is in the logs:\n${logs
          .split('\n')
          .filter((l) => l.includes(secret))
          .join('\n')
          .slice(0, 2000)}`,
      );
    }
    assert.match(logs, /hookuser|\[redacted\]@/, 'the receiver is still named (without its password)');
  } finally {
    await srv.stop();
  }
});

test('scrubSecrets removes URL credentials and secret query parameters, and keeps the rest', () => {
  assert.is(scrubSecrets('redis://:pw1@redis:6379/0'), 'redis://[redacted]@redis:6379/0');
  assert.is(scrubSecrets('postgres://app:pw2@db/calls?sslmode=require'), 'postgres://[redacted]@db/calls?sslmode=require');
  assert.is(scrubSecrets('GET /ws?room=a&token=abc.def.ghi'), 'GET /ws?room=a&token=[redacted]');
  assert.is(scrubSecrets('/dl?expires=1&signature=zz'), '/dl?expires=1&signature=[redacted]');
  assert.is(scrubSecrets('no secrets here'), 'no secrets here');
});

test.run();
