// Cascade benchmark: one publisher (real WebRTC, VP8 + Opus) on the owner
// node, N cheap SRTP plain-RTP sinks either on the owner's own router
// ("local") or on the room's router on a second node, fed through the
// cross-node SRTP PipeTransport ("cascade"). Measures forwarded packets at
// the sinks, loss from RTP sequence numbers, what crossed the pipe, and the
// worker CPU of each node per forwarded packet. Two nodes in this process,
// one mediasoup worker each, the real Redis bus between them.
//
//   node dist/bench/cascade/run.js [--subscribers 50,200] [--duration 15] [--settle 4]
//       [--sink-procs 2] [--out bench/cascade/results] [--label text]
//
// Re-executes itself inside `unshare -n` (loopback only), like bench/sfu.

import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isolated, reexecIsolated } from '../shared/netns.js';
import type { Consumer, PipeTransport, PlainTransport, Router, RtpCapabilities } from 'mediasoup/types';
import { RedisNodeBus } from '../../server/edges/cluster/nodeBus.js';
import type { BusMethods } from '../../server/edges/cluster/busCatalog.js';
import type { CascadeMethods } from '../../sfu/cascade/wire.js';
import { createLogger } from '../../server/kernel/logger.js';
import type { RemoteRouter } from '../../sfu/cascade/remoteRouter.js';
import type { WorkerPool } from '../../sfu/workerPool.js';
import { startRedis, type RedisServer } from '../../test/support/redis.js';
import { startServer, type TestServer } from '../../test/support/server.js';
import type { PublisherRequest } from '../sfu/publisher.js';
import type { SinkSnapshot } from '../sfu/sink.js';
import { SinkProc } from '../sfu/sinkProc.js';

interface Options {
  subscribers: number[];
  videoKbps: number;
  duration: number;
  settle: number;
  sinkProcs: number;
  out: string;
  label: string;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    subscribers: [50, 200],
    videoKbps: 500,
    duration: 15,
    settle: 4,
    sinkProcs: 2,
    out: 'bench/cascade/results',
    label: '',
  };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1] ?? '';
    switch (argv[i]) {
      case '--subscribers':
        o.subscribers = v.split(',').map(Number);
        i++;
        break;
      case '--duration':
        o.duration = Number(v);
        i++;
        break;
      case '--video-kbps':
        o.videoKbps = Number(v);
        i++;
        break;
      case '--settle':
        o.settle = Number(v);
        i++;
        break;
      case '--sink-procs':
        o.sinkProcs = Number(v);
        i++;
        break;
      case '--out':
        o.out = v;
        i++;
        break;
      case '--label':
        o.label = v;
        i++;
        break;
      case '--help':
        process.stdout.write('cascade bench: see the header of bench/cascade/run.ts and bench/README.md\n');
        process.exit(0);
      // eslint-disable-next-line no-fallthrough
      default:
        process.stderr.write(`unknown option ${argv[i]}\n`);
        process.exit(2);
    }
  }
  if (o.subscribers.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--subscribers: positive integers');
  return o;
}

// ---- isolation (loopback only) ------------------------------------------------------

// ---- helpers ---------------------------------------------------------------------------

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const t0 = Date.now();
const log = (msg: string) => process.stderr.write(`[cascade-bench +${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${msg}\n`);
const r1 = (x: number) => Math.round(x * 10) / 10;
const r4 = (x: number) => Math.round(x * 1e4) / 1e4;

/**
 * bench/sfu's publisher process (publisher.ts): clocked synthetic sources, VP8
 * capped at --video-kbps with no bandwidth estimation, so its rate is the same
 * input in every run instead of following the machine's load.
 */
/** A publisher reply: start -> participantId + producers, stats -> stats, close -> nothing. */
interface PublisherReply {
  id: number;
  error?: string;
  participantId?: string;
  producers?: Record<string, string>;
}

class Publisher {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: PublisherReply) => void; reject: (e: Error) => void }>();
  constructor(readonly child: ChildProcess) {
    child.on('message', (reply: PublisherReply) => {
      const p = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (reply.error) p?.reject(new Error(`publisher: ${reply.error}`));
      else p?.resolve(reply);
    });
  }
  static start(): Publisher {
    return new Publisher(
      fork(fileURLToPath(new URL('../sfu/publisher.js', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
    );
  }
  call(req: Omit<PublisherRequest, 'id'>): Promise<PublisherReply> {
    const id = this.nextId++;
    return new Promise<PublisherReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ ...req, id });
    });
  }
}

interface Sink {
  proc: number;
  index: number;
  ssrc: number;
  kind: string;
  transport: PlainTransport;
  consumer: Consumer;
}

/** A cheap subscriber's consumer: plain RTP with SRTP to one sink socket, on `router`. */
async function plainConsumer(router: Router, producerId: string, port: number, caps: RtpCapabilities) {
  const transport = await router.createPlainTransport({
    listenInfo: { protocol: 'udp', ip: '127.0.0.1' },
    rtcpMux: true,
    comedia: false,
    enableSrtp: true,
    srtpCryptoSuite: 'AES_CM_128_HMAC_SHA1_80',
  });
  await transport.connect({
    ip: '127.0.0.1',
    port,
    srtpParameters: { cryptoSuite: 'AES_CM_128_HMAC_SHA1_80', keyBase64: randomBytes(30).toString('base64') },
  });
  const consumer = await transport.consume({ producerId, rtpCapabilities: caps });
  return { transport, consumer };
}

