// Cascading a big room across nodes: two real nodes (own mediasoup workers)
// joined by the Redis bus; a publisher on the owner; past the owner's node
// budget a real WebRTC viewer lands on the other node and decodes what is
// piped there over SRTP. Later producers, pause and close follow; losing the
// other node's worker, the node itself, or its bus resets its viewers; a
// room that ends leaves nothing on the other node.

import { existsSync, readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MediaBot } from '../../clients/node/mediaBot.js';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { eventually, sleep } from '../support/net.js';
import { spawnServer, type ServerProcess } from '../support/process.js';
import type { TestServer } from '../support/server.js';

type Ctx = { c: TestCluster; closers: Array<() => Promise<unknown>> };
const test = suite<Ctx>('cascade', {} as Ctx);
test.before(async (ctx) => {
  ctx.c = await startCluster([]); // one PostgreSQL and one redis-server; nodes per test
});
test.after(async (ctx) => ctx.c.stop());
test.before.each((ctx) => {
  ctx.closers = [];
});
test.after.each(async (ctx) => {
  for (const c of ctx.closers.reverse()) await c().catch(() => {});
});

let run = 0;
/** Fast liveness checks, pipe ports in a known range, rooms that close when empty. */
const NODE_ENV = {
  ROOM_EMPTY_TIMEOUT_SECONDS: '0',
  SFU_CASCADE_PING_MS: '1000',
  SFU_CASCADE_PING_MISSES: '3',
  SFU_CASCADE_PORTS: '47000-47099',
  SFU_CASCADE_IDLE_SECONDS: '1',
};

/** A node of this test's cluster (own NODE_ID and key prefix), stopped after the test. */
async function node(ctx: Ctx, id: string, env: Record<string, string> = {}, workers = 1): Promise<TestServer & { id: string }> {
  const srv = await ctx.c.addNode(`${id}-${run}`, { sfuWorkers: workers, env: { ...NODE_ENV, REDIS_PREFIX: `cascade${run}:`, ...env } });
  ctx.closers.push(() => srv.stop());
  return Object.assign(srv, { id: `${id}-${run}` });
}

/** Waits until `n` sees every node in `ids` (and no other) as live. */
async function sees(n: TestServer, ids: string[]): Promise<void> {
  const want = [...ids].sort().join(',');
  await eventually(
    () =>
      n.app
        .cluster!.registry.cachedNodes()
        .map((x) => x.id)
        .sort()
        .join(',') === want,
    10_000,
    `${want} live`,
  );
}

/**
 * The owner (node a) opens the room before node b exists, so placement cannot
 * pick b; then node b joins the cluster. `budget`: node a's consumer budget.
 */
async function pair(
  ctx: Ctx,
  room: string,
  budget: number,
  b: { env?: Record<string, string>; workers?: number } = {},
  aEnv: Record<string, string> = {},
) {
  run++;
  const a = await node(ctx, 'a', { SFU_NODE_CONSUMER_BUDGET: String(budget), ...aEnv });
  const pub = await bot(ctx, a, 'pub', room, 'host');
  assert.ok(a.app.rooms.getRoom(room), 'node a owns the room');
  const nb = await node(ctx, 'b', b.env ?? {}, b.workers ?? 1);
  await sees(a, [a.id, nb.id]);
  return { a, b: nb, pub };
}

async function bot(
  ctx: Ctx,
  srv: { url: string; mint: TestServer['mint'] },
  user: string,
  room: string,
  role: 'host' | 'speaker' = 'speaker',
): Promise<MediaBot> {
  const b = await MediaBot.join(srv.url, await srv.mint({ userId: user, role }), room);
  ctx.closers.push(() => b.close());
  return b;
}

const hosted = (n: TestServer) => n.app.sfu!.cascade!.agent.hosted;
const remoteRouters = (n: TestServer) => n.app.sfu!.cascade!.owner.remoteRouters;

