// The mediasoup objects clients send are checked by our schemas before
// mediasoup sees them, and client mistakes mediasoup would report as plain
// errors come back as documented codes, never internal_error.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MediaBot } from '../../clients/node/mediaBot.js';
import type { SignalingClient } from '../../clients/node/signalingClient.js';
import type { ClientPayloads } from '../../signaling/protocol/protocol.js';
import { eventually } from '../support/net.js';
import { startServer, type TestServer } from '../support/server.js';

type Ctx = { srv: TestServer; clients: SignalingClient[]; bots: MediaBot[] };
const test = suite<Ctx>('sfu request errors', {} as Ctx);
test.before(async (ctx) => {
  ctx.srv = await startServer({ sfuWorkers: 1 });
});
test.after(async (ctx) => ctx.srv.stop());
test.before.each((ctx) => {
  ctx.clients = [];
  ctx.bots = [];
});
test.after.each(async (ctx) => {
  for (const b of ctx.bots) await b.close().catch(() => {});
  for (const c of ctx.clients) await c.close().catch(() => {});
});

async function joined(ctx: Ctx, user: string, room: string): Promise<SignalingClient> {
  const { client } = await ctx.srv.joined(user, room);
  ctx.clients.push(client);
  return client;
}

async function bot(ctx: Ctx, user: string, room: string): Promise<MediaBot> {
  const b = await MediaBot.join(ctx.srv.url, await ctx.srv.mint({ userId: user }), room);
  ctx.bots.push(b);
  return b;
}

type Rtp = ClientPayloads['produce']['rtp_parameters'];
const opus = (mid: string, ssrc: number): Rtp => ({
  mid,
  codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }],
  encodings: [{ ssrc }],
});
const vp8 = (mid: string, ssrc: number, rtx?: number): Rtp => ({
  mid,
  codecs: [
    { mimeType: 'video/VP8', payloadType: 101, clockRate: 90000 },
    { mimeType: 'video/rtx', payloadType: 102, clockRate: 90000, parameters: { apt: 101 } },
  ],
  encodings: [{ ssrc, ...(rtx ? { rtx: { ssrc: rtx } } : {}) }],
});

/** The error a request gets, as [code, field]. */
function refusal(p: Promise<unknown>): Promise<[string, string | undefined]> {
  return p.then(
    () => assert.unreachable('the request was accepted') as never,
    (e: { code: string; field?: string }) => [e.code, e.field],
  );
}

