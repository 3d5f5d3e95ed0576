// Several processes per node: a real node started with
// NODE_PROCESSES=2 (dist/server/main.js as a child: a primary and two worker
// processes), a real PostgreSQL and a real redis-server. The public port
// serves REST and WebSockets through either process; `?room=` and a token's
// room claim put a room's participants on one process (no relayed sessions);
// a join without a hint still works through the relay; garbage on the public
// port is closed without touching anyone; a killed worker is restarted while
// the other one's participants go on; SIGTERM drains and exits 0; a
// NODE_PROCESSES > 1 without Redis does not start.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { request as httpRequest } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignalingClient } from '../../clients/node/signalingClient.js';
import { homeProcess } from '../../server/edges/cluster/processRouting.js';
import { TokenIssuer } from '../../server/edges/auth/tokens.js';
import { FAST_CLUSTER_ENV } from '../support/cluster.js';
import { testKeys } from '../support/keys.js';
import { eventually, sleep } from '../support/net.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { spawnServer, type ServerProcess } from '../support/process.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { basicAuth } from '../support/server.js';
import { hostileRequests, sendRaw } from '../support/hostile.js';

type Ctx = { pg: PostgresServer; redis: RedisServer; issuer: TokenIssuer; node: ServerProcess; clients: SignalingClient[] };
const test = suite<Ctx>('several processes per node', {} as Ctx);
const PROCESSES = 2;

test.before(async (ctx) => {
  await start(ctx).catch((err) => {
    console.error(err); // uvu does not show what failed in a before hook
    throw err;
  });
});

async function start(ctx: Ctx): Promise<void> {
  [ctx.pg, ctx.redis] = await Promise.all([startPostgres(), startRedis()]);
  ctx.issuer = await TokenIssuer.fromPrivateKeyFile(testKeys().privateKeyFile, { audience: 'switchboard', issuer: null });
  ctx.node = await spawnServer(
    {
      NODE_ID: 'mp',
      NODE_PROCESSES: String(PROCESSES),
      REDIS_URL: ctx.redis.url,
      DATABASE_URL: ctx.pg.url,
      DATA_DIR: mkdtempSync(path.join(tmpdir(), 'switchboard-mp-')),
      DRAIN_TIMEOUT_SECONDS: '1',
      ...FAST_CLUSTER_ENV,
    },
    { ready: 'switchboard node listening' },
  );
  // Both processes see each other before rooms are placed.
  await eventually(async () => (await processUrls(ctx)).length === PROCESSES, 15_000, 'both processes in the cluster view');
}
test.after(async (ctx) => {
  if (ctx.node?.child.exitCode === null) ctx.node.child.kill('SIGKILL');
  await Promise.allSettled([ctx.pg?.stop(), ctx.redis?.stop()]);
});
test.before.each((ctx) => {
  ctx.clients = [];
});
test.after.each(async (ctx) => {
  await Promise.allSettled(ctx.clients.map((c) => c.close()));
});

/** One HTTP request on a fresh connection (each one is routed anew by the primary). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON of every route, read field by field by the tests (a wrong field fails the assertion)
function http(url: string, method: string, route: string, body?: unknown): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = httpRequest(
      `${url}${route}`,
      {
        method,
        agent: false,
        headers: {
          authorization: basicAuth(),
          ...(data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {}),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => {
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // Prometheus text
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/** The processes' own (internal) URLs, by index, from the cluster view. */
async function processUrls(ctx: Ctx): Promise<string[]> {
  const view = await http(ctx.node.url, 'GET', '/api/v1/cluster');
  const nodes = (view.body?.nodes ?? []) as Array<{ id: string; signalingUrl: string }>;
  return Array.from({ length: PROCESSES }, (_, i) => nodes.find((n) => n.id === `mp-p${i}`)?.signalingUrl).filter((u): u is string =>
    Boolean(u),
  );
}

async function gauge(url: string, name: string): Promise<number> {
  const res = await http(url, 'GET', '/metrics');
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(String(res.body));
  assert.ok(m, `${name} in /metrics of ${url}`);
  return Number(m[1]);
}