test('past the node budget a viewer lands on the other node, over an SRTP pipe; later producers, pause and close follow', async (ctx) => {
  // Node b announces its pipes by host name, as a container would (SFU_CASCADE_ADDRESS).
  const { a, b, pub } = await pair(ctx, 'big', 1, { env: { SFU_CASCADE_ADDRESS: 'localhost' } });
  const video = await pub.publishVideo();
  const local = await bot(ctx, a, 'v-local', 'big');
  const localTrack = await local.consume(video.id);
  // This viewer connects to node b's WebSocket: its signaling is relayed to the owner, node a.
  const far = await bot(ctx, b, 'v-far', 'big');
  assert.is(b.app.rooms.getRoom('big'), undefined, 'the room lives on node a only');
  assert.ok([...a.app.rooms.getRoom('big')!.participants.values()].some((p) => p.identity.userId === 'v-far'));
  const farTrack = await far.consume(video.id);
  await eventually(() => localTrack.frames >= 5 && farTrack.frames >= 5, 20_000, 'both viewers decode');

  // The far viewer's transport and consumer live on node b; ICE goes to node b's worker port.
  const [router] = hosted(b);
  assert.ok(router, 'node b hosts a router of the room');
  assert.is(router.room, 'big');
  assert.is(router.owner, a.id);
  assert.is(router.transports, 1);
  assert.is(router.consumers, 1);
  assert.is(a.app.sfu!.pool.slots[0].consumers, 1, 'node a: the local viewer');
  assert.is(b.app.sfu!.pool.slots[0].consumers, 1, 'node b: the far viewer');
  const bPort = (await b.app.sfu!.pool.slots[0].webRtcServer.dump()).udpSockets[0].port;
  const farStats = (await far.signaling.request('get-stats', { transport_id: far.recvTransport!.id })).stats as Array<{
    iceSelectedTuple?: { localPort: number };
  }>;
  assert.is(farStats[0].iceSelectedTuple?.localPort, bPort, 'the far viewer is connected to node b');

  // SRTP on both halves of the pipe, and media crossing it.
  const [remote] = remoteRouters(a);
  assert.is(remote.node, b.id);
  for (const pipe of [remote.pipe, router.pipe]) {
    assert.ok(pipe.srtpParameters, 'pipe has SRTP parameters');
    assert.is(pipe.srtpParameters.cryptoSuite, 'AEAD_AES_256_GCM');
    assert.ok(pipe.srtpParameters.keyBase64.length >= 40);
    assert.ok(pipe.tuple.localPort >= 47000 && pipe.tuple.localPort <= 47099, `pipe port ${pipe.tuple.localPort} in SFU_CASCADE_PORTS`);
  }
  assert.is(remote.pipe.tuple.localAddress, '127.0.0.1');
  assert.is(router.pipe.tuple.localAddress, 'localhost');
  assert.is(remote.pipe.tuple.remoteIp, '127.0.0.1', "node a resolved node b's host name");
  assert.is.not(remote.pipe.srtpParameters!.keyBase64, router.pipe.srtpParameters!.keyBase64, 'each side has its own key');
  const pipeBytes = async () => (await router.pipe.getStats())[0].bytesReceived;
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
  assert.ok(
    cStats.some((x) => x.type === 'outbound-rtp'),
    'consumer stats come from node b',
  );
  const bad = await far.signaling.request('set-consumer-layers', { consumer_id: farTrack.consumer.id, spatial_layer: 1 }).then(
    () => null,
    (e) => e,
  );
  assert.is(bad?.code, 'invalid_payload', 'a simple consumer has no layers');
  const unknown = await far.signaling.request('pause-consumer', { consumer_id: '00000000-0000-4000-8000-000000000000' }).then(
    () => null,
    (e) => e,
  );
  assert.is(unknown?.code, 'not_found');
  const restarted = await far.signaling.request('restart-ice', { transport_id: far.recvTransport!.id });
  assert.ok((restarted.ice_parameters as { usernameFragment?: string }).usernameFragment, 'ICE restart answered by node b');
  // Operators see it in the metrics of both nodes.
  const metric = async (n: TestServer, name: string) =>
    Number(new RegExp(`^${name} (\\S+)$`, 'm').exec((await n.api('GET', '/metrics', undefined, null)).body as string)?.[1]);
  assert.is(await metric(a, 'switchboard_cascade_remote_routers'), 1);
  assert.is(await metric(b, 'switchboard_cascade_hosted_routers'), 1);
  assert.is(await metric(b, 'switchboard_cascade_hosted_consumers'), 2);
  // Node b's consumer scores feed the far viewer's connection quality on the owner.
  await eventually(() => a.app.rooms.getRoom('big')!.media!.qualityOf(far.participantId) !== null, 10_000, 'far viewer has a quality');

  // Closing a producer closes the far viewer's consumer.
  await pub.signaling.request('close-producer', { producer_id: video.id });
  const closed = await far.signaling.next('consumer-closed', (p) => p.consumer_id === farTrack.consumer.id);
  assert.is(closed.producer_id, video.id);
  await eventually(() => hosted(b)[0].consumers === 1, 5000, 'node b dropped the closed consumer');
  await local.signaling.next('consumer-closed', (p) => p.consumer_id === localTrack.consumer.id);
  assert.is(far.signaling.unread('sfu-reset').length, 0);

  // The far viewer leaves while the room goes on: its router on node b closes once idle.
  await far.close();
  await eventually(() => hosted(b).length === 0 && remoteRouters(a).length === 0, 10_000, 'idle router on node b closed');
  assert.is(b.app.sfu!.pool.slots[0].routers.size, 0);
  assert.ok(a.app.rooms.getRoom('big'), 'the room itself goes on');
});