test('bad mediasoup objects are invalid_payload with the field path, and the worker keeps serving everyone', async (ctx) => {
  const { srv } = ctx;
  const c = await joined(ctx, 'v', 'e-schema');
  const { transport } = await c.request('create-transport', { direction: 'send', sctp: true });
  const produce = (rtp: unknown, kind: 'audio' | 'video' = 'video', source: 'camera' | 'mic' = 'camera') =>
    refusal(c.request('produce', { transport_id: transport.id, kind, source, rtp_parameters: rtp as Rtp }));
  const base = vp8('0', 1111);
  const encoding = (e: Record<string, unknown>) => ({ ...base, encodings: [e] });

  // A fractional maxBitrate: the value that wedges an unpatched mediasoup 3.27.1 worker for good.
  assert.equal(await produce(encoding({ ssrc: 1, maxBitrate: 1.5 })), [
    'invalid_payload',
    'payload.rtp_parameters.encodings[0].maxBitrate',
  ]);
  assert.equal(await produce(encoding({ ssrc: 2 ** 32 })), ['invalid_payload', 'payload.rtp_parameters.encodings[0].ssrc']);
  assert.equal(await produce(encoding({ ssrc: 1, rtx: { ssrc: 7.5 } })), [
    'invalid_payload',
    'payload.rtp_parameters.encodings[0].rtx.ssrc',
  ]);
  assert.equal(await produce(encoding({ ssrc: 1, scalabilityMode: 'L1T3'.repeat(20) })), [
    'invalid_payload',
    'payload.rtp_parameters.encodings[0].scalabilityMode',
  ]);
  assert.equal(await produce({ ...base, encodings: Array.from({ length: 9 }, (_, i) => ({ ssrc: i + 1 })) }), [
    'invalid_payload',
    'payload.rtp_parameters.encodings',
  ]);
  assert.equal(await produce({ ...base, codecs: [{ mimeType: 'video/VP8', payloadType: 200, clockRate: 90000 }] }), [
    'invalid_payload',
    'payload.rtp_parameters.codecs[0].payloadType',
  ]);
  assert.equal(await produce({ ...base, codecs: [{ mimeType: 'video/VP8', payloadType: 101, clockRate: 90000.5 }] }), [
    'invalid_payload',
    'payload.rtp_parameters.codecs[0].clockRate',
  ]);
  assert.equal(await produce({ ...base, codecs: [] }), ['invalid_payload', 'payload.rtp_parameters.codecs']);
  assert.equal(
    await produce({ ...base, codecs: [{ mimeType: 'video/VP8', payloadType: 101, clockRate: 90000, parameters: { big: 2 ** 40 } }] }),
    ['invalid_payload', 'payload.rtp_parameters.codecs[0].parameters.big'],
  );
  assert.equal(
    await produce(
      { ...opus('0', 1), codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2.5 }] },
      'audio',
      'mic',
    ),
    ['invalid_payload', 'payload.rtp_parameters.codecs[0].channels'],
  );
  assert.equal(await produce({ ...base, headerExtensions: [{ uri: 'urn:example:unknown', id: 1 }] }), [
    'invalid_payload',
    'payload.rtp_parameters.headerExtensions[0].uri',
  ]);
  assert.equal(await produce({ ...base, headerExtensions: [{ uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 1.5 }] }), [
    'invalid_payload',
    'payload.rtp_parameters.headerExtensions[0].id',
  ]);
  assert.equal(
    await refusal(
      c.request('connect-transport', {
        transport_id: transport.id,
        dtls_parameters: { role: 'client', fingerprints: [{ algorithm: 'md5' as never, value: 'AB:CD' }] },
      }),
    ),
    ['invalid_payload', 'payload.dtls_parameters.fingerprints[0].algorithm'],
  );
  assert.equal(
    await refusal(
      c.request('connect-transport', {
        transport_id: transport.id,
        dtls_parameters: { role: 'client', fingerprints: [] },
      }),
    ),
    ['invalid_payload', 'payload.dtls_parameters.fingerprints'],
  );
  assert.equal(
    await refusal(
      c.request('produce-data', {
        transport_id: transport.id,
        sctp_stream_parameters: { streamId: 1.5 },
      }),
    ),
    ['invalid_payload', 'payload.sctp_stream_parameters.streamId'],
  );
  assert.equal(
    await refusal(
      c.request('produce-data', {
        transport_id: transport.id,
        sctp_stream_parameters: { streamId: 1, maxRetransmits: 70_000 },
      }),
    ),
    ['invalid_payload', 'payload.sctp_stream_parameters.maxRetransmits'],
  );
  assert.equal(
    await refusal(
      c.request('consume', {
        transport_id: transport.id,
        producer_id: 'x',
        rtp_capabilities: { codecs: [{ kind: 'video', mimeType: 'video/VP8', preferredPayloadType: '96' as never, clockRate: 90000 }] },
      }),
    ),
    ['invalid_payload', 'payload.rtp_capabilities.codecs[0].preferredPayloadType'],
  );

  // Nothing reached mediasoup, so nothing went wrong there: the same transport takes a good producer,
  // real clients publish and receive on the same worker, and no health check ever failed.
  const ok = await c.request('produce', { transport_id: transport.id, kind: 'video', source: 'camera', rtp_parameters: base });
  assert.ok(ok.producer_id);
  const pub = await bot(ctx, 'pub', 'e-schema');
  const sub = await bot(ctx, 'sub', 'e-schema');
  const track = await sub.consume((await pub.publishVideo({ simulcast: true })).id);
  await eventually(() => track.frames > 3, 20_000, 'media flows');
  assert.is(srv.app.sfu!.pool.stats.failedChecks, 0);
});

