// TURN for clients, end to end: the server hands out TURN REST API
// credentials (in the `auth` ack and over REST), a real coturn checks them,
// and two real libwebrtc peers (@roamhq/wrtc) restricted to relay candidates
// exchange video through it. Credentials that expired or were made with
// another secret are refused by coturn. Everything stays on 127.0.0.1 (run
// inside the test run's network namespace).

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHmac } from 'node:crypto';
import { Writable } from 'node:stream';
import wrtc from '@roamhq/wrtc';
import { createLogger } from '../../server/kernel/logger.js';
import type { IceServer } from '../../signaling/protocol/protocol.js';
import { mintTurnCredential } from '../../server/edges/auth/turnCredentials.js';
import { startCoturn, type CoturnServer } from '../support/coturn.js';
import { negotiate, relayPeer, selectedPair, statsOf, videoSender } from '../support/peers.js';
import { eventually, sleep } from '../support/net.js';
import { basicAuth, startServer, type TestServer } from '../support/server.js';

// As in clients/node/mediaBot.ts: leave before wrtc's finalizers run at teardown.
process.once('beforeExit', (code) => process.exit(process.exitCode ?? code));

const TTL = 600;
/** Everything the node logs during the tests, at trace level: neither TURN_SECRET nor a credential may be in it. */
let logs = '';
const handedOut = new Set<string>();
const test = suite<{ coturn: CoturnServer; srv: TestServer; stun: string; turn: string[] }>(
  'TURN',
  {} as { coturn: CoturnServer; srv: TestServer; stun: string; turn: string[] },
);

test.before(async (ctx) => {
  ctx.coturn = await startCoturn();
  const hostPort = `127.0.0.1:${ctx.coturn.port}`;
  ctx.stun = `stun:${hostPort}`;
  ctx.turn = [`turn:${hostPort}?transport=udp`, `turn:${hostPort}?transport=tcp`];
  ctx.srv = await startServer({
    logger: createLogger(
      'trace',
      new Writable({
        write(chunk, _enc, cb) {
          logs += chunk;
          cb();
        },
      }),
    ),
    env: { ICE_SERVERS: [ctx.stun, ...ctx.turn].join(','), TURN_SECRET: ctx.coturn.secret, TURN_TTL_SECONDS: String(TTL) },
  });
});
test.after(async (ctx) => {
  await ctx.srv?.stop();
  await ctx.coturn?.stop();
});

/** Checks a TURN REST API credential independently of the server's code. */
function assertCredential(server: IceServer, secret: string, userId: string, nowSeconds: number): void {
  const m = /^([0-9]+):(.*)$/.exec(server.username ?? '');
  assert.ok(m, `username ${server.username} is <expiry>:<user>`);
  assert.is(m[2], userId);
  const expiry = Number(m[1]);
  assert.ok(Math.abs(expiry - (nowSeconds + TTL)) <= 2, `expiry ${expiry} is TURN_TTL_SECONDS from now (${nowSeconds})`);
  assert.is(server.credential, createHmac('sha1', secret).update(server.username!).digest('base64'));
  handedOut.add(server.credential!);
}

test('the auth ack (and `authenticated` for a URL token) carries STUN and TURN servers with a TURN credential', async (ctx) => {
  const client = await ctx.srv.connect();
  const ack = await client.request('auth', { token: await ctx.srv.mint({ userId: 'alice' }) });
  const now = Math.floor(Date.now() / 1000);
  assert.is(ack.user_id, 'alice');
  const servers = ack.ice_servers ?? [];
  assert.is(servers.length, 2);
  assert.equal(servers[0], { urls: [ctx.stun] }, 'STUN entry without credentials');
  assert.equal(servers[1].urls, ctx.turn);
  assertCredential(servers[1], ctx.coturn.secret, 'alice', now);
  await client.close();

  const viaUrl = await ctx.srv.connect({ urlToken: await ctx.srv.mint({ userId: 'carol' }) });
  const authenticated = await viaUrl.next('authenticated');
  assert.is(authenticated.user_id, 'carol');
  assert.equal(authenticated.ice_servers?.[1].urls, ctx.turn);
  assertCredential(authenticated.ice_servers![1], ctx.coturn.secret, 'carol', Math.floor(Date.now() / 1000));
  await viaUrl.close();
});

