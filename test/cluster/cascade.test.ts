// Cascading a big room across nodes: two real nodes (own mediasoup workers)
// joined by the Redis bus; a publisher on the owner; past the owner's node
// budget a real WebRTC viewer lands on the other node and decodes what is
// piped there over SRTP. Later producers, pause and close follow; losing the
// other node's worker, the node itself, or its bus resets its viewers; a
// room that ends leaves nothing on the other node.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MediaBot } from '../../clients/node/mediaBot.js';
import { RedisNodeBus } from '../../server/cluster/nodeBus.js';
import { createLogger } from '../../server/logger.js';
import { eventually } from '../support/net.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { startServer, type TestServer } from '../support/server.js';

const log = createLogger(process.env['TEST_LOG_LEVEL'] ?? 'silent');

interface Node {
  srv: TestServer;
  bus: RedisNodeBus;
  stop(): Promise<void>;
}

type Ctx = { redis: RedisServer; closers: Array<() => Promise<unknown>> };
const test = suite<Ctx>('cascade', {} as Ctx);
test.before(async (ctx) => {
  ctx.redis = await startRedis();
});
test.after(async (ctx) => ctx.redis.stop());
test.before.each((ctx) => {
  ctx.closers = [];
});
test.after.each(async (ctx) => {
  for (const c of ctx.closers.reverse()) await c().catch(() => {});
});

let prefixes = 0;

/** Where each node may send viewers (the cluster's registry in production). */
const candidates = new Map<string, string[]>();

/** Two nodes on one Redis; `a` owns the rooms its clients open and cascades past `budget` consumers. */
async function pair(ctx: Ctx, budget: number, bOpts: { workers?: number; env?: Record<string, string> } = {}): Promise<{ a: Node; b: Node; prefix: string }> {
  const prefix = `cascade${++prefixes}:`;
  const env = { ROOM_EMPTY_TIMEOUT_SECONDS: '0', SFU_CASCADE_PING_MS: '300', SFU_CASCADE_PING_MISSES: '3', SFU_CASCADE_PORTS: '47000-47099' };
  const node = async (id: string, other: string, nodeBudget: number, workers = 1, extra: Record<string, string> = {}): Promise<Node> => {
    const srv = await startServer({ sfuWorkers: workers, env: { ...env, NODE_ID: id, SFU_NODE_CONSUMER_BUDGET: String(nodeBudget), ...extra } });
    const bus = await RedisNodeBus.connect({ redisUrl: ctx.redis.url, nodeId: id, prefix, log, requestTimeoutMs: 3000 });
    candidates.set(id, [other]);
    srv.app.sfu!.enableCascade(bus, { candidates: () => candidates.get(id)! }, srv.app.config.cascade);
    let stopped = false;
    const n: Node = {
      srv,
      bus,
      async stop() {
        if (stopped) return;
        stopped = true;
        await srv.app.sfu!.closeCascade();
        await bus.close();
        await srv.stop();
      },
    };
    ctx.closers.push(() => n.stop());
    return n;
  };
  const a = await node('node-a', 'node-b', budget);
  const b = await node('node-b', 'node-a', 100, bOpts.workers, bOpts.env);
  return { a, b, prefix };
}

async function bot(ctx: Ctx, srv: TestServer, user: string, room: string, role: 'host' | 'viewer' = 'viewer'): Promise<MediaBot> {
  const b = await MediaBot.join(srv.url, await srv.mint({ userId: user, role: role === 'host' ? 'host' : 'speaker' }), room);
  ctx.closers.push(() => b.close());
  return b;
}

const hosted = (n: Node) => n.srv.app.sfu!.cascade!.agent.hosted;
const remoteRouters = (n: Node) => n.srv.app.sfu!.cascade!.owner.remoteRouters;

