// Cluster benchmark: `node dist/bench/cluster/run.js [--help]`.
// Real node processes (dist/server/main.js), a throwaway PostgreSQL and a
// redis-server, all on loopback. Measures:
//   lookup    room -> node lookups (GET) and first placements (SET NX) against Redis
//   relay     offer latency between two clients of one room: same node vs
//             across nodes (one Redis hop), p50/p99, and CPU per message
//   failover  SIGKILL the node running a call: time until both participants
//             (real WebRTC bots that reconnect on their own) decode media again
//   throughput offered signaling load on 1 node vs 3 nodes
// Results: bench/cluster/results/<timestamp>.json and latest.json.

import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { ResilientBot } from '../../clients/node/resilientBot.js';
import { createLogger } from '../../server/kernel/logger.js';
import { NodeRegistry } from '../../server/edges/cluster/nodeRegistry.js';
import { leastLoaded } from '../../server/edges/cluster/nodeSelector.js';
import { connectRedis, ready } from '../../server/edges/cluster/redis.js';
import { RedisRoomDirectory } from '../../server/edges/cluster/redisRoomDirectory.js';
import { TokenIssuer } from '../../server/edges/auth/tokens.js';
import { testKeys } from '../../test/support/keys.js';
import { startPostgres, type PostgresServer } from '../../test/support/postgres.js';
import { spawnServer, type ServerProcess } from '../../test/support/process.js';
import { startRedis, type RedisServer } from '../../test/support/redis.js';
import { Histogram, type LatencySummaryMs } from '../signaling/histogram.js';
import { machineBusyPct, machineCpu, procCpuSeconds, round2 } from '../signaling/procstat.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const RESULTS = path.resolve(HERE, '../../../bench/cluster/results');

const HELP = `Usage: node dist/bench/cluster/run.js [options]
  --only LIST        phases to run (default lookup,relay,failover,throughput)
  --lookups N        lookups and placements in the lookup phase (default 5000)
  --relay-rooms N    rooms of 2 in the relay phase (default 50)
  --relay-rate R     offers per second in the relay phase (default 500)
  --duration S       seconds per measured load step (default 10)
  --failovers N      SIGKILL runs in the failover phase (default 3)
  --rates LIST       offered msg/s in the throughput phase (default 2000,5000,10000)
  --heartbeat-ms N   NODE_HEARTBEAT_MS of the nodes (default 500)
  --ttl-ms N         NODE_TTL_MS of the nodes (default 2000; the product default is 5000)
  --label TEXT       stored with the results`;

const { values: opt } = parseArgs({
  options: {
    only: { type: 'string', default: 'lookup,relay,failover,throughput' },
    lookups: { type: 'string', default: '5000' },
    'relay-rooms': { type: 'string', default: '50' },
    'relay-rate': { type: 'string', default: '500' },
    duration: { type: 'string', default: '10' },
    failovers: { type: 'string', default: '3' },
    rates: { type: 'string', default: '2000,5000,10000' },
    label: { type: 'string', default: '' },
    'heartbeat-ms': { type: 'string', default: '500' },
    'ttl-ms': { type: 'string', default: '2000' },
    help: { type: 'boolean', default: false },
  },
});
if (opt.help) {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}
const phases = new Set(opt.only.split(','));
const DURATION_S = Number(opt.duration);
const progress = (msg: string) => process.stderr.write(`[bench:cluster] ${msg}\n`);
const log = createLogger('silent');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const FAST = { NODE_HEARTBEAT_MS: opt['heartbeat-ms'], NODE_TTL_MS: opt['ttl-ms'], CLUSTER_REQUEST_TIMEOUT_MS: '3000' };
let pg: PostgresServer;
let redis: RedisServer;
let issuer: TokenIssuer;
const procs: ServerProcess[] = [];
let prefixSeq = 0;