test('call-incoming carries the invitee its own STUN/TURN servers, to answer with', async (ctx) => {
  const alice = await ctx.srv.connect();
  const bob = await ctx.srv.connect();
  await alice.request('auth', { token: await ctx.srv.mint({ userId: 'alice-ring' }) });
  await bob.request('auth', { token: await ctx.srv.mint({ userId: 'bob-ring' }) });
  const invite = await alice.request('call-invite', { to: ['bob-ring'], media: 'audio' });
  const ring = await bob.next('call-incoming');
  assert.is(ring.call_id, invite.call_id);
  assert.equal(ring.ice_servers?.[0], { urls: [ctx.stun] });
  assertCredential(ring.ice_servers![1], ctx.coturn.secret, 'bob-ring', Math.floor(Date.now() / 1000));
  await alice.request('call-cancel', { call_id: invite.call_id });
  await Promise.all([alice.close(), bob.close()]);
});

test('GET /api/v1/ice-servers?user= (API key) returns the same list and ttl_seconds', async (ctx) => {
  const res = await ctx.srv.api('GET', '/api/v1/ice-servers?user=bob');
  assert.is(res.status, 200);
  assert.is(res.body.ttl_seconds, TTL);
  assert.equal(res.body.ice_servers[0], { urls: [ctx.stun] });
  assert.equal(res.body.ice_servers[1].urls, ctx.turn);
  assertCredential(res.body.ice_servers[1], ctx.coturn.secret, 'bob', Math.floor(Date.now() / 1000));

  const raw = await fetch(`${ctx.srv.url}/api/v1/ice-servers?user=bob`, { headers: { authorization: basicAuth() } });
  assert.is(raw.headers.get('cache-control'), 'no-store');
  await raw.body?.cancel();

  assert.is((await ctx.srv.api('GET', '/api/v1/ice-servers?user=bob', undefined, null)).status, 401, 'no API key');
  assert.is(
    (await ctx.srv.api('GET', '/api/v1/ice-servers?user=bob', undefined, basicAuth('APItestkey', 'wrong-secret-0123456789'))).status,
    401,
  );
  const missing = await ctx.srv.api('GET', '/api/v1/ice-servers');
  assert.is(missing.status, 400);
  assert.is(missing.body.error.field, 'user');
  assert.is((await ctx.srv.api('GET', `/api/v1/ice-servers?user=${'x'.repeat(129)}`)).status, 400);
});

// ---- Real peers through coturn ----

test('two relay-only peers with the handed-out credentials connect through coturn and exchange video', async (ctx) => {
  const alice = await ctx.srv.connect();
  const aliceServers = (await alice.request('auth', { token: await ctx.srv.mint({ userId: 'alice' }) })).ice_servers ?? [];
  await alice.close();
  const bobServers = (await ctx.srv.api('GET', '/api/v1/ice-servers?user=bob')).body.ice_servers as IceServer[];

  const a = relayPeer(aliceServers);
  const b = relayPeer(bobServers);
  const sender = videoSender(a.pc);
  let frames = 0;
  let sink: { stop(): void } | null = null;
  b.pc.ontrack = (e) => {
    const s = new wrtc.nonstandard.RTCVideoSink(e.track);
    s.onframe = () => frames++;
    sink = s;
  };
  try {
    await negotiate(a, b);
    await eventually(() => a.pc.connectionState === 'connected' && b.pc.connectionState === 'connected', 15_000, 'both peers connected');
    await eventually(() => frames >= 10, 15_000, 'ten video frames decoded on the receiving side');

    // Only relayed candidates were gathered (iceTransportPolicy: relay), and the pair in use is relay <-> relay.
    for (const p of [a, b]) {
      assert.ok(p.candidates.length > 0, 'candidates gathered');
      for (const c of p.candidates) assert.match(c.candidate, / typ relay /, c.candidate);
      const pair = await selectedPair(p.pc);
      assert.is(pair.local, 'relay');
      assert.is(pair.remote, 'relay');
    }
    const inbound = (await statsOf(b.pc)).find((s) => s['type'] === 'inbound-rtp' && s['kind'] === 'video');
    assert.ok(inbound && Number(inbound['framesDecoded']) > 0 && Number(inbound['bytesReceived']) > 0, 'inbound video decoded');
  } finally {
    sender.stop();
    (sink as { stop(): void } | null)?.stop();
    a.pc.close();
    b.pc.close();
  }
});