/** Relayed sessions of the node: connections of one process in rooms of the other. */
async function relayed(ctx: Ctx): Promise<number[]> {
  return Promise.all((await processUrls(ctx)).map((u) => gauge(u, 'switchboard_cluster_relayed_connections')));
}

/** A node as GET /api/v1/cluster lists it (the fields the tests read). */
interface ClusterNode {
  id: string;
  room_names: string[];
}

async function ownerOf(ctx: Ctx, room: string): Promise<string | null> {
  const view = await http(ctx.node.url, 'GET', '/api/v1/cluster');
  return view.body?.nodes?.find((n: ClusterNode) => n.room_names.includes(room))?.id ?? null;
}

/** A room name (with this prefix) whose participants the node routes to process `index`. */
function roomOn(index: number, prefix: string): string {
  for (let i = 0; ; i++) if (homeProcess(`${prefix}-${i}`, PROCESSES) === index) return `${prefix}-${i}`;
}

async function token(ctx: Ctx, user: string, room: string | null = null): Promise<string> {
  return (await ctx.issuer.mint({ userId: user, role: 'speaker', ttlSeconds: 600, room })).token;
}

/** Connects through the public port (with `?room=` when hinted), authenticates and joins. */
async function joined(
  ctx: Ctx,
  user: string,
  room: string,
  how: 'hint' | 'token' | 'none',
): Promise<{ client: SignalingClient; id: string }> {
  let client: SignalingClient;
  if (how === 'token') {
    client = await SignalingClient.connect(ctx.node.url, { urlToken: await token(ctx, user, room) });
    ctx.clients.push(client);
    await client.next('authenticated');
  } else {
    client = await SignalingClient.connect(ctx.node.url, how === 'hint' ? { room } : {});
    ctx.clients.push(client);
    await client.request('auth', { token: await token(ctx, user) });
  }
  const j = await client.request('join', { room });
  return { client, id: j.participant_id };
}

/** A promise that must settle within `ms` (a hang is a failure, not a stuck test file). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    p,
    sleep(ms).then(() => {
      throw new Error(`${what} did not happen within ${ms} ms`);
    }),
  ]);
}

async function offerReaches(
  from: { client: SignalingClient; id: string },
  to: { client: SignalingClient; id: string },
  sdp: string,
): Promise<void> {
  await from.client.request('offer', { to: to.id, sdp });
  assert.equal(await to.client.next('offer', (p) => p.sdp === sdp), { to: to.id, sdp, from: from.id });
}

test('the public port serves /health, /metrics and REST from either process', async (ctx) => {
  const seen = new Set<number>();
  for (let i = 0; i < 6; i++) {
    const h = await http(ctx.node.url, 'GET', '/health');
    assert.is(h.status, 200);
    assert.is(h.body.process.node_id, 'mp');
    assert.is(h.body.process.processes, PROCESSES);
    assert.is(h.body.node_id, `mp-p${h.body.process.index}`);
    seen.add(h.body.process.index);
  }
  assert.equal([...seen].sort(), [0, 1], 'round-robin reaches both processes');
  assert.match(String((await http(ctx.node.url, 'GET', '/metrics')).body), /switchboard_cluster_nodes/);
  const created = await http(ctx.node.url, 'POST', '/calls', { room: 'mp-rest' });
  assert.is(created.status, 201);
  for (let i = 0; i < 2; i++) {
    const got = await http(ctx.node.url, 'GET', `/calls/${created.body.call_id ?? created.body.id}`);
    assert.is(got.status, 200);
    assert.is(got.body.room, 'mp-rest');
  }
  assert.is((await http(ctx.node.url, 'GET', '/calls/x', undefined)).status, 404);
});

test('?room= puts every participant of a room on its process: no relayed session', async (ctx) => {
  for (const index of [1, 0]) {
    const room = roomOn(index, 'hinted');
    const people: Array<{ client: SignalingClient; id: string }> = [];
    for (const user of ['ann', 'ben', 'cid']) people.push(await joined(ctx, `${user}-${index}`, room, 'hint'));
    assert.is(await ownerOf(ctx, room), `mp-p${index}`);
    assert.equal(await relayed(ctx), [0, 0]);
    await offerReaches(people[0], people[2], `v=0 hinted ${index}`);
  }
});

test('a ?token= with a room claim routes like ?room=', async (ctx) => {
  const room = roomOn(1, 'claimed');
  const a = await joined(ctx, 'tina', room, 'token');
  const b = await joined(ctx, 'tom', room, 'token');
  const c = await joined(ctx, 'tess', room, 'token');
  assert.is(await ownerOf(ctx, room), 'mp-p1');
  assert.equal(await relayed(ctx), [0, 0]);
  await offerReaches(c, a, 'v=0 claimed');
  await offerReaches(b, c, 'v=0 claimed 2');
});

test('joins without a hint reach a room on the other process through the relay', async (ctx) => {
  const room = roomOn(1, 'unhinted');
  const host = await joined(ctx, 'hal', room, 'hint');
  // Round-robin: of four connections in a row, two land on process 0.
  const guests: Array<{ client: SignalingClient; id: string }> = [];
  for (let i = 0; i < 4; i++) guests.push(await joined(ctx, `guest${i}`, room, 'none'));
  assert.is(await ownerOf(ctx, room), 'mp-p1');
  const [r0, r1] = await relayed(ctx);
  assert.ok(r0 >= 1, `process 0 relays its guests (${r0})`);
  assert.is(r1, 0);
  const urls = await processUrls(ctx);
  assert.is(await gauge(urls[1], 'switchboard_cluster_remote_participants'), r0);
  for (const g of guests) await offerReaches(g, host, `v=0 from ${g.id}`);
  await offerReaches(host, guests[0], 'v=0 back');
  await guests[0].client.close();
  assert.is((await host.client.next('peer-left', (p) => p.participant_id === guests[0].id)).reason, 'disconnected');
});

/** Opens a raw TCP connection, writes `bytes`, and resolves with what came back once it closed. */
function raw(url: string, bytes: Buffer | string): { closed: Promise<string>; socket: ReturnType<typeof tcpConnect> } {
  const { hostname, port } = new URL(url);
  const socket = tcpConnect({ host: hostname, port: Number(port) });
  socket.on('error', () => {});
  socket.write(bytes);
  const closed = new Promise<string>((resolve) => {
    let text = '';
    socket.on('data', (d) => (text += d.toString('latin1')));
    socket.once('close', () => resolve(text));
  });
  return { closed, socket };
}

