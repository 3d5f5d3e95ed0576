// The cluster's forwarding paths (HLS files and room REST passed on to the
// room's node) against hostile request targets on raw sockets: every one
// gets a 4xx or a close, the forwarded ones included, both nodes keep
// serving, and an oversized body on a forwarded route is a readable 413.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { HOSTILE_TARGETS, hostileRequests, rawRequest, sendRaw } from '../support/hostile.js';
import { basicAuth } from '../support/server.js';

const test = suite<{ cluster: TestCluster }>('cluster edge', {} as never);
test.before(async (ctx) => {
  ctx.cluster = await startCluster(['edge-a', 'edge-b'], { env: { REST_RATE_LIMIT_BURST: '10000' } });
});
test.after(async (ctx) => ctx.cluster.stop());

test('hostile targets at a node that forwards HLS and room REST to the room\'s node get 4xx or a close; both nodes go on', async ({ cluster }) => {
  const [first, second] = cluster.nodes as [TestCluster['nodes'][0], TestCluster['nodes'][0]];
  const room = 'edge-room';
  const host = await first.joined('host', room);
  // `a` runs the room (placement picks the node), `b` is the other one.
  const [a, b] = first.app.rooms.getRoom(room) ? [first, second] : [second, first];
  assert.ok(a.app.rooms.getRoom(room) && !b.app.rooms.getRoom(room), 'the room runs on one node');
  // Targets about a room running elsewhere take the forwarding paths on node b.
  const forwarded = [
    `/live/${room}/index.m3u8?token=%`, `/live/${room}/%`, `/live/${room}/%E0%A4%A?x=%ZZ`, `//x:99999/live/${room}/index.m3u8`,
    `/api/v1/rooms/${room}/%ZZ`, `/api/v1/rooms/${room}/participants/%E0%A4%A`, `/api/v1/rooms/${room}/%`,
  ];
  const requests = [...hostileRequests(basicAuth()), ...forwarded.flatMap((t) => [
    rawRequest('GET', t, `Authorization: ${basicAuth()}\r\n`),
    rawRequest('POST', t, `Authorization: ${basicAuth()}\r\nContent-Length: 2\r\n`) + '{}',
  ])];
  assert.ok(requests.length > HOSTILE_TARGETS.length * 3);
  for (const bytes of requests) {
    const answer = await sendRaw(b.url, bytes);
    assert.ok(answer.status === null || (answer.status >= 400 && answer.status < 500), `${JSON.stringify(bytes.slice(0, 100))} answered ${answer.status}: ${answer.text.slice(0, 300)}`);
  }
  for (const node of [a, b]) assert.is((await node.api('GET', '/health', undefined, null)).status, 200);
  const guest = await b.joined('guest', room); // relayed to node a
  assert.is((await host.client.next('peer-joined')).participant.participant_id, guest.id);
});

test('an oversized body on a route forwarded to the room\'s node is a 413 payload_too_large', async ({ cluster }) => {
  const [first, second] = cluster.nodes as [TestCluster['nodes'][0], TestCluster['nodes'][0]];
  const room = 'edge-room-2';
  await first.joined('owner', room);
  const b = first.app.rooms.getRoom(room) ? second : first; // the node that forwards
  const res = await b.api('POST', `/api/v1/rooms/${room}/data`, JSON.stringify({ data: 'x'.repeat(200_000) }));
  assert.is(res.status, 413, JSON.stringify(res.body));
  assert.is(res.body.error.code, 'payload_too_large');
});

test.run();