test('a client that cannot use UDP reaches coturn over TCP (the turn: URL with transport=tcp) and gets media', async (ctx) => {
  // What a UDP-blocking firewall leaves a client: only TURN over TCP. Both peers get just that URL.
  const tcpOnly = (servers: IceServer[]) =>
    servers.filter((s) => s.username).map((s) => ({ ...s, urls: s.urls.filter((u) => u.endsWith('?transport=tcp')) }));
  const a = relayPeer(tcpOnly((await ctx.srv.api('GET', '/api/v1/ice-servers?user=tcp-a')).body.ice_servers as IceServer[]));
  const b = relayPeer(tcpOnly((await ctx.srv.api('GET', '/api/v1/ice-servers?user=tcp-b')).body.ice_servers as IceServer[]));
  const sender = videoSender(a.pc);
  let frames = 0;
  let sink: { stop(): void } | null = null;
  b.pc.ontrack = (e) => {
    const s = new wrtc.nonstandard.RTCVideoSink(e.track);
    s.onframe = () => frames++;
    sink = s;
  };
  try {
    await negotiate(a, b);
    await eventually(() => a.pc.connectionState === 'connected' && b.pc.connectionState === 'connected', 15_000, 'both peers connected');
    await eventually(() => frames >= 10, 15_000, 'ten video frames decoded over TURN/TCP');
    for (const p of [a, b]) {
      const stats = await statsOf(p.pc);
      const relayed = stats.filter((s) => s['type'] === 'local-candidate' && s['candidateType'] === 'relay');
      assert.ok(relayed.length > 0, 'relay candidates');
      assert.ok(
        relayed.every((c) => c['relayProtocol'] === 'tcp'),
        `every relay candidate reached coturn over TCP: ${relayed.map((c) => String(c['relayProtocol'])).join(',')}`,
      );
      assert.is((await selectedPair(p.pc)).local, 'relay');
    }
  } finally {
    sender.stop();
    (sink as { stop(): void } | null)?.stop();
    a.pc.close();
    b.pc.close();
  }
});

test('coturn refuses an expired credential and one made with another secret: no relay, never connected', async (ctx) => {
  const now = Math.floor(Date.now() / 1000);
  const bad = {
    expired: mintTurnCredential(ctx.coturn.secret, 'mallory-expired', now - 60),
    'another secret': mintTurnCredential('not-the-turn-secret-0123456789', 'mallory-other-secret', now + TTL),
  };
  const goodServers = (await ctx.srv.api('GET', '/api/v1/ice-servers?user=bob')).body.ice_servers as IceServer[];
  for (const [what, credential] of Object.entries(bad)) {
    const refused = relayPeer([{ urls: ctx.turn, ...credential }]);
    const good = relayPeer(goodServers);
    const sender = videoSender(refused.pc);
    try {
      await negotiate(refused, good);
      // Gathering ends once coturn has answered every Allocate with 401 (quickly: nothing times out).
      await Promise.race([refused.gathered, sleep(10_000).then(() => assert.unreachable(`${what}: gathering did not finish`))]);
      assert.is(refused.candidates.length, 0, `${what}: no relay candidate`);
      await sleep(2000); // the good pair above connected well within this
      for (const p of [refused, good]) {
        assert.not.ok(p.states.includes('connected'), `${what}: never connected (${p.states.join(' ')})`);
        assert.is.not(p.pc.iceConnectionState, 'connected');
      }
      await good.gathered;
      assert.ok(good.candidates.length > 0, `${what}: the other side's good credential still gets a relay`);
      // coturn itself refused that username (the peer did not just give up): for TURN REST API
      // credentials it logs an expired username and a wrong HMAC alike.
      const refusal = `Cannot find credentials of user <${credential.username}>`;
      assert.ok(ctx.coturn.output().includes(refusal), `${what}: coturn logged "${refusal}"`);
    } finally {
      sender.stop();
      refused.pc.close();
      good.pc.close();
    }
  }
  // ... and nothing of the good user's.
  assert.not.match(ctx.coturn.output(), /Cannot find credentials of user <[0-9]+:(alice|bob)>/);
});

test('the node logged neither TURN_SECRET nor any credential it handed out', (ctx) => {
  assert.ok(logs.includes('switchboard listening'), 'the node logs were captured');
  assert.ok(handedOut.size >= 3);
  assert.not.ok(logs.includes(ctx.coturn.secret), 'TURN_SECRET in the logs');
  for (const credential of handedOut) assert.not.ok(logs.includes(credential), 'a TURN credential in the logs');
});

test.run();
