// Cluster with three in-process nodes, a real PostgreSQL and a real
// redis-server: any node takes any client, signaling is relayed to the room's
// node, media flows between clients on different nodes, racing joins agree on
// one owner, REST acts on the owner's room, and the admin view shows it all.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { MediaBot } from '../../clients/node/mediaBot.js';
import type { SignalingClient } from '../../clients/node/signalingClient.js';
import { API_KEY, API_SECRET, basicAuth, type TestServer } from '../support/server.js';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { eventually } from '../support/net.js';

type Ctx = { c: TestCluster; a: TestServer; b: TestServer; n3: TestServer; bots: MediaBot[] };
/** A room as GET /api/v1/rooms lists it (the fields the tests read). */
interface RoomRow {
  name: string;
  num_participants: number;
  call_state: string;
  call_id: string | null;
  node_id: string;
}

/** A node as GET /api/v1/cluster lists it (the fields the tests read). */
interface ClusterNode {
  id: string;
  signalingUrl: string;
  room_names: string[];
  draining: boolean;
  capacity: { participants: number };
  load: { participants: number; cpu: number };
}

const test = suite<Ctx>('cluster relay', {} as Ctx);

test.before(async (ctx) => {
  ctx.c = await startCluster(['node-a', 'node-b', 'node-c'], { sfuWorkers: 1 });
  [ctx.a, ctx.b, ctx.n3] = ctx.c.nodes as [TestServer, TestServer, TestServer];
  // Every node sees the others before the tests place rooms.
  await eventually(() => ctx.c.nodes.every((n) => n.app.cluster!.registry.cachedNodes().length === 3), 10_000, 'three live nodes');
});
test.after(async (ctx) => ctx.c.stop());
test.before.each((ctx) => {
  ctx.bots = [];
});
test.after.each(async (ctx) => {
  for (const b of ctx.bots) await b.close().catch(() => {});
});

/** The node whose rooms domain has the room open (exactly one must). */
function ownerOf(ctx: Ctx, room: string): TestServer {
  const owners = ctx.c.nodes.filter((n) => n.app.rooms.getRoom(room));
  assert.is(owners.length, 1, `room ${room} open on exactly one node (found ${owners.length})`);
  return owners[0];
}

async function join(node: TestServer, user: string, room: string): Promise<{ client: SignalingClient; id: string }> {
  return node.joined(user, room);
}

test('clients on two nodes share one room: joins, relay of offer/answer/ICE, mute, acks and errors', async (ctx) => {
  const alice = await join(ctx.a, 'alice', 'r-signal');
  const bob = await join(ctx.b, 'bob', 'r-signal');
  const owner = ownerOf(ctx, 'r-signal');
  const room = owner.app.rooms.getRoom('r-signal')!;
  assert.equal([...room.participants.values()].map((p) => p.identity.userId).sort(), ['alice', 'bob']);
  // The connections held by other nodes than the owner are relayed (the room may be on a third node).
  const relayed = ctx.c.nodes.map((n) => n.app.cluster!.relay.counts.relayed).reduce((x, y) => x + y, 0);
  assert.is(relayed, (owner === ctx.a ? 0 : 1) + (owner === ctx.b ? 0 : 1));
  assert.is(owner.app.cluster!.relay.counts.remote, relayed);

  const joinedAlice = await alice.client.next('peer-joined');
  assert.is(joinedAlice.participant.user_id, 'bob');
  await alice.client.request('offer', { to: bob.id, sdp: 'v=0 offer' });
  assert.equal(await bob.client.next('offer'), { to: bob.id, sdp: 'v=0 offer', from: alice.id });
  await bob.client.request('answer', { to: alice.id, sdp: 'v=0 answer' });
  assert.equal(await alice.client.next('answer'), { to: alice.id, sdp: 'v=0 answer', from: bob.id });
  await bob.client.request('ice-candidate', { to: alice.id, candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdpMid: '0' });
  assert.is((await alice.client.next('ice-candidate')).from, bob.id);
  await bob.client.request('mute', { track: 'audio' });
  assert.equal(await alice.client.next('mute'), { from: bob.id, track: 'audio' });
  // Errors come back with their code and id, from whichever node handles them.
  const err = await bob.client.request('offer', { to: 'PA_nobody', sdp: 'x' }).catch((e) => e);
  assert.is(err.code, 'peer_not_found');
  const again = await bob.client.request('join', { room: 'r-other' }).catch((e) => e);
  assert.is(again.code, 'already_in_room');
  // ping is answered by the node holding the socket.
  assert.type((await bob.client.request('ping', { t: 1 })).server_time, 'number');

  // A closed socket is a leave on the owner, whichever node held it.
  await bob.client.close();
  assert.is((await alice.client.next('peer-left')).reason, 'disconnected');
  await eventually(() => room.participants.size === 1, 5000, 'bob gone from the owner');
  await alice.client.close();
  await eventually(() => room.participants.size === 0, 5000, 'alice gone from the owner');
  await eventually(() => ctx.c.nodes.every((n) => n.app.cluster!.relay.counts.remote === 0), 5000, 'no relayed session left');
});

