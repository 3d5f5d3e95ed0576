// In-call chat in a cluster (two in-process nodes, a real PostgreSQL and a
// real redis-server): a client whose room runs on the other node chats
// through the relay (send, events, history, delete); REST on either node reads
// and deletes; a drain moves the call and its chat to the other node.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ChatMessage } from '../../signaling/protocol/protocol.js';
import type { TestServer } from '../support/server.js';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { eventually } from '../support/net.js';

type Ctx = { c: TestCluster; a: TestServer; b: TestServer };
const test = suite<Ctx>('cluster: in-call chat', {} as Ctx);

test.before(async (ctx) => {
  ctx.c = await startCluster(['chat-a', 'chat-b'], { env: { DRAIN_TIMEOUT_SECONDS: '1', ROOM_EMPTY_TIMEOUT_SECONDS: '60' } });
  [ctx.a, ctx.b] = ctx.c.nodes as [TestServer, TestServer];
  await eventually(() => ctx.c.nodes.every((n) => n.app.cluster!.registry.cachedNodes().length === 2), 10_000, 'two live nodes');
});
test.after(async (ctx) => ctx.c.stop());

function ownerOf(ctx: Ctx, room: string): TestServer {
  const owners = ctx.c.nodes.filter((n) => n.app.rooms.getRoom(room));
  assert.is(owners.length, 1, `room ${room} open on exactly one node`);
  return owners[0];
}

async function joinAt(node: TestServer, userId: string, room: string, role: 'host' | 'speaker' | 'viewer') {
  const client = await node.connect();
  await client.request('auth', { token: await node.mint({ userId, role }) });
  const joined = await client.request('join', { room });
  return { client, id: joined.participant_id, state: joined.room_state };
}

test('a relayed client sends, hears, gets the history and deletes; REST on the other node reads and deletes; a drain carries the chat along', async (ctx) => {
  const host = await joinAt(ctx.a, 'host', 'cc-room', 'host');
  const owner = ownerOf(ctx, 'cc-room');
  const other = owner === ctx.a ? ctx.b : ctx.a;
  // Bob connects to the node that does not run the room: relayed.
  const bob = await joinAt(other, 'bob', 'cc-room', 'viewer');
  assert.ok(other.app.cluster!.relay.counts.relayed >= 1, 'bob is relayed');

  const sent: ChatMessage[] = [];
  sent.push((await bob.client.request('chat-send', { text: 'hi from the other node' })).message);
  assert.equal((await host.client.next('chat-message')).message, sent[0]);
  assert.equal((await bob.client.next('chat-message')).message, sent[0]);
  sent.push((await host.client.request('chat-send', { text: 'welcome', reply_to: sent[0].message_id })).message);
  assert.equal((await bob.client.next('chat-message')).message, sent[1]);
  // Errors come back through the relay with their code.
  assert.is((await bob.client.request('chat-delete', { message_id: sent[1].message_id }).catch((e) => e)).code, 'forbidden');
  assert.is((await bob.client.request('chat-send', { text: '  ' }).catch((e) => e)).code, 'invalid_payload');

  // A late joiner through the other node gets the history.
  const late = await joinAt(other, 'lou', 'cc-room', 'speaker');
  assert.equal(late.state.chat, sent);

  // REST on the node that does not run the room: read, and delete (the room hears it).
  const read = await other.api('GET', '/api/v1/rooms/cc-room/chat');
  assert.equal(read.body.messages, sent);
  const sent2 = (await late.client.request('chat-send', { text: 'delete me' })).message;
  const deleted = await other.api('DELETE', `/api/v1/rooms/cc-room/chat/${sent2.message_id}`);
  assert.is(deleted.status, 200, JSON.stringify(deleted.body));
  assert.equal(await bob.client.next('chat-deleted'), { message_id: sent2.message_id, by: null });

  // The owner drains: the call moves; whoever joins again (on the other node) finds its chat.
  const callId = host.state.call.call_id;
  const drained = await owner.api('POST', '/api/v1/cluster/drain', {});
  assert.is(drained.status, 202);
  await host.client.next('reconnect', () => true, 10_000);
  const back = await joinAt(other, 'host', 'cc-room', 'host');
  assert.is(back.state.call.call_id, callId, 'the same call');
  assert.equal(back.state.chat, sent, 'its chat came along');
  assert.is(ownerOf(ctx, 'cc-room'), other);
  for (const c of [host, bob, late, back]) await c.client.close();
});

test.run();
