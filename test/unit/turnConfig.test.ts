// ICE_SERVERS / TURN_SECRET / TURN_TTL_SECONDS validation, TURN REST API
// credential minting (checked against an HMAC computed independently), and
// the RTCIceServer list built from them.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { ConfigError, loadConfig } from '../../server/kernel/config.js';
import { createLogger } from '../../server/kernel/logger.js';
import { IceServers, mintTurnCredential } from '../../server/edges/auth/turnCredentials.js';

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    assert.instance(err, ConfigError);
    return (err as ConfigError).problems;
  }
  return [];
}

test('defaults: no ICE servers, no TURN secret, credentials valid 6 hours', () => {
  assert.equal(loadConfig({}).turn, { urls: [], secret: null, ttlSeconds: 21_600 });
});

test('ICE_SERVERS accepts stun:, turn: and turns: URLs with ports, IPv6 and ?transport=', () => {
  const urls = [
    'stun:stun.example.org',
    'stun:203.0.113.7:3478',
    'stun:[2001:db8::1]:19302',
    'turn:turn.example.org:3478?transport=udp',
    'turn:turn.example.org:443?transport=tcp',
    'turns:turn.example.org:443?transport=tcp',
    'turns:turn.example.org',
    'TURN:Turn.Example.org:3478',
  ];
  const config = loadConfig({ ICE_SERVERS: ` ${urls.join(' , ')} ,`, TURN_SECRET: 'turn-secret-0123456789' });
  assert.equal(config.turn.urls, urls, 'trimmed, in order, empty entries ignored');
  assert.is(config.turn.secret, 'turn-secret-0123456789');
});

test('a bad ICE_SERVERS URL is a config error naming it; every bad one is reported at once', () => {
  const bad = [
    'http://turn.example.org',
    'stun://stun.example.org',
    'turn:turn.example.org:99999',
    'turn:turn.example.org:0',
    'turn:turn.example.org?transport=sctp',
    'stun:stun.example.org?transport=udp',
    'turn:',
    'turn:-bad-.example.org',
    'stun:[zz::1]',
    'turn:turn.example.org/path',
    'stuns:stun.example.org',
  ];
  const found = problems({ ICE_SERVERS: bad.join(','), PORT: 'x' });
  for (const url of bad)
    assert.ok(
      found.some((p) => p.startsWith(`ICE_SERVERS: ${url} `)),
      `${url} refused: ${found.join(' | ')}`,
    );
  assert.ok(
    found.some((p) => p.startsWith('PORT')),
    'reported with the other problems',
  );
  // Credentials put in a URL are not echoed.
  const withPassword = problems({ ICE_SERVERS: 'turn:user:hunter2-password@turn.example.org' });
  assert.is(withPassword.length, 1);
  assert.ok(withPassword[0].startsWith('ICE_SERVERS: turn:[redacted]@turn.example.org '), withPassword[0]);
  assert.not.match(withPassword[0], /hunter2/);
});