test('real media between clients on different nodes (media runs on the owner)', async (ctx) => {
  const token = (n: TestServer, user: string) => n.mint({ userId: user, role: 'speaker' });
  const pub = await MediaBot.join(ctx.a.url, await token(ctx.a, 'pub'), 'r-media');
  ctx.bots.push(pub);
  const sub = await MediaBot.join(ctx.b.url, await token(ctx.b, 'sub'), 'r-media');
  ctx.bots.push(sub);
  const owner = ownerOf(ctx, 'r-media');
  const video = await pub.publishVideo({ width: 320, height: 180, fps: 15 });
  const audio = await pub.publishAudio();
  await sub.signaling.next('producer-added', (p) => p.producer_id === video.id, 10_000);
  const rv = await sub.consume(video.id);
  const ra = await sub.consume(audio.id);
  await eventually(() => rv.frames >= 10 && ra.frames >= 50, 20_000, 'decoded video frames and audio');
  assert.is(rv.lastWidth, 320);
  // The media went through the owner's SFU: its room has both producers.
  assert.equal(
    owner.app.rooms
      .getRoom('r-media')!
      .media!.producerList()
      .map((p) => p.producer_id)
      .sort(),
    [audio.id, video.id].sort(),
  );
});

test('racing first joins through different nodes agree on one owner', async (ctx) => {
  const rooms = Array.from({ length: 8 }, (_, i) => `r-race-${i}`);
  const nodes = ctx.c.nodes;
  const joins = await Promise.all(
    rooms.flatMap((room) =>
      nodes.map(async (n, i) => {
        const client = await n.connect();
        await client.request('auth', { token: await n.mint({ userId: `u${i}` }) });
        try {
          return { client, id: (await client.request('join', { room }, 30_000)).participant_id };
        } catch (err) {
          const owners = nodes.filter((x) => x.app.rooms.getRoom(room)).map((x) => x.app.config.nodeId);
          const members = nodes.flatMap((x) =>
            [...(x.app.rooms.getRoom(room)?.participants.values() ?? [])].map((p) => `${x.app.config.nodeId}:${p.identity.userId}`),
          );
          throw new Error(
            `join of ${room} as u${i} via ${n.app.config.nodeId}: ${String(err)}; open on ${owners}; mapped to ${await nodes[0].app.cluster!.directory.owner(room)}; members ${members}; unread ${JSON.stringify(client.unread())}`,
            { cause: err },
          );
        }
      }),
    ),
  );
  for (const room of rooms) {
    const owner = ownerOf(ctx, room);
    assert.is(owner.app.rooms.getRoom(room)!.participants.size, 3);
    const mapped = await ctx.a.app.cluster!.directory.owner(room);
    assert.is(mapped, owner.app.config.nodeId);
  }
  // One call per room in the shared database.
  const db = new pg.Client({ connectionString: ctx.c.pg.url });
  await db.connect();
  const calls = await db.query("SELECT room, count(*)::int AS n FROM calls WHERE room LIKE 'r-race-%' AND status <> 'ended' GROUP BY room");
  await db.end();
  assert.is(calls.rows.length, rooms.length);
  assert.ok(calls.rows.every((r) => r.n === 1));
  // The least-loaded selector spread the new rooms over more than one node.
  const owners = new Set(rooms.map((r) => ownerOf(ctx, r).app.config.nodeId));
  assert.ok(owners.size >= 2, `rooms spread over ${owners.size} node(s)`);
  for (const j of joins) await j.client.close();
});