test('client mistakes mediasoup only reports as plain errors: conflict / invalid_payload / not_found, never internal_error', async (ctx) => {
  const pool = ctx.srv.app.sfu!.pool;
  // Connecting a transport twice: a real client connected it through mediasoup-client.
  const a = await bot(ctx, 'a', 'e-codes');
  await a.publishAudio();
  const dtls = { role: 'client' as const, fingerprints: [{ algorithm: 'sha-256' as const, value: 'AB:CD' }] };
  assert.equal(await refusal(a.signaling.request('connect-transport', { transport_id: a.sendTransport!.id, dtls_parameters: dtls })), [
    'conflict',
    'transport_id',
  ]);

  // Reused mid, SSRC and RTX SSRC on one transport; given back when the producer closes.
  const c = await joined(ctx, 'c', 'e-codes');
  const { transport: plain } = await c.request('create-transport', { direction: 'send' });
  const produce = (kind: 'audio' | 'video', source: 'mic' | 'camera' | 'screen', rtp: Rtp) =>
    c.request('produce', { transport_id: plain.id, kind, source, rtp_parameters: rtp });
  const mic = await produce('audio', 'mic', opus('0', 1111));
  assert.equal(await refusal(produce('video', 'camera', vp8('0', 2222))), ['conflict', 'rtp_parameters.mid']);
  assert.equal(await refusal(produce('video', 'camera', vp8('1', 1111))), ['conflict', 'rtp_parameters.encodings']);
  const camera = await produce('video', 'camera', vp8('1', 2222, 3333));
  assert.equal(await refusal(produce('video', 'screen', vp8('2', 4444, 3333))), ['conflict', 'rtp_parameters.encodings']);
  await c.request('close-producer', { producer_id: mic.producer_id });
  const again = await produce('audio', 'mic', opus('0', 1111));
  assert.ok(again.producer_id && camera.producer_id);

  // Data on a transport made without SCTP, on either side.
  assert.equal(await refusal(c.request('produce-data', { transport_id: plain.id, sctp_stream_parameters: { streamId: 1 } })), [
    'invalid_payload',
    'transport_id',
  ]);
  const { transport: recv } = await c.request('create-transport', { direction: 'recv' });
  const channel = await a.produceData('chat');
  assert.equal(await refusal(c.request('consume-data', { transport_id: recv.id, data_producer_id: channel.id })), [
    'invalid_payload',
    'transport_id',
  ]);

  // A reused SCTP stream id; free again once its data producer closes.
  const d = await joined(ctx, 'd', 'e-codes');
  const { transport: sctp } = await d.request('create-transport', { direction: 'send', sctp: true });
  const first = await d.request('produce-data', { transport_id: sctp.id, sctp_stream_parameters: { streamId: 5 } });
  assert.equal(
    await refusal(
      d.request('produce-data', { transport_id: sctp.id, sctp_stream_parameters: { streamId: 5, ordered: false, maxRetransmits: 2 } }),
    ),
    ['conflict', 'sctp_stream_parameters.streamId'],
  );
  await d.request('close-data-producer', { data_producer_id: first.data_producer_id });
  assert.ok((await d.request('produce-data', { transport_id: sctp.id, sctp_stream_parameters: { streamId: 5 } })).data_producer_id);
  assert.equal(
    await refusal(
      d.request('produce-data', {
        transport_id: sctp.id,
        sctp_stream_parameters: { streamId: 6, ordered: false, maxRetransmits: 2, maxPacketLifeTime: 100 },
      }),
    ),
    ['invalid_payload', 'sctp_stream_parameters'],
  );

  // Unknown ids.
  assert.equal(await refusal(d.request('connect-transport', { transport_id: 'nope', dtls_parameters: dtls })), [
    'not_found',
    'transport_id',
  ]);
  assert.equal(await refusal(d.request('close-producer', { producer_id: 'nope' })), ['not_found', 'producer_id']);
  assert.equal(await refusal(d.request('resume-consumer', { consumer_id: 'nope' })), ['not_found', 'consumer_id']);
  assert.equal(await refusal(d.request('close-data-producer', { data_producer_id: 'nope' })), ['not_found', 'data_producer_id']);
  const { transport: dRecv } = await d.request('create-transport', { direction: 'recv', sctp: true });
  assert.equal(await refusal(d.request('consume-data', { transport_id: dRecv.id, data_producer_id: 'nope' })), [
    'not_found',
    'data_producer_id',
  ]);

  // None of this was mistaken for a sick worker.
  assert.is(pool.stats.failedChecks, 0);
  assert.equal(pool.stats.replaced, { died: 0, unhealthy: 0 });
});

test('SFU requests racing with the end of their room get not_in_room, never internal_error', async (ctx) => {
  // The room's first SFU request makes its router and speaker observers; ending the room meanwhile
  // closed the router under them (the fuzzer found sfu-capabilities answered internal_error).
  const codes = new Map<string, number>();
  for (let i = 0; i < 15; i++) {
    const room = `race-end-${i}`;
    const client = await joined(ctx, `racer-${i}`, room);
    const requests = [
      client.request('sfu-capabilities', {}),
      client.request('create-transport', { direction: 'send' }),
      client.request('create-transport', { direction: 'recv' }),
    ].map((r) =>
      r.then(
        () => 'ok',
        (e: { code?: string }) => e.code ?? 'no code',
      ),
    );
    await new Promise((r) => setTimeout(r, i % 5)); // land the end at different points of the set-up
    await ctx.srv.api('POST', `/api/v1/rooms/${room}/end`);
    for (const code of await Promise.all(requests)) codes.set(code, (codes.get(code) ?? 0) + 1);
  }
  const seen = [...codes.keys()];
  assert.ok(
    seen.every((c) => ['ok', 'not_in_room', 'conflict'].includes(c)),
    JSON.stringify([...codes]),
  );
  const pool = ctx.srv.app.sfu!.pool;
  assert.equal(pool.stats.replaced, { died: 0, unhealthy: 0 });
});

test.run();
