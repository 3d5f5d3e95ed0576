// Calls in a two-node cluster (real PostgreSQL and redis-server): a caller on
// one node rings a callee's devices on both nodes; the device on the other
// node answers through the relay into the call's room; a decline and a missed
// ring from the other node reach the call's node; the call ends for both.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { SignalingClient } from '../../clients/node/signalingClient.js';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { eventually } from '../support/net.js';
import type { TestServer } from '../support/server.js';

type Ctx = { c: TestCluster; a: TestServer; b: TestServer };
const test = suite<Ctx>('calls in a cluster', {} as Ctx);

test.before(async (ctx) => {
  ctx.c = await startCluster(['calls-a', 'calls-b'], { sfuWorkers: 0, env: { CALL_RING_SECONDS: '2' } });
  [ctx.a, ctx.b] = ctx.c.nodes as [TestServer, TestServer];
  await eventually(() => ctx.c.nodes.every((n) => n.app.cluster!.registry.cachedNodes().length === 2), 10_000, 'two live nodes');
});
test.after(async (ctx) => ctx.c.stop());

async function device(node: TestServer, userId: string): Promise<SignalingClient> {
  const client = await node.connect();
  await client.request('auth', { token: await node.mint({ userId, name: userId }) });
  return client;
}

test('a callee on another node rings there, answers there, and talks in the call on the caller node', async ({ a, b }) => {
  const alice = await device(a, 'alice');
  const bobPhone = await device(b, 'bob');
  const bobLaptop = await device(a, 'bob');
  const invite = await alice.request('call-invite', { to: ['bob'], media: 'audio' });
  assert.ok(a.app.rooms.getRoom(invite.room), "the call's room runs on the caller's node");
  assert.is((await bobPhone.next('call-incoming')).call_id, invite.call_id);
  assert.is((await bobLaptop.next('call-incoming')).call_id, invite.call_id);

  const joined = await bobPhone.request('call-accept', { call_id: invite.call_id });
  assert.is(joined.room_state.room, invite.room);
  assert.equal(joined.room_state.participants.map((p) => p.user_id).sort(), ['alice', 'bob']);
  assert.equal(await bobLaptop.next('call-answered-elsewhere'), { call_id: invite.call_id });
  assert.is((await alice.next('call-accepted')).by.user_id, 'bob');
  assert.is(bobPhone.unread('call-answered-elsewhere').length, 0, 'the answering device is not told it answered elsewhere');
  // The relayed callee talks to the caller through the room on node a.
  await bobPhone.request('offer', { to: invite.participant_id!, sdp: 'v=0 from b' });
  assert.is((await alice.next('offer')).sdp, 'v=0 from b');

  await bobPhone.request('leave', {});
  assert.equal(await alice.next('call-ended'), { call_id: invite.call_id, reason: 'completed' });
  await Promise.all([alice.close(), bobPhone.close(), bobLaptop.close()]);
});

test('a decline on another node and a ring that runs out there reach the call', async ({ a, b }) => {
  const alice = await device(a, 'alice2');
  const carol = await device(b, 'carol2');
  const dave = await device(b, 'dave2');
  const first = await alice.request('call-invite', { to: ['carol2'], media: 'video' });
  await carol.next('call-incoming');
  await carol.request('call-decline', { call_id: first.call_id });
  assert.is((await alice.next('call-declined')).by.user_id, 'carol2');
  assert.equal(await alice.next('call-ended'), { call_id: first.call_id, reason: 'declined' });

  const second = await alice.request('call-invite', { to: ['dave2'], media: 'audio' });
  await dave.next('call-incoming');
  assert.equal(await alice.next('call-missed', undefined, 10_000), { call_id: second.call_id, user_id: 'dave2' });
  assert.equal(await dave.next('call-ended', undefined, 10_000), { call_id: second.call_id, reason: 'missed' });
  const rows = await a.app.db.query<{ status: string }>('SELECT status FROM call_invitees WHERE call_id = $1', [second.call_id]);
  assert.equal(
    rows.map((r) => r.status),
    ['missed'],
  );
  await Promise.all([alice.close(), carol.close(), dave.close()]);
});

test('a call opened over REST on one node is answered on the other and ended through either', async ({ a, b }) => {
  const erin = await device(b, 'erin3');
  const opened = await a.api('POST', '/api/v1/calls', { from: { user_id: 'frank3' }, to: ['erin3'], media: 'audio' });
  assert.is(opened.status, 201);
  assert.is((await erin.next('call-incoming')).call_id, opened.body.call_id);
  const joined = await erin.request('call-accept', { call_id: opened.body.call_id });
  assert.is(joined.room_state.room, opened.body.room);
  assert.ok(a.app.rooms.getRoom(opened.body.room), "the call's room runs on the node that opened the call");
  // Ending it through the other node: the request goes to the call's node.
  const ended = await b.api('POST', `/api/v1/calls/${opened.body.call_id}/end`);
  assert.is(ended.status, 200);
  assert.is(ended.body.end_reason, 'completed');
  assert.equal(await erin.next('call-ended'), { call_id: opened.body.call_id, reason: 'completed' });
  assert.is((await b.api('POST', `/api/v1/calls/${opened.body.call_id}/end`)).status, 404);
  await erin.close();
});

test.run();