test('a burst of new rooms placed from one node spreads over the nodes (each pick counts before its SET returns)', async (ctx) => {
  const rooms = Array.from({ length: 6 }, (_, i) => `r-burst-${i}`);
  // All six picks see the same registry figures; without counting the pending ones they all chose one node.
  // Earlier tests may leave people on some nodes: the picks fill the emptiest first, one person per new room.
  const figures = async () => new Map((await ctx.a.app.cluster!.registry.liveNodes()).map((n) => [n.id, n.load.participants]));
  let before = await figures();
  await eventually(
    async () => {
      // Past the pending window (3 beats) of the last test's placements, and their leaves are in the figures.
      await new Promise((r) => setTimeout(r, 1000));
      const now = await figures();
      const stable = [...now].every(([id, p]) => before.get(id) === p);
      before = now;
      return stable;
    },
    10_000,
    'load figures settle',
  );
  const placed = await Promise.all(rooms.map((room) => ctx.a.app.cluster!.directory.locate(room)));
  const count = (id: string) => placed.filter((p) => p === id).length;
  for (const [x, px] of before) {
    if (count(x) === 0) continue;
    for (const [y, py] of before) {
      // x's last pick was right only if no other node had fewer people (counting the picks) at that moment.
      assert.ok(px + count(x) - 1 <= py + count(y), `placed ${placed.join(', ')} with participants ${JSON.stringify([...before])}`);
    }
  }
  for (const [i, room] of rooms.entries()) assert.is(await ctx.b.app.cluster!.directory.owner(room), placed[i]);
  // Nobody joins them: give the placements back (only the owner can).
  for (const [i, room] of rooms.entries())
    await ctx.c.nodes.find((n) => n.app.config.nodeId === placed[i])!.app.cluster!.directory.release(room);
});

test("REST on a node that does not run the room acts on the owner's room", async (ctx) => {
  const host = await join(ctx.a, 'host', 'r-rest');
  const guest = await join(ctx.b, 'guest', 'r-rest');
  const owner = ownerOf(ctx, 'r-rest');
  const other = ctx.c.nodes.find((n) => n !== owner)!;
  const info = await other.api('GET', '/api/v1/rooms/r-rest');
  assert.is(info.status, 200);
  assert.is(info.body.num_participants, 2);
  const kicked = await other.api('POST', `/api/v1/rooms/r-rest/participants/${guest.id}/kick`, { reason: 'test' });
  assert.is(kicked.status, 200, JSON.stringify(kicked.body));
  assert.is((await guest.client.next('kicked')).reason, 'test');
  assert.is((await host.client.next('peer-left', (p) => p.participant_id === guest.id)).reason, 'kicked');
  assert.is(owner.app.rooms.getRoom('r-rest')!.participants.size, 1);
  // Errors travel too.
  const missing = await other.api('POST', '/api/v1/rooms/r-rest/participants/PA_nobody/kick', {});
  assert.is(missing.status, 404);
  const unauth = await other.api('GET', '/api/v1/rooms/r-rest', undefined, basicAuth('APItestkey', 'wrong-secret-0123456789'));
  assert.is(unauth.status, 401);
});

test('the room list of any node counts the participants of rooms running on the others', async (ctx) => {
  // Rooms joined through node a, until one runs on another node.
  const joined: Array<{ client: SignalingClient; id: string }> = [];
  let elsewhere: string | null = null;
  for (let i = 0; i < 12 && !elsewhere; i++) {
    const room = `r-list-${i}`;
    joined.push(await join(ctx.a, `lister-${i}`, room), await join(ctx.a, `lister2-${i}`, room));
    if (ownerOf(ctx, room) !== ctx.a) elsewhere = room;
  }
  assert.ok(elsewhere, 'a room placed on another node');
  const owner = ownerOf(ctx, elsewhere);
  const list = await ctx.a.api('GET', '/api/v1/rooms?limit=1000');
  assert.is(list.status, 200);
  const row = list.body.rooms.find((r: RoomRow) => r.name === elsewhere);
  assert.ok(row, 'listed');
  assert.equal([row.num_participants, row.call_state, row.node_id], [2, 'active', owner.app.config.nodeId]);
  assert.is(row.call_id, owner.app.rooms.getRoom(elsewhere)!.callId);
  // Rooms of the answering node itself are counted too.
  for (const r of list.body.rooms.filter((x: RoomRow) => x.name.startsWith('r-list-') && x.name !== elsewhere)) {
    assert.equal([r.num_participants, r.node_id], [2, 'node-a'], JSON.stringify(r));
  }
  for (const j of joined) await j.client.close();
});