async function startNodes(ids: string[], extra: Record<string, string> = {}): Promise<ServerProcess[]> {
  const prefix = `b${prefixSeq++}-${randomBytes(3).toString('hex')}:`;
  const started: ServerProcess[] = [];
  for (const id of ids) {
    const p = await spawnServer({
      NODE_ID: id,
      REDIS_URL: redis.url,
      REDIS_PREFIX: prefix,
      DATABASE_URL: pg.url,
      RTC_WORKERS: '0',
      RATE_LIMIT_PER_SECOND: '100000',
      RATE_LIMIT_BURST: '100000',
      ROOM_EMPTY_TIMEOUT_SECONDS: '0',
      ...FAST,
      ...extra,
    });
    procs.push(p);
    started.push(p);
  }
  // Every node sees every other before load starts.
  const deadline = Date.now() + 15_000;
  for (;;) {
    const res = await fetch(`${started[0].url}/api/v1/cluster`, { headers: { authorization: basic() } }).then((r) => r.json());
    if (res.nodes?.length === ids.length) break;
    if (Date.now() > deadline) throw new Error('nodes did not see each other');
    await sleep(100);
  }
  return started;
}

async function stopNodes(nodes: ServerProcess[]): Promise<void> {
  for (const n of nodes) {
    if (n.child.exitCode === null && n.child.signalCode === null) {
      n.child.kill('SIGINT');
      await Promise.race([n.exited, sleep(10_000)]);
      if (n.child.exitCode === null) n.child.kill('SIGKILL');
    }
  }
}

function basic(): string {
  return `Basic ${Buffer.from('APItestkey:test-secret-0123456789abcdef').toString('base64')}`;
}

const mint = async (user: string) => (await issuer.mint({ userId: user, role: 'speaker', ttlSeconds: 3600 })).token;

// ---------------------------------------------------------------- raw clients

/** What the bench reads of GET /api/v1/cluster. */
interface ClusterView {
  nodes: Array<{ id: string; room_names: string[] }>;
}

interface RawClient {
  ws: WebSocket;
  id: string;
  onOffer: ((text: string) => void) | null;
}

/** A bare ws client (cheaper per message than SignalingClient): auth, join, then offers in and out. */
async function rawClient(url: string, user: string, room: string): Promise<RawClient> {
  const ws = new WebSocket(url.replace('http', 'ws') + '/ws', { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const client: RawClient = { ws, id: '', onOffer: null };
  const joined = new Promise<string>((resolve, reject) => {
    ws.on('message', (data) => {
      const text = data.toString();
      if (text.startsWith('{"type":"offer"')) {
        client.onOffer?.(text);
        return;
      }
      const m = JSON.parse(text) as { type: string; id?: string; payload: { participant_id: string; code?: string; message?: string } };
      if (m.type === 'joined') resolve(m.payload.participant_id);
      if (m.type === 'error' && (m.id === 'a' || m.id === 'j')) reject(new Error(`${m.payload.code}: ${m.payload.message}`));
    });
  });
  ws.send(JSON.stringify({ type: 'auth', id: 'a', payload: { token: await mint(user) } }));
  ws.send(JSON.stringify({ type: 'join', id: 'j', payload: { room } }));
  client.id = await joined;
  return client;
}

const PAD = 'x'.repeat(260);

/** Pairs of clients; each pair's sender offers at `rate`/pairs per second; latency from the send time in the sdp. */
async function offerLoad(pairs: Array<{ from: RawClient; to: RawClient }>, rate: number, seconds: number, pids: number[]) {
  const hist = new Histogram();
  let received = 0;
  let sent = 0;
  for (const p of pairs) {
    p.to.onOffer = (text) => {
      const i = text.indexOf('ts=');
      const ts = Number(text.slice(i + 3, text.indexOf(';', i)));
      hist.record((performance.now() - ts) * 1000);
      received++;
    };
  }
  const cpu0 = pids.map((pid) => procCpuSeconds(pid) ?? 0);
  const m0 = machineCpu();
  const tickMs = 10;
  const perTick = rate * (tickMs / 1000);
  let carry = 0;
  let next = 0;
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      carry += perTick;
      while (carry >= 1) {
        carry--;
        const p = pairs[next++ % pairs.length];
        p.from.ws.send(`{"type":"offer","payload":{"to":"${p.to.id}","sdp":"ts=${performance.now().toFixed(3)};${PAD}"}}`);
        sent++;
      }
      if (performance.now() - started >= seconds * 1000) {
        clearInterval(timer);
        resolve();
      }
    }, tickMs);
  });
  await sleep(1000); // stragglers
  const elapsed = (performance.now() - started) / 1000 - 1;
  const cpu = pids.map((pid, i) => (procCpuSeconds(pid) ?? 0) - cpu0[i]);
  const busy = machineBusyPct(m0, machineCpu(), cpus().length);
  for (const p of pairs) p.to.onOffer = null;
  const cpuTotal = cpu.reduce((a, b) => a + b, 0);
  return {
    offered_per_s: rate,
    sent,
    /** What the generator managed to send (below the offered rate when the machine is saturated). */
    sent_per_s: Math.round(sent / seconds),
    received,
    delivered_per_s: Math.round(received / elapsed),
    lost: sent - received,
    latency_ms: hist.summaryMs(),
    server_cpu_s: cpu.map(round2),
    server_cpu_us_per_msg: received > 0 ? Math.round((cpuTotal / received) * 1e6) : null,
    machine_busy_pct: busy,
  };
}