test("killing the other node's worker resets only its viewers; they rebuild and get media again", async (ctx) => {
  const { a, b, pub } = await pair(ctx, 'big2', 1);
  const video = await pub.publishVideo();
  const local = await bot(ctx, a, 'v-local', 'big2');
  const localTrack = await local.consume(video.id);
  const far = await bot(ctx, a, 'v-far', 'big2');
  const farTrack = await far.consume(video.id);
  await eventually(() => localTrack.frames >= 3 && farTrack.frames >= 3, 20_000, 'both viewers decode');
  assert.is(hosted(b).length, 1);

  const pool = b.app.sfu!.pool;
  const deadPid = pool.slots[0].pid;
  process.kill(deadPid, 'SIGKILL');
  const reset = await far.signaling.next('sfu-reset', () => true, 10_000);
  assert.is(reset.reason, 'worker-died');
  await eventually(() => remoteRouters(a).length === 0, 5000, 'node a forgot the lost router');
  const before = localTrack.frames;
  await eventually(() => localTrack.frames > before + 5, 10_000, 'the local viewer kept its media');
  assert.is(local.signaling.unread('sfu-reset').length, 0);

  await eventually(() => pool.slots[0].pid !== deadPid && !pool.slots[0].worker.closed, 10_000, 'node b replaced its worker');
  far.resetTransports();
  const again = await far.consume(video.id);
  await eventually(() => again.frames >= 3, 20_000, 'the far viewer decodes after rebuilding');
  assert.is(hosted(b).length, 1, 'back on node b');
});