test('past the node budget a viewer lands on the other node, over an SRTP pipe; later producers, pause and close follow', async (ctx) => {
  const { a, b } = await pair(ctx, 1);
  const pub = await bot(ctx, a.srv, 'pub', 'big', 'host');
  const video = await pub.publishVideo();
  const local = await bot(ctx, a.srv, 'v-local', 'big');
  const localTrack = await local.consume(video.id);
  const far = await bot(ctx, a.srv, 'v-far', 'big');
  const farTrack = await far.consume(video.id);
  await eventually(() => localTrack.frames >= 5 && farTrack.frames >= 5, 20_000, 'both viewers decode');

  // The far viewer's transport and consumer live on node b; ICE goes to node b's worker port.
  const [router] = hosted(b);
  assert.ok(router, 'node b hosts a router of the room');
  assert.is(router!.room, 'big');
  assert.is(router!.owner, 'node-a');
  assert.is(router!.transports, 1);
  assert.is(router!.consumers, 1);
  const bPort = (await b.srv.app.sfu!.pool.slots[0]!.webRtcServer.dump()).udpSockets[0]!.port;
  assert.is(a.srv.app.sfu!.pool.slots[0]!.consumers, 1, 'node a: the local viewer');
  assert.is(b.srv.app.sfu!.pool.slots[0]!.consumers, 1, 'node b: the far viewer');
  const farStats = (await far.signaling.request('get-stats', { transport_id: far.recvTransport!.id })).stats as Array<{ iceSelectedTuple?: { localPort: number } }>;
  assert.is(farStats[0]!.iceSelectedTuple?.localPort, bPort, 'the far viewer is connected to node b');

  // SRTP on both halves of the pipe, and media crossing it.
  const [remote] = remoteRouters(a);
  assert.is(remote!.node, 'node-b');
  for (const pipe of [remote!.pipe, router!.pipe]) {
    assert.ok(pipe.srtpParameters, 'pipe has SRTP parameters');
    assert.is(pipe.srtpParameters!.cryptoSuite, 'AEAD_AES_256_GCM');
    assert.ok(pipe.srtpParameters!.keyBase64.length >= 40);
    assert.ok(pipe.tuple.localPort >= 47000 && pipe.tuple.localPort <= 47099, `pipe port ${pipe.tuple.localPort} in SFU_CASCADE_PORTS`);
    assert.is(pipe.tuple.localAddress, '127.0.0.1');
  }
  assert.is.not(remote!.pipe.srtpParameters!.keyBase64, router!.pipe.srtpParameters!.keyBase64, 'each side has its own key');
  const pipeBytes = async () => (await router!.pipe.getStats())[0]!.bytesReceived;
  const first = await pipeBytes();
  await eventually(async () => (await pipeBytes()) > first + 5000, 10_000, 'media keeps crossing the pipe');

  // A producer added later reaches the far viewer.
  const audio = await pub.publishAudio();
  const added = await far.signaling.next('producer-added', (p) => p.producer_id === audio.id);
  assert.is(added.kind, 'audio');
  const farAudio = await far.consume(audio.id);
  await eventually(() => farAudio.frames >= 20, 20_000, 'far viewer decodes the later audio');

  // Pause and resume follow over the pipe.
  await pub.signaling.request('pause-producer', { producer_id: audio.id });
  await far.signaling.next('consumer-paused', (p) => p.consumer_id === farAudio.consumer.id);
  await pub.signaling.request('resume-producer', { producer_id: audio.id });
  await far.signaling.next('consumer-resumed', (p) => p.consumer_id === farAudio.consumer.id);

  // Consumer requests of the far viewer reach node b (stats, pause), and bad ones get typed errors.
  const cStats = (await far.signaling.request('get-stats', { consumer_id: farTrack.consumer.id })).stats as Array<{ type: string }>;
  assert.ok(cStats.some((s) => s.type === 'outbound-rtp'), 'consumer stats come from node b');
  const bad = await far.signaling.request('set-consumer-layers', { consumer_id: farTrack.consumer.id, spatial_layer: 1 }).then(() => null, (e) => e);
  assert.is(bad?.code, 'invalid_payload', 'a simple consumer has no layers');
  const unknown = await far.signaling.request('pause-consumer', { consumer_id: '00000000-0000-4000-8000-000000000000' }).then(() => null, (e) => e);
  assert.is(unknown?.code, 'not_found');

  // Closing a producer closes the far viewer's consumer.
  await pub.signaling.request('close-producer', { producer_id: video.id });
  const closed = await far.signaling.next('consumer-closed', (p) => p.consumer_id === farTrack.consumer.id);
  assert.is(closed.producer_id, video.id);
  await eventually(() => hosted(b)[0]!.consumers === 1, 5000, 'node b dropped the closed consumer');
  await local.signaling.next('consumer-closed', (p) => p.consumer_id === localTrack.consumer.id);
  assert.is(far.signaling.unread('sfu-reset').length, 0);
});

test('killing the other node\'s worker resets only its viewers; they rebuild and get media again', async (ctx) => {
  const { a, b } = await pair(ctx, 1);
  const pub = await bot(ctx, a.srv, 'pub', 'big', 'host');
  const video = await pub.publishVideo();
  const local = await bot(ctx, a.srv, 'v-local', 'big');
  const localTrack = await local.consume(video.id);
  const far = await bot(ctx, a.srv, 'v-far', 'big');
  const farTrack = await far.consume(video.id);
  await eventually(() => localTrack.frames >= 3 && farTrack.frames >= 3, 20_000, 'both viewers decode');

  const pool = b.srv.app.sfu!.pool;
  const deadPid = pool.slots[0]!.pid;
  process.kill(deadPid, 'SIGKILL');
  const reset = await far.signaling.next('sfu-reset', () => true, 10_000);
  assert.is(reset.reason, 'worker-died');
  await eventually(() => remoteRouters(a).length === 0, 5000, 'node a forgot the lost router');
  const before = localTrack.frames;
  await eventually(() => localTrack.frames > before + 5, 10_000, 'the local viewer kept its media');
  assert.is(local.signaling.unread('sfu-reset').length, 0);

  await eventually(() => pool.slots[0]!.pid !== deadPid && !pool.slots[0]!.worker.closed, 10_000, 'node b replaced its worker');
  far.resetTransports();
  const again = await far.consume(video.id);
  await eventually(() => again.frames >= 3, 20_000, 'the far viewer decodes after rebuilding');
  assert.is(hosted(b).length, 1, 'back on node b');
});

