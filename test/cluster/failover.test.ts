// Cluster failures with real node processes, a real PostgreSQL and
// a real redis-server: a node killed with SIGKILL (its rooms are placed again
// and its clients are back in a call with media), a drain on SIGTERM (rooms
// move at the deadline, the process exits), and Redis restarted mid-call
// (rooms keep running, new placements are refused, then all recovers).

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { ResilientBot } from '../../clients/node/resilientBot.js';
import { SignalingClient } from '../../clients/node/signalingClient.js';
import { TokenIssuer } from '../../server/edges/auth/tokens.js';
import { testKeys } from '../support/keys.js';
import { eventually } from '../support/net.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { spawnServer, type ServerProcess } from '../support/process.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { FAST_CLUSTER_ENV, startCluster } from '../support/cluster.js';
import { basicAuth } from '../support/server.js';

type Ctx = { pg: PostgresServer; redis: RedisServer; issuer: TokenIssuer; procs: ServerProcess[]; bots: ResilientBot[]; prefix: number };
const test = suite<Ctx>('cluster failover', {} as Ctx);

test.before(async (ctx) => {
  [ctx.pg, ctx.redis] = await Promise.all([startPostgres(), startRedis()]);
  ctx.issuer = await TokenIssuer.fromPrivateKeyFile(testKeys().privateKeyFile, { audience: 'switchboard', issuer: null });
  ctx.prefix = 0;
});
test.after(async (ctx) => {
  await Promise.allSettled([ctx.pg.stop(), ctx.redis.stop()]);
});
test.before.each((ctx) => {
  ctx.procs = [];
  ctx.bots = [];
});
test.after.each(async (ctx) => {
  for (const b of ctx.bots) await b.close().catch(() => {});
  for (const p of ctx.procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
});

async function node(ctx: Ctx, id: string, prefix: string, extra: Record<string, string> = {}): Promise<ServerProcess> {
  const proc = await spawnServer({
    NODE_ID: id,
    REDIS_URL: ctx.redis.url,
    REDIS_PREFIX: prefix,
    DATABASE_URL: ctx.pg.url,
    RTC_WORKERS: '1',
    RTC_PORT: '0',
    RTC_LISTEN_IP: '127.0.0.1',
    LOG_LEVEL: 'info',
    ...FAST_CLUSTER_ENV,
    ...extra,
  });
  ctx.procs.push(proc);
  return proc;
}

/** A node as GET /api/v1/cluster lists it (the fields the tests read). */
interface ClusterNode {
  id: string;
  room_names: string[];
  draining: boolean;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON of every route, read field by field by the tests (a wrong field fails the assertion)
async function api(url: string, method: string, route: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}${route}`, {
    method,
    headers: { authorization: basicAuth(), ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

async function bot(ctx: Ctx, urls: string[], first: number, user: string, room: string, publish = false): Promise<ResilientBot> {
  const b = await ResilientBot.start(
    {
      urls,
      room,
      token: async () => (await ctx.issuer.mint({ userId: user, role: 'speaker', ttlSeconds: 600 })).token,
      publish: publish ? { video: true, audio: true } : {},
    },
    first,
  );
  ctx.bots.push(b);
  return b;
}

/** The node that runs the room, as the cluster view says. */
async function ownerOf(url: string, room: string): Promise<string | null> {
  const view = await api(url, 'GET', '/api/v1/cluster');
  return view.body?.nodes?.find((n: ClusterNode) => n.room_names.includes(room))?.id ?? null;
}

async function sql(ctx: Ctx, text: string, params: unknown[] = []) {
  const db = new pg.Client({ connectionString: ctx.pg.url });
  await db.connect();
  try {
    return (await db.query(text, params)).rows;
  } finally {
    await db.end();
  }
}

/** Both bots receive fresh media: each one's frame count grows. */
async function inMedia(bots: ResilientBot[], what: string): Promise<void> {
  const before = bots.map((b) => b.frames('video'));
  await eventually(() => bots.every((b, i) => b.received.size >= 2 && b.frames('video') >= before[i] + 10), 30_000, what);
}

test('SIGKILL a node: its rooms are placed again, clients are back in the call with media, Postgres shows leave and rejoin', async (ctx) => {
  const prefix = `f${ctx.prefix++}:`;
  const a = await node(ctx, 'kill-a', prefix);
  const b = await node(ctx, 'kill-b', prefix);
  const urls = [a.url, b.url];
  await eventually(async () => (await api(a.url, 'GET', '/api/v1/cluster')).body?.nodes?.length === 2, 10_000, 'two nodes');
  const alice = await bot(ctx, urls, 0, 'alice', 'r-kill', true);
  const bob = await bot(ctx, urls, 1, 'bob', 'r-kill', true);
  await inMedia([alice, bob], 'media before the kill');
  const ownerId = await ownerOf(a.url, 'r-kill');
  assert.ok(ownerId, 'room placed');
  const [call] = await sql(ctx, "SELECT id FROM calls WHERE room = 'r-kill' AND status <> 'ended'");
  const firstIds = [alice.participantId, bob.participantId];

  const victim = ownerId === 'kill-a' ? a : b;
  const survivor = victim === a ? b : a;
  const killedAt = Date.now();
  victim.child.kill('SIGKILL');
  await victim.exited;

  await eventually(() => alice.rejoins >= 1 && bob.rejoins >= 1, 30_000, 'both rejoined');
  await inMedia([alice, bob], 'media after the failover');
  const backInMediaMs = Date.now() - killedAt;
  assert.is(await ownerOf(survivor.url, 'r-kill'), survivor === a ? 'kill-a' : 'kill-b');
  assert.ok(backInMediaMs < 30_000, `back in media after ${backInMediaMs} ms`);

  // The call went on (taken over); the dead node's rows are closed, the new ones open.
  const rows = await sql(ctx, 'SELECT id, user_id, left_at, leave_reason FROM participants WHERE call_id = $1 ORDER BY joined_at', [
    call.id,
  ]);
  const old = rows.filter((r) => firstIds.includes(r.id));
  assert.is(old.length, 2);
  assert.ok(
    old.every((r) => r.left_at !== null && r.leave_reason === 'node-failure'),
    JSON.stringify(old),
  );
  const current = rows.filter((r) => r.left_at === null);
  assert.equal(current.map((r) => r.id).sort(), [alice.participantId, bob.participantId].sort());
  const [callNow] = await sql(ctx, 'SELECT node_id, status FROM calls WHERE id = $1', [call.id]);
  assert.is(callNow.node_id, survivor === a ? 'kill-a' : 'kill-b');
  assert.is(callNow.status, 'active');

  // Leaving for good leaves nothing open.
  await alice.close();
  await bob.close();
  await eventually(
    async () => (await sql(ctx, 'SELECT 1 FROM participants WHERE call_id = $1 AND left_at IS NULL', [call.id])).length === 0,
    10_000,
    'all rows closed',
  );
});

test('SIGKILL the owner mid-recording and live: the survivor closes both (failed, node-failure, files kept), the room records and goes live again there', async (ctx) => {
  const prefix = `f${ctx.prefix++}:`;
  const dir = mkdtempSync(path.join(tmpdir(), 'sb-failover-rec-'));
  const extra = { RECORDINGS_DIR: dir, LIVE_DIR: path.join(dir, 'live') };
  const a = await node(ctx, 'rec-a', prefix, extra);
  const b = await node(ctx, 'rec-b', prefix, extra);
  try {
    const urls = [a.url, b.url];
    await eventually(async () => (await api(a.url, 'GET', '/api/v1/cluster')).body?.nodes?.length === 2, 10_000, 'two nodes');
    const alice = await bot(ctx, urls, 0, 'alice', 'r-rec', true);
    const bob = await bot(ctx, urls, 1, 'bob', 'r-rec', true);
    await inMedia([alice, bob], 'media before the kill');
    const started = await api(a.url, 'POST', '/api/v1/rooms/r-rec/recordings', { mode: 'composite' });
    assert.is(started.status, 201, JSON.stringify(started.body));
    const recordingId = started.body.recording_id as string;
    const live = await api(b.url, 'POST', '/api/v1/rooms/r-rec/live', {});
    assert.is(live.status, 201, JSON.stringify(live.body));
    const streamId = live.body.stream.stream_id as string;
    await eventually(
      async () => (await sql(ctx, 'SELECT 1 FROM recording_files WHERE recording_id = $1', [recordingId])).length > 0,
      20_000,
      'a file recording',
    );
    await eventually(
      async () => (await sql(ctx, 'SELECT status FROM live_streams WHERE id = $1', [streamId]))[0]?.status === 'live',
      30_000,
      'stream live',
    );

    const ownerId = (await ownerOf(a.url, 'r-rec'))!;
    const victim = ownerId === 'rec-a' ? a : b;
    const survivor = victim === a ? b : a;
    victim.child.kill('SIGKILL');
    await victim.exited;

    // Closed by the survivor as soon as the death is confirmed, not left open for ever.
    await eventually(
      async () => (await sql(ctx, 'SELECT status FROM recordings WHERE id = $1', [recordingId]))[0].status === 'failed',
      15_000,
      'recording closed',
    );
    const [rec] = await sql(ctx, 'SELECT end_reason, error FROM recordings WHERE id = $1', [recordingId]);
    assert.is(rec.end_reason, 'node-failure');
    assert.match(rec.error, ownerId);
    const listed = await api(survivor.url, 'GET', `/api/v1/recordings/${recordingId}`);
    assert.is(listed.status, 200);
    assert.ok(listed.body.files.length > 0, 'the partial files are listed');
    assert.ok(
      listed.body.files.every((f: { status: string }) => f.status === 'failed'),
      JSON.stringify(listed.body.files),
    );
    await eventually(
      async () => (await sql(ctx, 'SELECT status FROM live_streams WHERE id = $1', [streamId]))[0].status === 'failed',
      15_000,
      'stream closed',
    );
    const [stream] = await sql(ctx, 'SELECT end_reason FROM live_streams WHERE id = $1', [streamId]);
    assert.is(stream.end_reason, 'node-failure');

    // The participants are back through the survivor: the room records and goes live again there.
    await eventually(() => alice.rejoins >= 1 && bob.rejoins >= 1, 30_000, 'both rejoined');
    await inMedia([alice, bob], 'media after the failover');
    const again = await api(survivor.url, 'POST', '/api/v1/rooms/r-rec/recordings', {});
    assert.is(again.status, 201, JSON.stringify(again.body));
    assert.is(
      (await sql(ctx, 'SELECT node_id FROM recordings WHERE id = $1', [again.body.recording_id]))[0].node_id,
      survivor === a ? 'rec-a' : 'rec-b',
    );
    const liveAgain = await api(survivor.url, 'POST', '/api/v1/rooms/r-rec/live', {});
    assert.is(liveAgain.status, 201, JSON.stringify(liveAgain.body));
    await eventually(
      async () => (await sql(ctx, 'SELECT 1 FROM recording_files WHERE recording_id = $1', [again.body.recording_id])).length > 0,
      20_000,
      'new recording writes',
    );
    await new Promise((r) => setTimeout(r, 2000)); // a couple of seconds of media in the file
    const stopped = await api(survivor.url, 'POST', '/api/v1/rooms/r-rec/recordings/stop');
    assert.is(stopped.status, 200, JSON.stringify(stopped.body));
    assert.is(stopped.body.status, 'ready', JSON.stringify(stopped.body));
  } finally {
    // The killed node's ffmpeg outlives it (waiting for RTP that never comes): not this test's to leave behind.
    spawnSync('pkill', ['-KILL', '-f', dir]);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('drain on SIGTERM: no new rooms on the node, its rooms move at the deadline, the clients are told to reconnect', async (ctx) => {
  const prefix = `f${ctx.prefix++}:`;
  const a = await node(ctx, 'drain-a', prefix, { DRAIN_TIMEOUT_SECONDS: '3' });
  const b = await node(ctx, 'drain-b', prefix, { DRAIN_TIMEOUT_SECONDS: '3' });
  const urls = [a.url, b.url];
  await eventually(async () => (await api(a.url, 'GET', '/api/v1/cluster')).body?.nodes?.length === 2, 10_000, 'two nodes');
  // Place the room on a: a client of a joins it while b is at capacity... simpler: drain whichever owns it.
  const alice = await bot(ctx, urls, 0, 'alice', 'r-drain', true);
  const bob = await bot(ctx, urls, 1, 'bob', 'r-drain', true);
  await inMedia([alice, bob], 'media before the drain');
  const ownerId = (await ownerOf(a.url, 'r-drain'))!;
  const drained = ownerId === 'drain-a' ? a : b;
  const other = drained === a ? b : a;
  const notices: string[] = [];
  for (const bt of [alice, bob])
    bt.bot.signaling
      .next('reconnect', () => true, 20_000)
      .then(
        (r) => notices.push(r.reason),
        () => {},
      );
  const [call] = await sql(ctx, "SELECT id FROM calls WHERE room = 'r-drain' AND status <> 'ended'");

  drained.child.kill('SIGTERM');
  await eventually(
    async () => (await api(other.url, 'GET', '/api/v1/cluster')).body?.nodes?.find((n: ClusterNode) => n.id === ownerId)?.draining === true,
    5000,
    'marked draining',
  );
  assert.is((await fetch(`${drained.url}/api/v1/cluster/ready`)).status, 503);
  // A new room joined through the draining node is placed on the other one.
  const c = await SignalingClient.connect(drained.url);
  await c.request('auth', { token: (await ctx.issuer.mint({ userId: 'carol', role: 'speaker', ttlSeconds: 600 })).token });
  await c.request('join', { room: 'r-new-during-drain' });
  assert.is(await ownerOf(other.url, 'r-new-during-drain'), other === a ? 'drain-a' : 'drain-b');
  await c.close();

  // At the deadline the participants are moved; the process exits cleanly.
  await eventually(() => alice.rejoins >= 1 && bob.rejoins >= 1, 30_000, 'both rejoined');
  assert.equal(notices.sort(), ['node-draining', 'node-draining']);
  assert.is(await drained.exited, 0);
  await inMedia([alice, bob], 'media after the drain');
  assert.is(await ownerOf(other.url, 'r-drain'), other === a ? 'drain-a' : 'drain-b');
  const rows = await sql(ctx, 'SELECT leave_reason, left_at FROM participants WHERE call_id = $1 ORDER BY joined_at', [call.id]);
  assert.equal(
    rows.filter((r) => r.left_at !== null).map((r) => r.leave_reason),
    ['migrated', 'migrated'],
  );
  assert.is(rows.filter((r) => r.left_at === null).length, 2);
});

test("SIGKILL the edge of a relayed client: the room's node sees it leave (disconnected), the others stay", async (ctx) => {
  const prefix = `f${ctx.prefix++}:`;
  const owner = await node(ctx, 'edge-owner', prefix, { RTC_WORKERS: '0' });
  const mintFor = async (user: string) => (await ctx.issuer.mint({ userId: user, role: 'speaker', ttlSeconds: 600 })).token;
  const local = await SignalingClient.connect(owner.url);
  await local.request('auth', { token: await mintFor('stays') });
  await local.request('join', { room: 'r-edge' }); // the only node: placed on it
  const edge = await node(ctx, 'edge-victim', prefix, { RTC_WORKERS: '0' });
  await eventually(async () => (await api(owner.url, 'GET', '/api/v1/cluster')).body?.nodes?.length === 2, 10_000, 'two nodes');
  const relayed = await SignalingClient.connect(edge.url);
  await relayed.request('auth', { token: await mintFor('goes') });
  const joined = await relayed.request('join', { room: 'r-edge' });
  assert.is((await local.next('peer-joined')).participant.participant_id, joined.participant_id);
  assert.is(await ownerOf(owner.url, 'r-edge'), 'edge-owner');

  edge.child.kill('SIGKILL');
  const left = await local.next('peer-left', (p) => p.participant_id === joined.participant_id, 20_000);
  assert.is(left.reason, 'disconnected');
  await eventually(
    async () => (await sql(ctx, 'SELECT left_at FROM participants WHERE id = $1', [joined.participant_id]))[0].left_at !== null,
    5000,
    'row closed',
  );
  const [row] = await sql(ctx, 'SELECT leave_reason FROM participants WHERE id = $1', [joined.participant_id]);
  assert.is(row.leave_reason, 'disconnected');
  // The owner's own client is still in the call.
  assert.type((await local.request('ping', {})).server_time, 'number');
  assert.is((await api(owner.url, 'GET', '/api/v1/rooms/r-edge')).body.num_participants, 1);
  await local.close();
});

test('the calls of a dead node that nobody comes back to are ended after the grace period', async (ctx) => {
  const prefix = `f${ctx.prefix++}:`;
  const victim = await node(ctx, 'reap-victim', prefix, { CLUSTER_REAP_GRACE_MS: '1000' });
  const alone = await SignalingClient.connect(victim.url);
  await alone.request('auth', { token: (await ctx.issuer.mint({ userId: 'orphan', role: 'speaker', ttlSeconds: 600 })).token });
  await alone.request('join', { room: 'r-orphan' }); // the only node: the room is placed there
  const other = await SignalingClient.connect(victim.url);
  await other.request('auth', { token: (await ctx.issuer.mint({ userId: 'orphan2', role: 'speaker', ttlSeconds: 600 })).token });
  await other.request('join', { room: 'r-orphan' });
  const [call] = await sql(ctx, "SELECT id, status FROM calls WHERE room = 'r-orphan' AND status <> 'ended'");
  assert.is(call.status, 'active');
  // A survivor joins the cluster, then the victim dies and nobody rejoins its room.
  const survivor = await node(ctx, 'reap-survivor', prefix, { CLUSTER_REAP_GRACE_MS: '1000' });
  await eventually(async () => (await api(survivor.url, 'GET', '/api/v1/cluster')).body?.nodes?.length === 2, 10_000, 'two nodes');
  victim.child.kill('SIGKILL');
  await eventually(
    async () => (await sql(ctx, 'SELECT status FROM calls WHERE id = $1', [call.id]))[0].status === 'ended',
    20_000,
    'call ended by the survivor',
  );
  const [ended] = await sql(ctx, 'SELECT end_reason FROM calls WHERE id = $1', [call.id]);
  assert.is(ended.end_reason, 'node-failure');
  const rows = await sql(ctx, 'SELECT left_at, leave_reason FROM participants WHERE call_id = $1', [call.id]);
  assert.is(rows.length, 2);
  assert.ok(rows.every((r) => r.left_at !== null && r.leave_reason === 'node-failure'));
  await alone.close();
  await other.close();
});

test('Redis restarted mid-call: rooms keep running, new rooms are refused with unavailable, then everything recovers', async () => {
  const c = await startCluster(['redis-a', 'redis-b'], { sfuWorkers: 1 });
  try {
    const [a, b] = c.nodes as [(typeof c.nodes)[0], (typeof c.nodes)[0]];
    await eventually(() => c.nodes.every((n) => n.app.cluster!.registry.cachedNodes().length === 2), 10_000, 'two nodes');
    const alice = await a.joined('alice', 'r-redis');
    const bob = await b.joined('bob', 'r-redis');
    const owner = c.nodes.find((n) => n.app.rooms.getRoom('r-redis'))!;
    const direct = owner === a ? alice : bob;
    const relayed = owner === a ? bob : alice;
    const ownerId = owner.app.config.nodeId;
    const edgeNode = owner === a ? b : a;
    const ghost = await edgeNode.joined('ghost', 'r-redis'); // relayed; its socket closes during the outage

    await c.redis.kill();
    await ghost.client.close(); // the edge cannot tell the owner now
    // The owner's room works for its own clients: a local join and local signaling.
    const late = await owner.joined('late', 'r-redis');
    assert.is((await direct.client.next('peer-joined', (p) => p.participant.user_id === 'late')).participant.user_id, 'late');
    await late.client.request('mute', { track: 'audio' });
    assert.is((await direct.client.next('mute')).from, late.id);
    // A new room cannot be placed.
    const fresh = await a.connect();
    await fresh.request('auth', { token: await a.mint({ userId: 'dave' }) });
    const refused = await fresh.request('join', { room: 'r-new-in-outage' }).catch((e) => e);
    assert.is(refused.code, 'unavailable');

    await c.redis.start(); // empty: registry, leases and subscriptions come back on their own
    await eventually(
      () => c.nodes.every((n) => n.app.cluster!.registry.healthy && n.app.cluster!.registry.cachedNodes().length === 2),
      15_000,
      'registry back',
    );
    await eventually(async () => (await a.app.cluster!.directory.owner('r-redis')) === ownerId, 10_000, 'lease re-taken by the owner');
    await eventually(
      async () => {
        const ok = await fresh.request('join', { room: 'r-new-after-outage' }).then(
          () => true,
          () => false,
        );
        return ok;
      },
      15_000,
      'new rooms placed again',
    );
    // The relayed client's signaling flows again, in both directions.
    await eventually(
      async () => {
        await relayed.client.request('hold', {}).catch(() => {});
        return direct.client
          .next('hold', () => true, 500)
          .then(
            () => true,
            () => false,
          );
      },
      15_000,
      'relay works again',
    );
    await direct.client.request('unhold', {});
    assert.is((await relayed.client.next('unhold', (p) => p.from === direct.id, 5000)).from, direct.id);
    // The ghost's leave was lost with Redis; the owner reconciles with the edge and lets it go.
    const gone = await direct.client.next('peer-left', (p) => p.participant_id === ghost.id, 15_000);
    assert.is(gone.reason, 'disconnected');
    assert.is(owner.app.rooms.getRoom('r-redis')!.participants.size, 3);
  } finally {
    await c.stop();
  }
});

test.run();
