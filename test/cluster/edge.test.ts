// The cluster's forwarding paths (HLS files and room REST passed on to the
// room's node) against hostile request targets on raw sockets: every one
// gets a 4xx or a close, the forwarded ones included, both nodes keep
// serving, and an oversized body on a forwarded route is a readable 413.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { request as httpRequest } from 'node:http';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { HOSTILE_TARGETS, hostileRequests, rawRequest, sendRaw } from '../support/hostile.js';
import { basicAuth } from '../support/server.js';

const test = suite<{ cluster: TestCluster }>('cluster edge', {} as never);
test.before(async (ctx) => {
  ctx.cluster = await startCluster(['edge-a', 'edge-b'], { env: { REST_RATE_LIMIT_BURST: '10000' } });
});
test.after(async (ctx) => ctx.cluster.stop());

test("hostile targets at a node that forwards HLS and room REST to the room's node get 4xx or a close; both nodes go on", async ({
  cluster,
}) => {
  const [first, second] = cluster.nodes as [TestCluster['nodes'][0], TestCluster['nodes'][0]];
  const room = 'edge-room';
  const host = await first.joined('host', room);
  // `a` runs the room (placement picks the node), `b` is the other one.
  const [a, b] = first.app.rooms.getRoom(room) ? [first, second] : [second, first];
  assert.ok(a.app.rooms.getRoom(room) && !b.app.rooms.getRoom(room), 'the room runs on one node');
  // Targets about a room running elsewhere take the forwarding paths on node b.
  const forwarded = [
    `/live/${room}/index.m3u8?token=%`,
    `/live/${room}/%`,
    `/live/${room}/%E0%A4%A?x=%ZZ`,
    `//x:99999/live/${room}/index.m3u8`,
    `/api/v1/rooms/${room}/%ZZ`,
    `/api/v1/rooms/${room}/participants/%E0%A4%A`,
    `/api/v1/rooms/${room}/%`,
  ];
  const requests = [
    ...hostileRequests(basicAuth()),
    ...forwarded.flatMap((t) => [
      rawRequest('GET', t, `Authorization: ${basicAuth()}\r\n`),
      rawRequest('POST', t, `Authorization: ${basicAuth()}\r\nContent-Length: 2\r\n`) + '{}',
    ]),
  ];
  assert.ok(requests.length > HOSTILE_TARGETS.length * 3);
  for (const bytes of requests) {
    const answer = await sendRaw(b.url, bytes);
    assert.ok(
      answer.status === null || (answer.status >= 400 && answer.status < 500),
      `${JSON.stringify(bytes.slice(0, 100))} answered ${answer.status}: ${answer.text.slice(0, 300)}`,
    );
  }
  for (const node of [a, b]) assert.is((await node.api('GET', '/health', undefined, null)).status, 200);
  const guest = await b.joined('guest', room); // relayed to node a
  assert.is((await host.client.next('peer-joined')).participant.participant_id, guest.id);
});

test("an oversized body on a route forwarded to the room's node is a 413 payload_too_large", async ({ cluster }) => {
  const [first, second] = cluster.nodes as [TestCluster['nodes'][0], TestCluster['nodes'][0]];
  const room = 'edge-room-2';
  await first.joined('owner', room);
  const b = first.app.rooms.getRoom(room) ? second : first; // the node that forwards
  const res = await b.api('POST', `/api/v1/rooms/${room}/data`, JSON.stringify({ data: 'x'.repeat(200_000) }));
  assert.is(res.status, 413, JSON.stringify(res.body));
  assert.is(res.body.error.code, 'payload_too_large');
});

test.run();

// The REST write limit in a cluster: a room request passed on by another node was counted there.
const limits = suite<{ cluster: TestCluster }>('cluster edge limits', {} as never);
limits.before(async (ctx) => {
  ctx.cluster = await startCluster(['lim-a', 'lim-b'], { env: { REST_RATE_LIMIT_PER_SECOND: '1', REST_RATE_LIMIT_BURST: '3' } });
});
limits.after(async (ctx) => ctx.cluster.stop());

function post(
  url: string,
  route: string,
  body: unknown,
  localAddress: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; node: string | undefined }> {
  const { port } = new URL(url);
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: Number(port),
        method: 'POST',
        path: route,
        agent: false,
        localAddress,
        headers: { authorization: basicAuth(), 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, node: res.headers['x-switchboard-node'] as string | undefined }));
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

limits(
  'writes passed on by another node count at that node per client, not at the owner per node; a forged forwarding header does not exempt a client',
  async ({ cluster }) => {
    const [first, second] = cluster.nodes as [TestCluster['nodes'][0], TestCluster['nodes'][0]];
    const room = 'lim-room';
    await first.joined('owner', room);
    const [owner, other] = first.app.rooms.getRoom(room) ? [first, second] : [second, first];
    const route = `/api/v1/rooms/${room}/data`;
    const data = { topic: 'news', data: { n: 1 } };
    // Two clients, three writes each through the other node: six requests reach the owner from one node address.
    for (const client of ['127.0.0.2', '127.0.0.3']) {
      for (let i = 0; i < 3; i++) {
        const res = await post(other.url, route, data, client);
        assert.is(res.status, 200, `${client} write ${i}`);
        assert.is(res.node, owner.app.config.nodeId, "answered by the room's node");
      }
    }
    assert.is((await post(other.url, route, data, '127.0.0.2')).status, 429, 'the other node counts each client');
    // A client sending the forwarding header itself, straight to the owner, is counted like any client.
    const forged = { 'x-switchboard-forwarded-by': other.app.config.nodeId };
    for (let i = 0; i < 3; i++) assert.is((await post(owner.url, route, data, '127.0.0.4', forged)).status, 200);
    assert.is((await post(owner.url, route, data, '127.0.0.4', forged)).status, 429);
  },
);

limits.run();