// ---------------------------------------------------------------- phases

async function lookupPhase() {
  progress('lookup: room -> node lookups and placements against Redis');
  const r = connectRedis(redis.url, 'bench');
  await ready(r);
  const prefix = `lk-${randomBytes(3).toString('hex')}:`;
  // Three registered nodes, as a cluster would have.
  const regs = ['n1', 'n2', 'n3'].map(
    (id) =>
      new NodeRegistry(
        r,
        { id, signalingUrl: `http://127.0.0.1/${id}`, rtcAddress: null, capacity: { participants: 1000 } },
        { prefix, heartbeatMs: 1000, ttlMs: 5000 },
        () => ({ rooms: 0, participants: 0, consumers: 0 }),
        log,
      ),
  );
  for (const reg of regs) await reg.start();
  const dir = new RedisRoomDirectory(r, regs[0], { prefix, leaseMs: 60_000, pendingMs: 3000, selector: leastLoaded }, log);
  const n = Number(opt.lookups);
  const place = new Histogram();
  const lookup = new Histogram();
  const redisCpu0 = procCpuSeconds(redis.pid()!) ?? 0;
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await dir.locate(`room-${i}`);
    place.record((performance.now() - t) * 1000);
  }
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await dir.locate(`room-${i % n}`);
    lookup.record((performance.now() - t) * 1000);
  }
  // 32 at once: what a busy node sees.
  const concurrent = new Histogram();
  let k = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (k < n) {
        const room = `room-${k++}`;
        const t = performance.now();
        await dir.locate(room);
        concurrent.record((performance.now() - t) * 1000);
      }
    }),
  );
  const redisCpu = (procCpuSeconds(redis.pid()!) ?? 0) - redisCpu0;
  for (const reg of regs) await reg.stop();
  r.disconnect();
  const out = {
    lookups: n,
    first_placement_ms: place.summaryMs(),
    lookup_existing_ms: lookup.summaryMs(),
    lookup_existing_32_concurrent_ms: concurrent.summaryMs(),
    redis_cpu_us_per_op: Math.round((redisCpu / (3 * n)) * 1e6),
  };
  progress(
    `lookup: existing p50 ${out.lookup_existing_ms.p50} ms p99 ${out.lookup_existing_ms.p99} ms; placement p50 ${out.first_placement_ms.p50} ms p99 ${out.first_placement_ms.p99} ms`,
  );
  return out;
}