test('a node killed with SIGKILL resets its viewers; a node shutting down tells them to move', async (ctx) => {
  run++;
  const a = await node(ctx, 'a', { SFU_NODE_CONSUMER_BUDGET: '1' });
  const pub = await bot(ctx, a, 'pub', 'big3', 'host');
  const video = await pub.publishVideo();
  const local = await bot(ctx, a, 'v-local', 'big3');
  await local.consume(video.id);
  // Node b is a real server process, so it can die for real.
  const bId = `b-${run}`;
  const b: ServerProcess = await spawnServer({
    ...ctx.c.env,
    ...NODE_ENV,
    NODE_ID: bId,
    REDIS_PREFIX: `cascade${run}:`,
    RTC_WORKERS: '1',
    RTC_PORT: '0',
    RTC_LISTEN_IP: '127.0.0.1',
  });
  ctx.closers.push(async () => {
    b.child.kill('SIGKILL');
    await b.exited;
  });
  await sees(a, [a.id, bId]);
  const far = await bot(ctx, a, 'v-far', 'big3');
  const farTrack = await far.consume(video.id);
  await eventually(() => farTrack.frames >= 3, 20_000, 'far viewer decodes from node b');
  assert.is(remoteRouters(a)[0]?.node, bId);

  const workerPids = readFileSync(`/proc/${b.child.pid}/task/${b.child.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
  assert.ok(workerPids.length >= 1, 'node b runs a mediasoup worker');
  b.child.kill('SIGKILL');
  await b.exited;
  const reset = await far.signaling.next('sfu-reset', () => true, 15_000);
  assert.is(reset.reason, 'node-lost');
  assert.is(remoteRouters(a).length, 0);
  assert.is(local.signaling.unread('sfu-reset').length, 0);
  await eventually(() => workerPids.every((pid) => !existsSync(`/proc/${pid}`)), 10_000, "node b's worker went with it");

  // A third node takes the viewer when it rebuilds; then it shuts down properly, and says so.
  const c = await node(ctx, 'c');
  await sees(a, [a.id, c.id]);
  far.resetTransports();
  const again = await far.consume(video.id);
  await eventually(() => again.frames >= 3, 20_000, 'the far viewer decodes from node c');
  assert.is(hosted(c).length, 1);
  assert.is(hosted(c)[0].transports, 1, 'the far viewer is on node c');
  assert.is(remoteRouters(a)[0]?.node, c.id);
  await c.stop();
  const closing = await far.signaling.next('sfu-reset', (p) => p.reason === 'node-closing', 10_000);
  assert.is(closing.reason, 'node-closing');
  assert.is(local.signaling.unread('sfu-reset').length, 0);
  assert.is(remoteRouters(a).length, 0);
});

test('viewers on the other node spread over its workers; when the room ends, nothing is left there', async (ctx) => {
  const { a, b, pub } = await pair(ctx, 'ending', 0, { workers: 2, env: { SFU_ROUTER_CONSUMER_BUDGET: '1' } });
  const video = await pub.publishVideo();
  const chat = await pub.produceData('chat');
  const viewers = [await bot(ctx, a, 'v1', 'ending'), await bot(ctx, b, 'v2', 'ending')];
  const tracks = await Promise.all(viewers.map((v) => v.consume(video.id)));
  await eventually(() => tracks.every((t) => t.frames >= 3), 20_000, 'viewers on node b decode');
  assert.is(hosted(b).length, 1, 'one pipe of the room to node b');
  assert.is(hosted(b)[0].transports, 2);
  assert.is(hosted(b)[0].spread, 1, "the second viewer went to node b's other worker");
  assert.equal(
    b.app.sfu!.pool.slots.map((s) => s.consumers),
    [1, 1],
  );
  // Data channels are piped too.
  const dp = a.app.rooms.getRoom('ending')!.media!.dataProducerList()[0];
  const dc = await viewers[1].consumeData(dp.data_producer_id);
  assert.is(dc.label, 'chat');
  const got = new Promise<string>((resolve) => dc.on('message', (m: unknown) => resolve(String(m))));
  await eventually(() => dc.readyState === 'open', 10_000, 'data channel open');
  const sender = setInterval(() => chat.readyState === 'open' && chat.send('hello over the pipe'), 200);
  try {
    assert.is(await Promise.race([got, sleep(10_000).then(() => 'nothing')]), 'hello over the pipe', 'data crosses the SCTP pipe');
  } finally {
    clearInterval(sender);
  }

  for (const v of viewers) await v.close();
  await pub.close();
  await eventually(() => !a.app.rooms.getRoom('ending'), 10_000, 'the room closed on node a');
  await eventually(() => hosted(b).length === 0, 10_000, "node b closed the room's router");
  for (const slot of b.app.sfu!.pool.slots) {
    assert.is(slot.routers.size, 0);
    assert.is(slot.consumers, 0);
    assert.is(slot.pending, 0);
    assert.is((await slot.worker.dump()).routerIds.length, 0, 'workers of node b hold no routers');
    assert.is((await slot.webRtcServer.dump()).webRtcTransportIds.length, 0, 'no transports on node b');
  }
  assert.is(remoteRouters(a).length, 0);
  assert.is((await a.app.sfu!.pool.slots[0].worker.dump()).routerIds.length, 0, 'nor on node a');
});

test('a Redis outage leaves cascaded viewers alone; their events flow again once Redis is back', async (ctx) => {
  const { a, b, pub } = await pair(ctx, 'outage', 1);
  const video = await pub.publishVideo();
  const audio = await pub.publishAudio();
  const local = await bot(ctx, a, 'v-local', 'outage');
  await local.consume(video.id);
  const far = await bot(ctx, a, 'v-far', 'outage');
  const farTrack = await far.consume(video.id);
  await eventually(() => farTrack.frames >= 3, 20_000, 'far viewer decodes');
  assert.is(hosted(b).length, 1);

  await ctx.c.redis.kill();
  // Longer than the cascade's 3 x 1 s checks and the registry's 1 s TTL.
  const during = farTrack.frames;
  await sleep(4500);
  assert.ok(farTrack.frames > during + 10, 'media kept flowing through the pipe without Redis');
  await ctx.c.redis.start();
  await sees(a, [a.id, b.id]);
  await sleep(1500);
  assert.is(far.signaling.unread('sfu-reset').length, 0, 'no reset for an outage');
  assert.is(hosted(b).length, 1, 'node b kept the room');

  // The bus works again: a producer closed now reaches the far viewer.
  const farAudio = await far.consume(audio.id);
  await pub.signaling.request('close-producer', { producer_id: audio.id });
  await far.signaling.next('consumer-closed', (p) => p.consumer_id === farAudio.consumer.id, 10_000);
});

test('dynacast: a viewer on the other node counts as what it asks for through the owner', async (ctx) => {
  const { b, pub } = await pair(ctx, 'dyn', 0, {}, { DYNACAST_LOWER_DELAY_MS: '300' });
  const video = await pub.publishVideo({ simulcast: true });
  const layers = async () => (await pub.signaling.next('publisher-layers', (p) => p.producer_id === video.id, 10_000)).max_spatial_layer;
  assert.is(await layers(), null, 'nobody receives it yet');
  const far = await bot(ctx, b, 'v-far', 'dyn');
  const track = await far.consume(video.id);
  assert.is(hosted(b)[0]?.consumers, 1, 'the viewer consumes on node b');
  assert.is(await layers(), 2);
  await far.signaling.request('set-consumer-layers', { consumer_id: track.consumer.id, spatial_layer: 0 });
  assert.is(await layers(), 0);
  await far.signaling.request('pause-consumer', { consumer_id: track.consumer.id });
  assert.is(await layers(), null);
  await far.signaling.request('resume-consumer', { consumer_id: track.consumer.id });
  assert.is(await layers(), 0);
  await far.close();
  assert.is(await layers(), null, 'the viewer left');
});

test.run();
