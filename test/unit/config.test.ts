import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from '../../server/kernel/config.js';

test('defaults need no environment at all', () => {
  const config = loadConfig({});
  assert.is(config.port, 8080);
  assert.is(config.databaseUrl, null);
  assert.is(config.redisUrl, null);
  assert.is(config.jwt.audience, 'switchboard');
  assert.is(config.limits.maxMessageBytes, 65536);
  assert.ok(config.limits.maxConnections > 0);
  assert.equal(config.sfu.dynacast, { lowerDelayMs: 2500 });
});

test('DYNACAST: off turns it off; anything but on/off is refused', () => {
  assert.is(loadConfig({ DYNACAST: 'off' }).sfu.dynacast, null);
  assert.equal(loadConfig({ DYNACAST: 'on', DYNACAST_LOWER_DELAY_MS: '0' }).sfu.dynacast, { lowerDelayMs: 0 });
  for (const env of [{ DYNACAST: 'sometimes' }, { DYNACAST_LOWER_DELAY_MS: '-1' }]) {
    try {
      loadConfig(env);
      assert.unreachable();
    } catch (err) {
      assert.instance(err, ConfigError);
      assert.match((err as ConfigError).problems.join('\n'), Object.keys(env)[0]);
    }
  }
});

test('every problem is reported at once', () => {
  try {
    loadConfig({ PORT: 'abc', DATABASE_URL: 'mysql://x', JWT_PUBLIC_KEY_FILE: '/nonexistent.pem', API_KEY: 'k', LOG_LEVEL: 'loud' });
    assert.unreachable();
  } catch (err) {
    assert.instance(err, ConfigError);
    const text = (err as ConfigError).problems.join('\n');
    for (const name of ['PORT', 'DATABASE_URL', 'JWT_PUBLIC_KEY_FILE', 'API_SECRET', 'LOG_LEVEL']) assert.match(text, name);
  }
});

test('the server refuses to start on bad config, with a clear message and exit code 2', () => {
  const main = fileURLToPath(new URL('../../server/main.js', import.meta.url));
  const result = spawnSync(process.execPath, [main], {
    env: { ...process.env, PORT: '99999', MAX_CONNECTIONS: '0' },
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.is(result.status, 2);
  assert.match(result.stderr, /PORT must be an integer between 0 and 65535/);
  assert.match(result.stderr, /MAX_CONNECTIONS/);
});

test.run();