test('across nodes: the lobby (wait, admit, leave while waiting) and a rejoin from another node replacing the old connection', async (ctx) => {
  const created = await ctx.a.api('POST', '/api/v1/rooms', { name: 'r-lobby', lobby: true });
  assert.is(created.status, 201, JSON.stringify(created.body));
  const host = await ctx.a.connect();
  await host.request('auth', { token: await ctx.a.mint({ userId: 'lhost', role: 'host' }) });
  await host.request('join', { room: 'r-lobby' });
  const owner = ownerOf(ctx, 'r-lobby');
  const edge = ctx.c.nodes.find((n) => n !== owner)!;
  // A guest through a node that does not run the room waits in the lobby, is admitted, and is in.
  const guest = await edge.connect();
  await guest.request('auth', { token: await edge.mint({ userId: 'lguest' }) });
  const joining = guest.request('join', { room: 'r-lobby' }, 20_000);
  assert.equal(await guest.next('lobby-waiting'), { room: 'r-lobby' });
  assert.type((await guest.request('ping', {})).server_time, 'number'); // the edge answers while the join waits
  await host.next('lobby-updated', (p) => p.waiting.some((w) => w.user_id === 'lguest'));
  await host.request('admit', { user_id: 'lguest' });
  const joined = await joining;
  assert.ok(owner.app.rooms.getRoom('r-lobby')!.participants.has(joined.participant_id));
  // Another guest leaves the lobby: the join fails, the connection is back on its edge and may join elsewhere.
  const quitter = await edge.connect();
  await quitter.request('auth', { token: await edge.mint({ userId: 'lquit' }) });
  const waiting = quitter.request('join', { room: 'r-lobby' }, 20_000).catch((e) => e);
  await quitter.next('lobby-waiting');
  await quitter.request('leave', {});
  assert.is((await waiting).code, 'not_in_room');
  assert.ok((await quitter.request('join', { room: 'r-lobby-elsewhere' }, 11_000)).participant_id);
  // The same user joining again through another node replaces the old connection (4009 through the relay).
  const other = ctx.c.nodes.find((n) => n !== edge)!;
  const again = await other.connect();
  await again.request('auth', { token: await other.mint({ userId: 'lguest' }) });
  const rejoin = again.request('join', { room: 'r-lobby' }, 20_000);
  await again.next('lobby-waiting'); // the lobby applies to every join of a non-staff user
  await host.request('admit', { user_id: 'lguest' });
  await rejoin;
  assert.is((await guest.closed).code, 4009);
  assert.is(owner.app.rooms.getRoom('r-lobby')!.participants.size, 2);
  for (const c of [host, again, quitter]) await c.close();
});

test('a relayed client that leaves joins its next room through its own node again', async (ctx) => {
  const first = await join(ctx.a, 'hopper', 'r-hop-1');
  const ownerOne = ownerOf(ctx, 'r-hop-1');
  await first.client.request('leave', {});
  await eventually(() => !ownerOne.app.rooms.getRoom('r-hop-1')?.participants.size, 5000, 'left');
  // Placed afresh: wherever it goes, the same connection gets in.
  const joined = await first.client.request('join', { room: 'r-hop-2' });
  assert.ok(joined.participant_id);
  const ownerTwo = ownerOf(ctx, 'r-hop-2');
  assert.ok(ownerTwo.app.rooms.getRoom('r-hop-2')!.participants.has(joined.participant_id));
  await first.client.close();
});