test('closing the other node, or losing it without a word, resets its viewers', async (ctx) => {
  const { a, b, prefix } = await pair(ctx, 1);
  const pub = await bot(ctx, a.srv, 'pub', 'big', 'host');
  const video = await pub.publishVideo();
  const local = await bot(ctx, a.srv, 'v-local', 'big');
  await local.consume(video.id);
  const far = await bot(ctx, a.srv, 'v-far', 'big');
  const farTrack = await far.consume(video.id);
  await eventually(() => farTrack.frames >= 3, 20_000, 'far viewer decodes');

  // Node b disappears without telling anyone (its bus drops): pings go unanswered.
  await b.bus.close();
  const reset = await far.signaling.next('sfu-reset', () => true, 10_000);
  assert.is(reset.reason, 'node-lost');
  // ...and node b, no longer hearing from the owner, closes the orphaned router by itself.
  await eventually(() => hosted(b).length === 0, 10_000, 'node b closed the orphaned router');
  assert.is(b.srv.app.sfu!.pool.slots[0]!.routers.size, 0);
  await b.stop();

  // A third node takes the viewers; then it shuts down properly and says so.
  const c = await startServer({ sfuWorkers: 1, env: { NODE_ID: 'node-c', ROOM_EMPTY_TIMEOUT_SECONDS: '0' } });
  const cBus = await RedisNodeBus.connect({ redisUrl: ctx.redis.url, nodeId: 'node-c', prefix, log });
  c.app.sfu!.enableCascade(cBus, { candidates: () => ['node-a'] }, c.app.config.cascade);
  ctx.closers.push(async () => {
    await cBus.close();
    await c.stop();
  });
  candidates.set('node-a', ['node-c']);
  far.resetTransports();
  const again = await far.consume(video.id);
  await eventually(() => again.frames >= 3, 20_000, 'the far viewer decodes from node c');
  assert.is(c.app.sfu!.cascade!.agent.hosted.length, 1);
  await c.app.sfu!.closeCascade();
  const closing = await far.signaling.next('sfu-reset', (p) => p.reason === 'node-closing', 10_000);
  assert.is(closing.reason, 'node-closing');
  assert.is(local.signaling.unread('sfu-reset').length, 0);
});

test('viewers on the other node spread over its workers; when the room ends, nothing is left there', async (ctx) => {
  const { a, b } = await pair(ctx, 0, { workers: 2, env: { SFU_ROUTER_CONSUMER_BUDGET: '1' } });
  const pub = await bot(ctx, a.srv, 'pub', 'ending', 'host');
  const video = await pub.publishVideo();
  await pub.produceData('chat');
  const viewers = [await bot(ctx, a.srv, 'v1', 'ending'), await bot(ctx, a.srv, 'v2', 'ending')];
  const tracks = await Promise.all(viewers.map((v) => v.consume(video.id)));
  await eventually(() => tracks.every((t) => t.frames >= 3), 20_000, 'viewers on node b decode');
  assert.is(hosted(b).length, 1, 'one pipe of the room to node b');
  assert.is(hosted(b)[0]!.transports, 2);
  assert.is(hosted(b)[0]!.spread, 1, 'the second viewer went to node b\'s other worker');
  assert.equal(b.srv.app.sfu!.pool.slots.map((s) => s.consumers), [1, 1]);
  // Data channels are piped too.
  const dp = [...a.srv.app.rooms.getRoom('ending')!.media!.dataProducerList()][0]!;
  const dc = await viewers[0]!.consumeData(dp.data_producer_id);
  assert.is(dc.label, 'chat');

  for (const v of viewers) await v.close();
  await pub.close();
  await eventually(() => a.srv.app.rooms.roomCount === 0, 10_000, 'the room closed on node a');
  await eventually(() => hosted(b).length === 0, 10_000, 'node b closed the room\'s router');
  for (const slot of b.srv.app.sfu!.pool.slots) {
    assert.is(slot.routers.size, 0);
    assert.is(slot.consumers, 0);
    assert.is(slot.pending, 0);
    assert.is((await slot.worker.dump()).routerIds.length, 0, 'workers of node b hold no routers');
    assert.is((await slot.webRtcServer.dump()).webRtcTransportIds.length, 0, 'no transports on node b');
  }
  assert.is(remoteRouters(a).length, 0);
  assert.is((await a.srv.app.sfu!.pool.slots[0]!.worker.dump()).routerIds.length, 0, 'nor on node a');
});

test.run();