test('garbage, oversized and unfinished request heads are closed without touching anyone', async (ctx) => {
  const room = roomOn(0, 'bystanders');
  const a = await joined(ctx, 'amy', room, 'hint');
  const b = await joined(ctx, 'bo', room, 'hint');
  const stalled = raw(ctx.node.url, 'GET /ws?room=x HTTP/1.1\r\nHost: a\r\n'); // never finished
  const garbage = raw(ctx.node.url, Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x0d, 0x0a, 0x0d, 0x0a]));
  const huge = raw(ctx.node.url, `GET / HTTP/1.1\r\nX-Big: ${'a'.repeat(20_000)}`);
  assert.match(await garbage.closed, /^HTTP\/1\.1 400/);
  assert.match(await huge.closed, /^HTTP\/1\.1 431/);
  await offerReaches(a, b, 'v=0 while garbage');
  assert.is((await http(ctx.node.url, 'GET', '/health')).status, 200);
  const t0 = Date.now();
  assert.match(await stalled.closed, /^HTTP\/1\.1 408/);
  assert.ok(Date.now() - t0 < 15_000, 'the stalled connection is closed after the head timeout');
  await offerReaches(b, a, 'v=0 after garbage');
  assert.is(a.client.closeInfo, null);
  assert.is(b.client.closeInfo, null);
});