async function relayPhase() {
  progress('relay: offers within one node vs across two nodes');
  const [a, b] = await startNodes(['relay-a', 'relay-b']);
  const rooms = Number(opt['relay-rooms']);
  const rate = Number(opt['relay-rate']);
  const pids = [a.child.pid!, b.child.pid!, redis.pid()!];
  const local: Array<{ from: RawClient; to: RawClient }> = [];
  const cross: Array<{ from: RawClient; to: RawClient }> = [];
  for (let i = 0; i < rooms; i++) {
    // Same node: both clients on a (the room goes wherever a's placement puts it; keep those on a).
    const l1 = await rawClient(a.url, `l1-${i}`, `local-${i}`);
    const l2 = await rawClient(a.url, `l2-${i}`, `local-${i}`);
    local.push({ from: l1, to: l2 });
    // Across nodes: one client on each node.
    const c1 = await rawClient(a.url, `c1-${i}`, `cross-${i}`);
    const c2 = await rawClient(b.url, `c2-${i}`, `cross-${i}`);
    cross.push({ from: c1, to: c2 }, { from: c2, to: c1 });
  }
  const view = await fetch(`${a.url}/api/v1/cluster`, { headers: { authorization: basic() } }).then(
    (r) => r.json() as Promise<ClusterView>,
  );
  const placedOnA = new Set<string>(view.nodes.find((n) => n.id === 'relay-a')!.room_names);
  // "local" pairs count only if their room runs on a (else both are relayed to b: two hops).
  const sameNode = local.filter((_, i) => placedOnA.has(`local-${i}`));
  progress(`relay: ${sameNode.length} same-node rooms, ${cross.length / 2} cross-node rooms`);
  await offerLoad(cross, rate, 2, pids); // warm-up
  const sameResult = await offerLoad(sameNode.length > 0 ? sameNode : local, rate, DURATION_S, pids);
  const crossResult = await offerLoad(cross, rate, DURATION_S, pids);
  progress(
    `relay: same node p50 ${sameResult.latency_ms.p50} p99 ${sameResult.latency_ms.p99} ms; cross-node p50 ${crossResult.latency_ms.p50} p99 ${crossResult.latency_ms.p99} ms`,
  );
  for (const p of [...local, ...cross]) p.from.ws.terminate();
  await stopNodes([a, b]);
  return { rooms, rate_per_s: rate, same_node: sameResult, cross_node: crossResult, note: 'server_cpu_s: node a, node b, redis-server' };
}

async function failoverPhase() {
  const runs = Number(opt.failovers);
  const results: Array<Record<string, unknown>> = [];
  for (let run = 0; run < runs; run++) {
    progress(`failover ${run + 1}/${runs}: two nodes, a call with real media, SIGKILL its node`);
    const nodes = await startNodes([`fo-a-${run}`, `fo-b-${run}`], { RTC_WORKERS: '1', RTC_PORT: '0', RTC_LISTEN_IP: '127.0.0.1' });
    const urls = nodes.map((n) => n.url);
    const room = `fo-room-${run}`;
    const bots = [
      await ResilientBot.start({ urls, room, token: () => mint(`alice-${run}`), publish: { video: true, audio: true } }, 0),
      await ResilientBot.start({ urls, room, token: () => mint(`bob-${run}`), publish: { video: true, audio: true } }, 1),
    ];
    const waitMedia = async (timeoutMs: number) => {
      const before = bots.map((b) => b.frames('video'));
      const deadline = Date.now() + timeoutMs;
      while (!bots.every((b, i) => b.received.size >= 2 && b.frames('video') > before[i])) {
        if (Date.now() > deadline) throw new Error('no media');
        await sleep(20);
      }
    };
    await waitMedia(30_000);
    const view = await fetch(`${urls[0]}/api/v1/cluster`, { headers: { authorization: basic() } }).then(
      (r) => r.json() as Promise<ClusterView>,
    );
    const ownerId = view.nodes.find((n) => n.room_names.includes(room))!.id;
    const victim = nodes[ownerId === `fo-a-${run}` ? 0 : 1];
    const rejoined: number[] = [];
    for (const b of bots) b.once('rejoined', (e) => rejoined.push(e.afterMs));
    const killedAt = performance.now();
    victim.child.kill('SIGKILL');
    // Back in media: both bots joined again and decode frames from the other on their new connection.
    const frameAt: number[] = [];
    await Promise.all(
      bots.map(async (b, i) => {
        const deadline = Date.now() + 60_000;
        while (!(b.rejoins > 0 && b.frames('video') > 0)) {
          if (Date.now() > deadline) throw new Error('not back in media');
          await sleep(10);
        }
        frameAt[i] = performance.now() - killedAt;
      }),
    );
    const r = {
      owner_killed: ownerId,
      back_in_media_ms: Math.round(Math.max(...frameAt)),
      per_participant_back_in_media_ms: frameAt.map(Math.round),
      rejoin_after_loss_ms: rejoined,
    };
    progress(`failover ${run + 1}: back in media after ${r.back_in_media_ms} ms`);
    results.push(r);
    for (const b of bots) await b.close();
    await stopNodes(nodes);
  }
  const times = results.map((r) => r.back_in_media_ms as number).sort((x, y) => x - y);
  return {
    runs: results,
    back_in_media_ms_median: times[Math.floor(times.length / 2)],
    back_in_media_ms_max: times[times.length - 1],
    settings: FAST,
  };
}