const workerCpuMs = async (pool: WorkerPool) => (await pool.usage()).reduce((n, w) => n + w.cpu_ms, 0);

// ---- the bench --------------------------------------------------------------------------

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (!isolated()) return reexecIsolated('cascade-bench', fileURLToPath(import.meta.url));
  const started = new Date();
  const logger = createLogger('silent');
  const closers: Array<() => Promise<unknown>> = [];
  const results: Array<Record<string, unknown>> = [];
  let status = 'ok';
  let redis: RedisServer | null = null;
  const meta: Record<string, unknown> = {
    started: started.toISOString(),
    label: o.label,
    options: o,
    node: process.version,
    cpus: `${availableParallelism()} x ${cpus()[0]?.model ?? '?'}`,
    loadavg_start: loadavg(),
    network: 'private namespace (unshare -n), loopback only',
    note: "the 2 cores were shared with other agents' builds and tests while this ran",
  };
  try {
    redis = await startRedis();
    const env = { MEDIASOUP_LOG_LEVEL: 'error', ROOM_DEFAULT_TYPE: 'broadcast', SFU_NODE_CONSUMER_BUDGET: '100000' };
    const nodes: Array<{ srv: TestServer; bus: RedisNodeBus<BusMethods> }> = [];
    for (const [id, other] of [
      ['owner', 'edge'],
      ['edge', 'owner'],
    ] as const) {
      const srv = await startServer({ sfuWorkers: 1, env: { ...env, NODE_ID: id } });
      const bus = await RedisNodeBus.connect<BusMethods>({ redisUrl: redis.url, nodeId: id, prefix: 'bench:', log: logger });
      srv.app.sfu!.enableCascade(bus.carrying<CascadeMethods>(), { candidates: () => [other] }, srv.app.config.cascade);
      closers.push(async () => {
        await srv.app.sfu!.closeCascade();
        await bus.close();
        await srv.stop();
      });
      nodes.push({ srv, bus });
    }
    const [owner, edge] = nodes as [{ srv: TestServer; bus: RedisNodeBus<BusMethods> }, { srv: TestServer; bus: RedisNodeBus<BusMethods> }];
    const sinks = Array.from({ length: o.sinkProcs }, () => SinkProc.start());
    closers.push(async () => sinks.forEach((s) => s.child.kill()));

    log(`publisher: VP8 640x360@15 capped at ${o.videoKbps} kbps (no BWE) + Opus, on the owner node`);
    const pub = Publisher.start();
    closers.push(async () => {
      await Promise.race([pub.call({ cmd: 'close' }), sleep(3000)]).catch(() => {});
      pub.child.kill();
    });
    const token = await owner.srv.mint({ userId: 'pub', role: 'host' });
    const started = await pub.call({
      cmd: 'start',
      url: owner.srv.url,
      token,
      room: 'bench',
      video: true,
      width: 640,
      height: 360,
      fps: 15,
      kbps: o.videoKbps,
      bwe: false,
    } as Omit<PublisherRequest, 'id'>);
    const producers = started.producers as Record<string, string>;
    const publisherId = started.participantId as string;
    await sleep(3000);
    const media = owner.srv.app.rooms.getRoom('bench')!.media!;
    /** Packets the owner's SFU received from the publisher, per kind. */
    const ingress = async () => {
      const out: Record<string, number> = {};
      for (const [kind, id] of Object.entries(producers)) {
        const stats = (await media.stats(publisherId, { producerId: id })) as Array<{ packetCount: number }>;
        out[kind] = stats.reduce((n, x) => n + x.packetCount, 0);
      }
      return out;
    };
    const primary = owner.srv.app.sfu!.pool.slots[0].routers.values().next().value as Router;

    let cascade: { remote: RemoteRouter; hosted: { router: { router: Router }; pipe: PipeTransport } } | null = null;

    for (const placement of ['local', 'cascade'] as const) {
      if (placement === 'cascade') {
        // Opened only now, so the local runs had no pipe to feed.
        log('opening the room on the edge node (router + SRTP pipe, every producer piped)');
        const openStart = performance.now();
        const remote = await media.remote!.routerOn('edge');
        meta['pipe'] = { srtp: remote.pipe.srtpParameters?.cryptoSuite, open_ms: r1(performance.now() - openStart) };
        cascade = { remote, hosted: edge.srv.app.sfu!.cascade!.agent.hosted[0] };
        await sleep(2000);
      }
      for (const n of o.subscribers) {
        const router = cascade ? cascade.hosted.router.router : primary;
        log(`${placement}: ${n} subscribers x 2 streams`);
        const made: Sink[] = [];
        const per = Math.ceil((n * 2) / sinks.length);
        const ports = await Promise.all(sinks.map((s) => s.open(per)));
        const bases = sinks.map((s) => s.sockets - per);
        let next = 0;
        for (let i = 0; i < n; i++) {
          for (const [kind, id] of Object.entries(producers)) {
            const proc = next % sinks.length;
            const j = Math.floor(next / sinks.length);
            next++;
            const { transport, consumer } = await plainConsumer(router, id, ports[proc][j], router.rtpCapabilities);
            made.push({ proc, index: bases[proc] + j, ssrc: consumer.rtpParameters.encodings![0].ssrc!, kind, transport, consumer });
          }
        }
        await sleep(o.settle * 1000);
        // Everything at once, so the counters describe about the same instant.
        const snap = async () => {
          const t = performance.now();
          const [sinkSnaps, ownerCpu, edgeCpu, ingressNow, pipe, pipeIn] = await Promise.all([
            Promise.all(sinks.map((s) => s.snapshot())),
            workerCpuMs(owner.srv.app.sfu!.pool),
            workerCpuMs(edge.srv.app.sfu!.pool),
            ingress(),
            cascade ? cascade.remote.pipe.getStats().then((x) => x[0]) : null,
            cascade ? cascade.hosted.pipe.getStats().then((x) => x[0]) : null,
          ]);
          return { t, sinks: sinkSnaps, ownerCpu, edgeCpu, ingress: ingressNow, pipe, pipeIn };
        };
        const a = await snap();
        await sleep(o.duration * 1000);
        const b = await snap();
        const secs = (b.t - a.t) / 1000;
        let received = 0;
        let expected = 0;
        let fromPublisher = 0;
        let silent = 0;
        for (const s of made) {
          fromPublisher += (b.ingress[s.kind] ?? 0) - (a.ingress[s.kind] ?? 0);
          const find = (x: SinkSnapshot[][]) => x[s.proc]?.[s.index]?.streams.find((st) => st[0] === s.ssrc);
          const fa = find(a.sinks);
          const fb = find(b.sinks);
          const got = (fb?.[1] ?? 0) - (fa?.[1] ?? 0);
          received += got;
          expected += fb && fa ? fb[3] - fa[3] : 0;
          if (got === 0) silent++;
        }
        const ownerCpu = b.ownerCpu - a.ownerCpu;
        const edgeCpu = b.edgeCpu - a.edgeCpu;
        const row = {
          placement,
          subscribers: n,
          consumers: made.length,
          window_s: r1(secs),
          publisher_pps: Object.fromEntries(Object.keys(producers).map((k) => [k, r1(((b.ingress[k] ?? 0) - (a.ingress[k] ?? 0)) / secs)])),
          forwarded_pps: Math.round(received / secs),
          /** Gaps in the RTP sequence numbers each sink saw. */
          loss: r4(expected > 0 ? Math.max(0, 1 - received / expected) : 0),
          /** Against what the owner's SFU received from the publisher: also counts packets never sent on. */
          loss_vs_publisher: r4(fromPublisher > 0 ? Math.max(0, 1 - received / fromPublisher) : 0),
          silent_consumers: silent,
          worker_cpu_pct: { owner: r1((ownerCpu / (secs * 1000)) * 100), edge: r1((edgeCpu / (secs * 1000)) * 100) },
          forwarded_per_worker_cpu_s: Math.round(received / ((ownerCpu + edgeCpu) / 1000)),
          pipe:
            a.pipe && b.pipe && a.pipeIn && b.pipeIn
              ? {
                  sent_kbps: r1(((b.pipe.bytesSent - a.pipe.bytesSent) * 8) / secs / 1000),
                  received_kbps_at_edge: r1(((b.pipeIn.bytesReceived - a.pipeIn.bytesReceived) * 8) / secs / 1000),
                }
              : null,
        };
        log(
          `  ${row.forwarded_pps} pps (publisher ${JSON.stringify(row.publisher_pps)}), loss ${(row.loss * 100).toFixed(2)}% (vs publisher ${(row.loss_vs_publisher * 100).toFixed(2)}%), worker cpu owner ${row.worker_cpu_pct.owner}% edge ${row.worker_cpu_pct.edge}%`,
        );
        results.push(row);
        for (const s of made) s.transport.close();
        await Promise.all(sinks.map((s) => s.closeAll()));
        await sleep(1000);
      }
    }
  } catch (err) {
    status = `error: ${(err as Error)?.stack ?? err}`;
    log(`!! ${status}`);
  } finally {
    for (const c of closers.reverse()) await c().catch(() => {});
    await redis?.stop();
  }
  const outDir = path.resolve(o.out);
  mkdirSync(outDir, { recursive: true });
  const doc = { meta: { ...meta, finished: new Date().toISOString(), loadavg_end: loadavg(), status }, results };
  const text = `${JSON.stringify(doc, null, 2)}\n`;
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  writeFileSync(path.join(outDir, `${stamp}.json`), text);
  writeFileSync(path.join(outDir, 'latest.json'), text);
  log(`results: ${path.join(outDir, `${stamp}.json`)}`);
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  process.exit(status === 'ok' ? 0 : 1);
}

main().catch((err) => {
  process.stderr.write(`${(err as Error)?.stack ?? err}\n`);
  process.exit(1);
});