test('hostile request targets through the primary (plain and upgrade) get a 4xx or a close; no process dies, everyone goes on', async (ctx) => {
  const room = roomOn(1, 'hostile');
  const a = await joined(ctx, 'hal', room, 'hint');
  const b = await joined(ctx, 'hol', room, 'hint');
  const processesBefore = (await processUrls(ctx)).length;
  for (const bytes of hostileRequests(basicAuth())) {
    const answer = await sendRaw(ctx.node.url, bytes);
    assert.ok(
      answer.status === null || (answer.status >= 400 && answer.status < 500),
      `${JSON.stringify(bytes.slice(0, 100))} answered ${answer.status}`,
    );
  }
  assert.is((await http(ctx.node.url, 'GET', '/health')).status, 200);
  await offerReaches(a, b, 'v=0 after hostile targets');
  const c = await joined(ctx, 'hil', roomOn(0, 'after-hostile'), 'hint');
  await c.client.request('ping', {});
  assert.is(a.client.closeInfo, null);
  assert.is(b.client.closeInfo, null);
  assert.is((await processUrls(ctx)).length, processesBefore);
  assert.not.match(ctx.node.output(), /worker process died/, 'no worker process died');
  assert.is(ctx.node.child.exitCode, null);
});

test("SIGKILL of one worker: it is restarted, the public port stays up, the other process's rooms go on", async (ctx) => {
  const safeRoom = roomOn(0, 'survivors');
  const doomedRoom = roomOn(1, 'doomed');
  const s1 = await joined(ctx, 'sam', safeRoom, 'hint');
  const s2 = await joined(ctx, 'sue', safeRoom, 'hint');
  const d1 = await joined(ctx, 'dan', doomedRoom, 'hint');
  const urls = await processUrls(ctx);
  const victim = (await http(urls[1], 'GET', '/health')).body.process.pid as number;
  assert.is((await http(urls[1], 'GET', '/health')).body.process.index, 1);
  process.kill(victim, 'SIGKILL');
  const lost = await within(d1.client.closed, 15_000, "the killed process's client seeing its connection close");
  assert.ok(lost.code !== 1000, `the killed process's client lost its connection (${lost.code})`);
  // Once the primary has seen the death (a connection handed over in that very instant dies with the
  // worker, as its own connections do), the public port answers (process 0), and process 1 comes back.
  await eventually(() => /worker process died: restarting it/.test(ctx.node.output()), 10_000, 'the primary saw the death');
  for (let i = 0; i < 3; i++) assert.is((await http(ctx.node.url, 'GET', '/health')).status, 200);
  await offerReaches(s1, s2, 'v=0 during restart');
  await eventually(
    async () => {
      const h = await http(ctx.node.url, 'GET', '/health');
      return h.body?.process?.index === 1 && h.body.process.pid !== victim;
    },
    30_000,
    'process 1 restarted',
  );
  // Its room can be joined again (the restarted process owns it; a join may meet the old lease for a moment).
  const back = await eventually(async () => joined(ctx, 'dan2', doomedRoom, 'hint'), 20_000, 'rejoin of the doomed room');
  const back2 = await joined(ctx, 'dot', doomedRoom, 'hint');
  await offerReaches(back, back2, 'v=0 after restart');
  await offerReaches(s2, s1, 'v=0 after restart');
  assert.is(s1.client.closeInfo, null);
  assert.is(s2.client.closeInfo, null);
});

test('SIGTERM of the primary drains its processes and exits 0', async (ctx) => {
  const room = roomOn(0, 'last');
  const a = await joined(ctx, 'lee', room, 'hint');
  ctx.node.child.kill('SIGTERM');
  const closed = await within(a.client.closed, 20_000, 'the drained client closing');
  assert.ok([4012, 1001].includes(closed.code), `moved or going away (${closed.code})`);
  assert.is(await within(ctx.node.exited, 30_000, 'the primary exiting'), 0);
  const refused = await http(ctx.node.url, 'GET', '/health').then(
    () => 'answered',
    (err: NodeJS.ErrnoException) => err.code,
  );
  assert.is(refused, 'ECONNREFUSED');
});

test('NODE_PROCESSES > 1 without REDIS_URL exits 2 with a clear message', async (ctx) => {
  const err = await spawnServer(
    { NODE_PROCESSES: '2', DATABASE_URL: ctx.pg.url, DATA_DIR: mkdtempSync(path.join(tmpdir(), 'switchboard-mp-')) },
    { ready: 'switchboard node listening' },
  ).then(
    () => null,
    (e: Error) => e.message,
  );
  assert.ok(err, 'the node must not start');
  assert.match(err, /server exited with 2/);
  assert.match(err, /NODE_PROCESSES > 1 needs Redis/);
  await sleep(0);
});

test.run();