async function throughputPhase() {
  const rates = opt.rates.split(',').map(Number);
  const out: Record<string, unknown> = {};
  for (const count of [1, 3]) {
    progress(`throughput: ${count} node(s)`);
    const nodes = await startNodes(Array.from({ length: count }, (_, i) => `tp${count}-${i}`));
    const pairs: Array<{ from: RawClient; to: RawClient }> = [];
    // 200 rooms of 2; clients spread over the nodes like a load balancer would.
    let c = 0;
    for (let i = 0; i < 200; i++) {
      const x = await rawClient(nodes[c++ % count].url, `x-${i}`, `tp-${i}`);
      const y = await rawClient(nodes[c++ % count].url, `y-${i}`, `tp-${i}`);
      pairs.push({ from: x, to: y });
    }
    const pids = [...nodes.map((n) => n.child.pid!), redis.pid()!];
    const steps = [];
    for (const rate of rates) {
      const s = await offerLoad(pairs, rate, DURATION_S, pids);
      progress(
        `throughput ${count} node(s) @ ${rate}/s: delivered ${s.delivered_per_s}/s, p99 ${s.latency_ms.p99} ms, machine ${s.machine_busy_pct}% busy`,
      );
      steps.push(s);
    }
    for (const p of pairs) {
      p.from.ws.terminate();
      p.to.ws.terminate();
    }
    await stopNodes(nodes);
    out[`nodes_${count}`] = { steps, note: 'server_cpu_s: nodes..., redis-server' };
  }
  return out;
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const startedAt = new Date();
  [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
  issuer = await TokenIssuer.fromPrivateKeyFile(testKeys().privateKeyFile, { audience: 'switchboard', issuer: null });
  const record: Record<string, unknown> = {
    bench: 'cluster',
    label: opt.label,
    started_at: startedAt.toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, loadavg_at_start: loadavg() },
    note: 'All processes (nodes, redis-server, PostgreSQL, the load generator, WebRTC bots) share this machine; other agents used the same cores during the run.',
  };
  try {
    if (phases.has('lookup')) record['lookup'] = await lookupPhase();
    if (phases.has('relay')) record['relay'] = await relayPhase();
    if (phases.has('failover')) record['failover'] = await failoverPhase();
    if (phases.has('throughput')) record['throughput'] = await throughputPhase();
  } finally {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await Promise.allSettled([pg.stop(), redis.stop()]);
  }
  record['finished_at'] = new Date().toISOString();
  record['loadavg_at_end'] = loadavg();
  mkdirSync(RESULTS, { recursive: true });
  const file = path.join(RESULTS, `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
  copyFileSync(file, path.join(RESULTS, 'latest.json'));
  process.stdout.write(`${JSON.stringify(record, null, 2)}\n`);
  progress(`results: ${file}`);
  process.exit(0);
}

main().catch((err) => {
  progress(`failed: ${err instanceof Error ? err.stack : String(err)}`);
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  process.exit(1);
});

export type { LatencySummaryMs };