test('GET /api/v1/cluster lists nodes, load and rooms per node; POST drain needs the API key', async (ctx) => {
  const p1 = await join(ctx.a, 'viewer1', 'r-view');
  await eventually(
    async () => {
      const res = await ctx.b.api('GET', '/api/v1/cluster');
      const owner = res.body.nodes.find((n: ClusterNode) => n.room_names.includes('r-view'));
      return res.status === 200 && owner && owner.load.participants >= 1;
    },
    5000,
    'the view shows the room and its participant',
  );
  const res = await ctx.b.api('GET', '/api/v1/cluster');
  assert.equal(
    res.body.nodes.map((n: ClusterNode) => n.id),
    ['node-a', 'node-b', 'node-c'],
  );
  for (const n of res.body.nodes) {
    assert.match(n.signalingUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.is(n.capacity.participants, 1000);
    assert.type(n.load.cpu, 'number');
    assert.is(n.draining, false);
  }
  assert.is((await ctx.b.api('GET', '/api/v1/cluster', undefined, null)).status, 401);
  assert.is((await ctx.b.api('POST', '/api/v1/cluster/drain', {}, null)).status, 401);
  assert.is((await ctx.b.api('GET', '/api/v1/cluster/ready', undefined, null)).status, 200);
  await p1.client.close();
});

test('the cluster CLI prints every node with its state, load and rooms', async (ctx) => {
  const p1 = await join(ctx.b, 'cli-user', 'r-cli');
  const owner = ownerOf(ctx, 'r-cli').app.config.nodeId;
  await eventually(
    async () => (await ctx.a.api('GET', '/api/v1/cluster')).body.nodes.some((n: ClusterNode) => n.room_names.includes('r-cli')),
    5000,
    'room listed',
  );
  const cli = fileURLToPath(new URL('../../server/cli/cluster.js', import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, [cli, '--url', ctx.a.url], {
    env: { ...process.env, API_KEY, API_SECRET },
  });
  const lines = stdout.split('\n');
  assert.match(lines[0], /^NODE\s+STATE\s+URL/);
  for (const id of ['node-a', 'node-b', 'node-c'])
    assert.ok(
      lines.some((l) => l.startsWith(id) && l.includes('ready')),
      `${id} listed:\n${stdout}`,
    );
  assert.ok(
    lines.some((l) => l.startsWith(owner) && l.includes('r-cli')),
    stdout,
  );
  assert.match(stdout, /3 node\(s\)/);
  const json = JSON.parse(
    (await promisify(execFile)(process.execPath, [cli, '--url', ctx.a.url, '--json'], { env: { ...process.env, API_KEY, API_SECRET } }))
      .stdout,
  );
  assert.is(json.nodes.length, 3);
  await p1.client.close();
});

test("a second node with a live node's NODE_ID is refused; metrics show the cluster", async (ctx) => {
  const err = await ctx.c.addNode('node-a').then(
    () => null,
    (e: Error) => e,
  );
  assert.ok(err, 'refused');
  assert.match(err.message, /NODE_ID node-a/);
  const metrics = await ctx.a.api('GET', '/metrics');
  assert.match(metrics.body, /switchboard_cluster_nodes 3/);
  assert.match(metrics.body, /switchboard_cluster_redis_up 1/);
});

test('an admin drain through another node: the node takes no new rooms and fails its readiness check', async (ctx) => {
  const res = await ctx.a.api('POST', '/api/v1/cluster/drain', { node: 'node-c' });
  assert.is(res.status, 202);
  assert.equal(res.body, { node: 'node-c', draining: true });
  await eventually(() => ctx.n3.app.cluster!.isDraining, 5000, 'node-c draining');
  assert.is((await ctx.n3.api('GET', '/api/v1/cluster/ready', undefined, null)).status, 503);
  await eventually(
    async () => (await ctx.a.api('GET', '/api/v1/cluster')).body.nodes.find((n: ClusterNode) => n.id === 'node-c').draining,
    5000,
    'seen draining',
  );
  await eventually(() => ctx.a.app.cluster!.registry.cachedNodes().find((n) => n.id === 'node-c')?.draining, 5000, 'a sees it');
  await eventually(() => ctx.b.app.cluster!.registry.cachedNodes().find((n) => n.id === 'node-c')?.draining, 5000, 'b sees it');
  // New rooms joined through the draining node run elsewhere.
  const clients = [];
  for (let i = 0; i < 4; i++) {
    const j = await join(ctx.n3, `late-${i}`, `r-after-drain-${i}`);
    clients.push(j.client);
    assert.is.not(ownerOf(ctx, `r-after-drain-${i}`), ctx.n3);
  }
  for (const c of clients) await c.close();
  const bad = await ctx.a.api('POST', '/api/v1/cluster/drain', { node: 'node-nope' });
  assert.is(bad.status, 503);
});

test.run();