test('the node refuses to start on a bad ICE server URL (exit code 2, the URL named)', () => {
  const main = fileURLToPath(new URL('../../server/main.js', import.meta.url));
  const result = spawnSync(process.execPath, [main], {
    env: { ...process.env, ICE_SERVERS: 'stun:ok.example.org,turn://bad.example.org:3478', TURN_TTL_SECONDS: '30' },
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.is(result.status, 2);
  assert.match(result.stderr, /ICE_SERVERS: turn:\/\/bad\.example\.org:3478 has no "\/\/"/);
  assert.match(result.stderr, /TURN_TTL_SECONDS/);
});

test('TURN_SECRET needs 16 characters; TURN_TTL_SECONDS any whole number from 60 up', () => {
  assert.ok(problems({ TURN_SECRET: 'short' }).some((p) => p.includes('TURN_SECRET')));
  for (const bad of ['59', '0', '-60', 'abc', '1.5', '1e3', '9007199254740993'])
    assert.ok(
      problems({ TURN_TTL_SECONDS: bad }).some((p) => p.includes('TURN_TTL_SECONDS')),
      `TURN_TTL_SECONDS=${bad} refused`,
    );
  for (const ok of [60, 21_600, 30 * 86_400, 10 * 365 * 86_400])
    assert.is(loadConfig({ TURN_TTL_SECONDS: String(ok) }).turn.ttlSeconds, ok);
});

test('a TURN credential is <expiry>:<user_id> and base64(HMAC-SHA1(secret, username))', () => {
  const secret = 'north-wind-secret-0123';
  const minted = mintTurnCredential(secret, 'alice', 1_700_000_000);
  assert.is(minted.username, '1700000000:alice');
  // Computed independently: Python's hmac.new(secret, b'1700000000:alice', hashlib.sha1), base64.
  assert.is(minted.credential, 's0SQRI+SV6HZXj/zo4FG30PZScY=');
  assert.is(minted.credential, createHmac('sha1', secret).update('1700000000:alice').digest('base64'));
  // A user id with the separator or non-ASCII text is signed as is (the expiry comes first).
  const odd = mintTurnCredential(secret, 'ops:bøb', 1_700_000_000.9);
  assert.is(odd.username, '1700000000:ops:bøb');
  assert.is(odd.credential, createHmac('sha1', secret).update(Buffer.from('1700000000:ops:bøb', 'utf8')).digest('base64'));
});

test('the RTCIceServer list: STUN without credentials, TURN with one that expires TURN_TTL_SECONDS from now', () => {
  const ice = new IceServers({
    urls: ['stun:s.example.org', 'turn:t.example.org:3478?transport=udp', 'stun:s2.example.org', 'turns:t.example.org:443?transport=tcp'],
    secret: 'turn-secret-0123456789',
    ttlSeconds: 3600,
  });
  const grant = ice.forUser('bob', 1_700_000_000_500);
  assert.is(grant.ttl_seconds, 3600);
  assert.equal(grant.ice_servers, [
    { urls: ['stun:s.example.org', 'stun:s2.example.org'] },
    {
      urls: ['turn:t.example.org:3478?transport=udp', 'turns:t.example.org:443?transport=tcp'],
      username: '1700003600:bob',
      credential: createHmac('sha1', 'turn-secret-0123456789').update('1700003600:bob').digest('base64'),
    },
  ]);
  assert.ok(ice.configured);
  assert.equal(new IceServers({ urls: [], secret: 'turn-secret-0123456789', ttlSeconds: 60 }).forUser('x').ice_servers, []);
  assert.equal(new IceServers({ urls: ['stun:s.example.org'], secret: null, ttlSeconds: 60 }).forUser('x').ice_servers, [
    { urls: ['stun:s.example.org'] },
  ]);
});

test('without TURN_SECRET, TURN URLs are left out with a warning at start', () => {
  let logs = '';
  const log = createLogger(
    'info',
    new Writable({
      write(chunk, _enc, cb) {
        logs += chunk;
        cb();
      },
    }),
  );
  const ice = new IceServers({ urls: ['stun:s.example.org', 'turn:t.example.org'], secret: null, ttlSeconds: 600 }, log);
  assert.equal(ice.forUser('bob').ice_servers, [{ urls: ['stun:s.example.org'] }]);
  // Only TURN URLs and no secret: nothing to hand out (the auth ack then has no ice_servers).
  const turnOnly = new IceServers({ urls: ['turn:t.example.org'], secret: null, ttlSeconds: 600 });
  assert.not.ok(turnOnly.configured);
  assert.equal(turnOnly.forUser('bob').ice_servers, []);
  assert.not.ok(new IceServers({ urls: [], secret: null, ttlSeconds: 600 }).configured);
  assert.match(logs, /"level":40/);
  assert.match(logs, /TURN_SECRET is not set/);
  assert.match(logs, /turn:t\.example\.org/);
  // With the secret nothing is logged at all (the secret least of all).
  logs = '';
  new IceServers({ urls: ['turn:t.example.org'], secret: 'turn-secret-0123456789', ttlSeconds: 600 }, log).forUser('bob');
  assert.is(logs, '');
});

test.run();
