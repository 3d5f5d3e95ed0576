// The auth failure matrix: every bad token is refused with `unauthorized` and close 4001.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SignJWT, importPKCS8, UnsecuredJWT } from 'jose';
import { createSecretKey } from 'node:crypto';
import { SignalingError } from '../../clients/node/signalingClient.js';
import { otherKeys, testKeys } from '../support/keys.js';
import { startServer, type TestServer } from '../support/server.js';

const ISSUER = 'https://issuer.test';
const test = suite<{ srv: TestServer }>('auth', {} as { srv: TestServer });

test.before(async (ctx) => {
  ctx.srv = await startServer({ env: { JWT_ISSUER: ISSUER, AUTH_TIMEOUT_MS: '400' } });
});
test.after(async (ctx) => ctx.srv.stop());

const now = () => Math.floor(Date.now() / 1000);

async function sign(
  claims: Record<string, unknown>,
  opts: { pem?: string; exp?: number | null; iss?: string | null; aud?: string | null; sub?: string | null; nbf?: number } = {},
) {
  const key = await importPKCS8(opts.pem ?? testKeys().privatePem, 'RS256');
  let jwt = new SignJWT(claims).setProtectedHeader({ alg: 'RS256' }).setIssuedAt();
  if (opts.sub !== null) jwt = jwt.setSubject(opts.sub ?? 'alice');
  if (opts.exp !== null) jwt = jwt.setExpirationTime(opts.exp ?? now() + 600);
  if (opts.iss !== null) jwt = jwt.setIssuer(opts.iss ?? ISSUER);
  if (opts.aud !== null) jwt = jwt.setAudience(opts.aud ?? 'switchboard');
  if (opts.nbf !== undefined) jwt = jwt.setNotBefore(opts.nbf);
  return jwt.sign(key);
}

async function expectRejected(srv: TestServer, token: string, why: RegExp) {
  const client = await srv.connect();
  try {
    await client.request('auth', { token });
    assert.unreachable('token was accepted');
  } catch (err) {
    assert.instance(err, SignalingError);
    assert.is((err as SignalingError).code, 'unauthorized');
    assert.match((err as SignalingError).message, why);
  }
  const closed = await client.closed;
  assert.is(closed.code, 4001);
}

test('a valid RS256 token authenticates and reports the identity', async ({ srv }) => {
  const client = await srv.connect();
  const identity = await client.request('auth', { token: await sign({ name: 'Alice', role: 'host', room: 'r1' }) });
  assert.equal({ ...identity, expires_at: 0 }, { user_id: 'alice', name: 'Alice', role: 'host', room: 'r1', expires_at: 0 });
  const again = await client.request('auth', { token: await sign({}) }).catch((e) => e);
  assert.is(again.code, 'already_authenticated');
  await client.close();
});

test('signature from another key is refused', async ({ srv }) => {
  await expectRejected(srv, await sign({}, { pem: otherKeys().privatePem }), /signature/);
});

test('alg none is refused', async ({ srv }) => {
  const token = new UnsecuredJWT({ sub: 'alice' }).setIssuer(ISSUER).setAudience('switchboard').setExpirationTime('10m').encode();
  await expectRejected(srv, token, /algorithm/);
});

test('HS256 signed with the public key as secret is refused', async ({ srv }) => {
  const secret = createSecretKey(Buffer.from(testKeys().publicPem));
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('alice')
    .setIssuer(ISSUER)
    .setAudience('switchboard')
    .setExpirationTime('10m')
    .sign(secret);
  await expectRejected(srv, token, /algorithm/);
});

test('expired token is refused', async ({ srv }) => {
  await expectRejected(srv, await sign({}, { exp: now() - 60 }), /expired/);
});

test('token not yet valid is refused', async ({ srv }) => {
  await expectRejected(srv, await sign({}, { nbf: now() + 600 }), /nbf/);
});

test('token without exp is refused', async ({ srv }) => {
  await expectRejected(srv, await sign({}, { exp: null }), /exp/);
});

test('wrong issuer is refused', async ({ srv }) => {
  await expectRejected(srv, await sign({}, { iss: 'https://evil.test' }), /iss/);
});

test('wrong or missing audience is refused', async ({ srv }) => {
  await expectRejected(srv, await sign({}, { aud: 'other-app' }), /aud/);
  await expectRejected(srv, await sign({}, { aud: null }), /aud/);
});

test('missing sub is refused', async ({ srv }) => {
  await expectRejected(srv, await sign({}, { sub: null }), /sub/);
});

test('unknown role is refused', async ({ srv }) => {
  await expectRejected(srv, await sign({ role: 'admin' }), /role/);
});

test('garbage is refused', async ({ srv }) => {
  await expectRejected(srv, 'not.a.jwt', /malformed|invalid/);
});

test('a token for another room cannot join this one', async ({ srv }) => {
  const client = await srv.connect();
  await client.request('auth', { token: await sign({ room: 'r1' }) });
  const err = await client.request('join', { room: 'r2' }).catch((e) => e);
  assert.is(err.code, 'unauthorized');
  assert.is(err.field, 'room');
  assert.is((await client.closed).code, 4001);
  assert.is(srv.app.rooms.getRoom('r2'), undefined);
});

test('anything before auth is unauthenticated, and the connection stays usable', async ({ srv }) => {
  const client = await srv.connect();
  const err = await client.request('join', { room: 'r1' }).catch((e) => e);
  assert.is(err.code, 'unauthenticated');
  const identity = await client.request('auth', { token: await sign({}) });
  assert.is(identity.user_id, 'alice');
  await client.close();
});

test('no auth within AUTH_TIMEOUT_MS closes with 4001', async ({ srv }) => {
  const client = await srv.connect();
  const started = Date.now();
  const closed = await client.closed;
  assert.is(closed.code, 4001);
  assert.ok(Date.now() - started >= 300, 'closed too early');
});

test('?token= on the URL authenticates without an auth message', async ({ srv }) => {
  const client = await srv.connect({ urlToken: await sign({ name: 'Url' }) });
  const identity = await client.next('authenticated');
  assert.is(identity.name, 'Url');
  const joined = await client.request('join', { room: 'url-room' });
  assert.is(joined.room_state.participants.length, 1);
  await client.close();

  const bad = await srv.connect({ urlToken: await sign({}, { exp: now() - 60 }) });
  const error = await bad.next('error');
  assert.is(error.code, 'unauthorized');
  assert.is((await bad.closed).code, 4001);
});

test.run();
