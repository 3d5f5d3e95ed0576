// SFU benchmark: one publisher fanned out to N subscribers through the
// server's own SFU (mediasoup workers, per-room routers, piped overflow
// routers), plus an audio-only room and a small run with real WebRTC
// subscribers. See bench/README.md, section "SFU (bench/sfu)".
//
//   node dist/bench/sfu/run.js [--mode video,audio] [--subscribers 100,200,...]
//       [--audio-subscribers 500,1000,...] [--duration 20] [--workers 2]
//       [--budget 400] [--real-subscribers 20] ...      (--help for all)
//
// It re-executes itself inside a private network namespace (`unshare -n`,
// loopback only) unless it already runs in one: media must never leave lo.

import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, networkInterfaces } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Consumer, PlainTransport, RtpCapabilities } from 'mediasoup/types';
import type { MediaRoom } from '../../sfu/mediaRoom.js';
import { resolveWorkerBin } from '../../sfu/workerBinary.js';
import { MediaBot, type ReceivedTrack } from '../../clients/node/mediaBot.js';
import { startServer, type TestServer } from '../../test/support/server.js';
import { machineCpu, processCpuMs, snmpUdp, udpDropsByInode, udpDropsOf } from './procnet.js';
import type { PublisherRequest, PublisherStats } from './publisher.js';
import type { SinkSnapshot } from './sink.js';
import { SINK_RCVBUF, SinkProc } from './sinkProc.js';

// ---- options -----------------------------------------------------------------

interface Options {
  modes: Array<'video' | 'audio'>;
  subscribers: number[];
  audioSubscribers: number[];
  duration: number;
  settle: number;
  warmup: number;
  workers: number;
  budget: number;
  realSubscribers: number;
  realBackground: number;
  videoKbps: number;
  width: number;
  height: number;
  fps: number;
  sinks: Array<'read' | 'batch'>;
  batchMs: number;
  sinkProcs: number;
  sinkRcvbuf: number;
  stopLoss: number;
  tcc: boolean;
  plainTransports: 'subscriber' | 'consumer';
  publisherBwe: boolean;
  maxSeconds: number;
  maxSetupSeconds: number;
  out: string;
  label: string;
}

const HELP = `SFU bench (bench/sfu): one publisher -> N subscribers through Switchboard's SFU.
  --mode video,audio          which fan-out runs (video = VP8+Opus publisher, audio = Opus only)
  --subscribers 100,...,1000   video-room subscriber counts, measured in increasing steps
  --audio-subscribers 500,...  audio-room subscriber counts
  --duration 20                measuring window per step (s)
  --settle 4                   wait after adding subscribers before measuring (s)
  --warmup 8                   publisher warm-up before the first step (s)
  --workers 2                  mediasoup workers (RTC_WORKERS)
  --budget 400                 SFU_ROUTER_CONSUMER_BUDGET (consumers per router before piping)
  --real-subscribers 20        real WebRTC subscribers (wrtc + mediasoup-client); 0 skips
  --real-background 0          cheap subscribers in the real run's room, alongside the real ones
  --video-kbps 500             publisher maxBitrate (0 = whatever libwebrtc sends)
  --width 640 --height 360 --fps 15
  --sinks read,batch           sink kinds, each a full pass of every --mode (both count every
                               RTP packet and read loss from sequence numbers):
                                 read  = sinks wait in epoll and are woken per packet; on loopback
                                         the worker pays that wake-up inside its send call
                                 batch = sinks sleep --batch-ms between draining their sockets, so
                                         the worker only queues packets (closer to sending to a NIC)
  --batch-ms 100               sleep between drains of 'batch' sinks
  --sink-procs 2               sink processes for the cheap subscribers
  --sink-rcvbuf 1048576        SO_RCVBUF of each sink socket (capped by net.core.rmem_max)
  --stop-loss 0.25             stop a mode's steps after a step loses more than this
  --tcc on|off                 offer transport-cc to cheap subscribers (browsers do; default on)
  --plain-transports subscriber|consumer
                               subscriber (default): one plain transport and sink socket per cheap
                               subscriber, carrying its audio and video (like a browser's one recv
                               transport); consumer: one transport and socket per consumer
  --publisher-bwe off|on       off (default): the publisher negotiates no transport-cc/REMB, so its
                               rate stays at --video-kbps instead of backing off when the
                               saturated box delays packets (on = what a browser does)
  --max-seconds 1500           hard limit for the whole run
  --max-setup-seconds 60       adding one step's subscribers may take this long; past it the
                               step is measured with the subscribers made so far, and is the last
  --out bench/sfu/results      where <timestamp>.json and latest.json go
  --label text                 free text stored with the results`;

function parseArgs(argv: string[]): Options {
  const o: Options = {
    modes: ['video', 'audio'],
    subscribers: [100, 200, 400, 600, 800, 1000],
    audioSubscribers: [500, 1000, 1500, 2000, 3000],
    duration: 20,
    settle: 4,
    warmup: 8,
    workers: 2,
    budget: 400,
    realSubscribers: 20,
    realBackground: 0,
    videoKbps: 500,
    width: 640,
    height: 360,
    fps: 15,
    sinks: ['read', 'batch'],
    batchMs: 100,
    sinkProcs: 2,
    sinkRcvbuf: SINK_RCVBUF,
    stopLoss: 0.25,
    tcc: true,
    plainTransports: 'subscriber',
    publisherBwe: false,
    maxSeconds: 1500,
    maxSetupSeconds: 60,
    out: 'bench/sfu/results',
    label: '',
  };
  const list = (v: string) => v.split(',').filter(Boolean).map((x) => {
    const n = Number(x);
    if (!Number.isInteger(n) || n < 0) throw new Error(`not a count: ${x}`);
    return n;
  });
  const num = (v: string, name: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} needs a number`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') {
      process.stdout.write(`${HELP}\n`);
      process.exit(0);
    }
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const [key, inline] = a.slice(2).split('=', 2) as [string, string | undefined];
    const v = inline ?? argv[++i];
    if (v === undefined) throw new Error(`--${key} needs a value`);
    switch (key) {
      case 'mode': o.modes = v.split(',').filter(Boolean).map((m) => {
        if (m !== 'video' && m !== 'audio') throw new Error(`--mode: video or audio, not ${m}`);
        return m;
      }); break;
      case 'subscribers': o.subscribers = list(v); break;
      case 'audio-subscribers': o.audioSubscribers = list(v); break;
      case 'duration': o.duration = num(v, key); break;
      case 'settle': o.settle = num(v, key); break;
      case 'warmup': o.warmup = num(v, key); break;
      case 'workers': o.workers = num(v, key); break;
      case 'budget': o.budget = num(v, key); break;
      case 'real-subscribers': o.realSubscribers = num(v, key); break;
      case 'real-background': o.realBackground = num(v, key); break;
      case 'video-kbps': o.videoKbps = num(v, key); break;
      case 'width': o.width = num(v, key); break;
      case 'height': o.height = num(v, key); break;
      case 'fps': o.fps = num(v, key); break;
      case 'sinks': o.sinks = v.split(',').filter(Boolean).map((m) => {
        if (m !== 'read' && m !== 'batch') throw new Error(`--sinks: read or batch, not ${m}`);
        return m;
      }); break;
      case 'batch-ms': o.batchMs = num(v, key); break;
      case 'sink-procs': o.sinkProcs = Math.max(1, num(v, key)); break;
      case 'sink-rcvbuf': o.sinkRcvbuf = num(v, key); break;
      case 'stop-loss': o.stopLoss = num(v, key); break;
      case 'tcc': o.tcc = v !== 'off'; break;
      case 'plain-transports':
        if (v !== 'subscriber' && v !== 'consumer') throw new Error(`--plain-transports: subscriber or consumer, not ${v}`);
        o.plainTransports = v;
        break;
      case 'publisher-bwe': o.publisherBwe = v === 'on'; break;
      case 'max-seconds': o.maxSeconds = num(v, key); break;
      case 'max-setup-seconds': o.maxSetupSeconds = num(v, key); break;
      case 'out': o.out = v; break;
      case 'label': o.label = v; break;
      default: throw new Error(`unknown option --${key} (--help lists them)`);
    }
  }
  o.subscribers.sort((a, b) => a - b);
  o.audioSubscribers.sort((a, b) => a - b);
  return o;
}

// ---- isolation: loopback only --------------------------------------------------

function isolated(): boolean {
  return Object.values(networkInterfaces()).flat().every((a) => a?.internal);
}

/** Runs this same command inside `unshare -n` (a network namespace with only lo). */
function reexecIsolated(): void {
  if (process.env['SFU_BENCH_NETNS'] === '1') {
    process.stderr.write('[sfu-bench] still not isolated inside unshare -n: refusing to send media\n');
    process.exit(2);
  }
  const script = fileURLToPath(import.meta.url);
  const child = spawn(
    'unshare',
    ['-n', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"', process.execPath, ...process.execArgv, script, ...process.argv.slice(2)],
    { stdio: 'inherit', env: { ...process.env, SFU_BENCH_NETNS: '1' } },
  );
  // unshare and sh exec into node, so the child's pid is the bench's: pass stop signals on.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
  child.on('error', (err) => {
    process.stderr.write(
      `[sfu-bench] cannot enter a private network namespace (${err.message}).\n` +
        "Run it as root, or yourself: unshare -rn sh -c 'ip link set lo up; exec node dist/bench/sfu/run.js ...'\n",
    );
    process.exit(2);
  });
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
}

// ---- small helpers -------------------------------------------------------------

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const t0 = Date.now();
function log(msg: string): void {
  process.stderr.write(`[sfu-bench +${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${msg}\n`);
}
const r1 = (x: number) => Math.round(x * 10) / 10;
const r4 = (x: number) => Math.round(x * 1e4) / 1e4;
const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const k = (x: number) => (x >= 1000 ? `${(x / 1000).toFixed(1)}k` : x.toFixed(0));
function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

// ---- sinks (child processes): sinkProc.ts ----------------------------------------


/** The publisher process (publisher.ts). */
class Publisher {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: any) => void; reject: (e: Error) => void }>();
  participantId = '';
  /** kind ('audio' | 'video') -> producer id */
  producers: Record<string, string> = {};

  constructor(readonly child: ChildProcess) {
    child.on('message', (reply: { id: number; error?: string }) => {
      const p = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (reply.error) p?.reject(new Error(`publisher: ${reply.error}`));
      else p?.resolve(reply);
    });
    child.on('exit', () => {
      for (const p of this.pending.values()) p.reject(new Error('publisher process exited'));
      this.pending.clear();
    });
  }

  static start(): Publisher {
    const file = fileURLToPath(new URL('./publisher.js', import.meta.url));
    return new Publisher(fork(file, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  }

  private call(req: Omit<PublisherRequest, 'id'>): Promise<any> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ ...req, id });
    });
  }

  async begin(req: { url: string; token: string; room: string; video: boolean; width: number; height: number; fps: number; kbps: number; bwe: boolean }): Promise<void> {
    const r = await this.call({ cmd: 'start', ...req } as Omit<PublisherRequest, 'id'>);
    this.participantId = r.participantId;
    this.producers = r.producers;
  }

  async stats(): Promise<PublisherStats[]> {
    return (await this.call({ cmd: 'stats' })).stats;
  }

  async close(): Promise<void> {
    await Promise.race([this.call({ cmd: 'close' }), sleep(3000)]).catch(() => {});
    this.kill();
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill();
  }
}

// ---- cheap subscribers -----------------------------------------------------------

type SinkKind = 'read' | 'batch';

/** One plain-RTP consumer and the sink socket it sends to (shared by a subscriber's consumers with --plain-transports subscriber). */
interface CheapConsumer {
  kind: 'audio' | 'video';
  ssrc: number;
  worker: number;
  proc: number;
  sinkIndex: number;
  port: number;
  transport: PlainTransport;
  consumer: Consumer;
}

/** A cheap subscriber: one consumer per producer. */
type CheapSubscriber = CheapConsumer[];

/** Router capabilities as a subscriber would offer them (optionally without transport-cc). */
function subscriberCaps(routerCaps: RtpCapabilities, tcc: boolean): RtpCapabilities {
  if (tcc) return routerCaps;
  return {
    codecs: routerCaps.codecs?.map((c) => ({ ...c, rtcpFeedback: (c.rtcpFeedback ?? []).filter((f) => f.type !== 'transport-cc') })),
    headerExtensions: routerCaps.headerExtensions?.filter((h) => !h.uri.includes('transport-wide-cc')),
  };
}

// ---- the bench ---------------------------------------------------------------------

/** Per kind: what the SFU's producer received (packets, bytes, lost) and what the publisher sent (sent). */
interface PublisherCounters {
  [kind: string]: { packets: number; bytes: number; lost: number; sent: number };
}

interface Snapshot {
  t: number;
  /** Per sink process, per socket: what the sink read. */
  sinks: SinkSnapshot[][];
  /** Kernel receive-buffer drops per local UDP port (127.0.0.1). */
  portDrops: Map<number, number>;
  /** Bytes waiting unread per local UDP port. */
  portQueue: Map<number, number>;
  sinkCpuMs: number[];
  workers: Array<{ index: number; pid: number; cpu_ms: number; rss_kb: number }>;
  publisher: PublisherCounters;
  mainCpu: NodeJS.CpuUsage;
  machine: { busyMs: number; totalMs: number };
  drops: Map<number, { sockets: number; drops: number }>;
  snmp: Record<string, number>;
}

class Bench {
  srv!: TestServer;
  readonly sinks: SinkProc[] = [];
  readonly bots: MediaBot[] = [];
  private workerDied = false;
  private readonly publishers = new Set<Publisher>();

  constructor(readonly o: Options) {}

  async start(): Promise<void> {
    log(`starting the server: ${this.o.workers} mediasoup workers, router consumer budget ${this.o.budget}`);
    this.srv = await startServer({
      sfuWorkers: this.o.workers,
      env: { SFU_ROUTER_CONSUMER_BUDGET: String(this.o.budget), MEDIASOUP_LOG_LEVEL: 'error', ROOM_DEFAULT_TYPE: 'broadcast' }, // room control: one room of 1000+
    });
    this.sfu.pool.on('worker-replaced', (slot) => {
      this.workerDied = true;
      log(`!! mediasoup worker ${slot.index} died and was replaced: results after this are invalid`);
    });
    for (let i = 0; i < this.o.sinkProcs; i++) this.sinks.push(SinkProc.start());
  }

  get sfu() {
    return this.srv.app.sfu!;
  }

  async join(user: string, room: string, role: 'host' | 'viewer'): Promise<MediaBot> {
    const token = await this.srv.mint({ userId: user, role, ttlSeconds: 4 * 3600 });
    const bot = await MediaBot.join(this.srv.url, token, room);
    this.bots.push(bot);
    return bot;
  }

  media(room: string): MediaRoom {
    const media = this.srv.app.rooms.getRoom(room)?.media;
    if (!media) throw new Error(`room ${room} has no SFU side`);
    return media;
  }

  /** Publisher (its own process, see publisher.ts): Opus, and VP8 (non-simulcast) capped at --video-kbps when video. */
  async publish(room: string, video: boolean): Promise<Publisher> {
    const token = await this.srv.mint({ userId: `pub-${room}`, role: 'host', ttlSeconds: 4 * 3600 });
    const pub = Publisher.start();
    this.publishers.add(pub);
    const { width, height, fps } = this.o;
    await pub.begin({ url: this.srv.url, token, room, video, width, height, fps, kbps: this.o.videoKbps, bwe: this.o.publisherBwe });
    return pub;
  }

  async unpublish(pub: Publisher): Promise<void> {
    await pub.close();
    this.publishers.delete(pub);
  }

  async publisherCounters(media: MediaRoom, pub: Publisher): Promise<PublisherCounters> {
    const out: PublisherCounters = {};
    const sender = pub.stats().catch(() => [] as PublisherStats[]);
    await Promise.all(Object.entries(pub.producers).map(async ([kind, id]) => {
      const stats = (await media.stats(pub.participantId, { producerId: id })) as Array<{ packetCount: number; byteCount: number; packetsLost: number }>;
      const c = { packets: 0, bytes: 0, lost: 0, sent: 0 };
      for (const s of stats) {
        c.packets += s.packetCount;
        c.bytes += s.byteCount;
        c.lost += s.packetsLost;
      }
      out[kind] = c;
    }));
    for (const x of await sender) if (out[x.kind]) out[x.kind]!.sent += x.packetsSent;
    return out;
  }

  async snapshot(publisher: () => Promise<PublisherCounters>): Promise<Snapshot> {
    // Kernel counters first and together with the publisher's: they are exact at this instant.
    const pubPromise = publisher();
    const usagePromise = this.sfu.pool.usage();
    const portDrops = new Map<number, number>();
    const portQueue = new Map<number, number>();
    for (const { port, drops, rxQueue } of udpDropsByInode().values()) {
      portDrops.set(port, drops);
      portQueue.set(port, rxQueue);
    }
    const [pub, workers, sinks] = await Promise.all([
      pubPromise,
      usagePromise,
      Promise.all(this.sinks.map((s) => s.snapshot())),
    ]);
    const t = performance.now();
    const mainCpu = process.cpuUsage();
    const machine = machineCpu();
    const drops = udpDropsOf([...workers.map((w) => w.pid), ...this.sinks.map((s) => s.pid), process.pid]);
    const sinkCpuMs = this.sinks.map((s) => processCpuMs(s.pid) ?? 0);
    return { t, sinks, portDrops, portQueue, sinkCpuMs, workers, publisher: pub, mainCpu, machine, drops, snmp: snmpUdp() };
  }

  routerLayout() {
    return this.sfu.pool.slots.map((s) => ({ worker: s.index, routers: s.routers.size, consumers: s.consumers }));
  }

  /** Adds cheap subscribers until there are `target`; each consumes every producer over plain RTP + SRTP. */
  async addCheap(
    media: MediaRoom,
    subs: CheapSubscriber[],
    target: number,
    producers: Record<string, string>,
    caps: RtpCapabilities,
  ): Promise<{ added: number; ms_per_subscriber: number; new_routers: number; timed_out: boolean }> {
    const kinds = Object.keys(producers);
    const needSubs = target - subs.length;
    if (needSubs <= 0) return { added: 0, ms_per_subscriber: 0, new_routers: 0, timed_out: false };
    const shared = this.o.plainTransports === 'subscriber';
    const need = shared ? needSubs : needSubs * kinds.length;
    // Sockets first (one per transport), spread round-robin over the sink processes.
    const perProc = this.sinks.map((_, i) => Math.floor(need / this.sinks.length) + (i < need % this.sinks.length ? 1 : 0));
    const bases = this.sinks.map((s) => s.sockets);
    const ports = await Promise.all(this.sinks.map((s, i) => s.open(perProc[i]!, this.o.sinkRcvbuf)));
    const routersBefore = media.routerCount;
    const start = performance.now();
    const pool = this.sfu.pool;
    let next = 0;
    let added = 0;
    let timedOut = false;
    // One transport's worth of producers per request: all of them (subscriber) or one (consumer).
    const groups = shared ? [kinds] : kinds.map((k) => [k]);
    // One at a time: MediaRoom places consumers by router budget, and the
    // worker each lands on is read from the pool's counters around the call.
    for (let n = 0; n < needSubs; n++) {
      const sub: CheapSubscriber = [];
      for (const group of groups) {
        const proc = next % this.sinks.length;
        const j = Math.floor(next / this.sinks.length);
        next++;
        const port = ports[proc]![j]!;
        const before = pool.slots.map((s) => s.consumers);
        const pending = media.createPlainSubscriber(group.map((k) => producers[k]!), {
          ip: '127.0.0.1',
          port,
          rtpCapabilities: caps,
          srtp: { cryptoSuite: 'AES_CM_128_HMAC_SHA1_80', keyBase64: randomBytes(30).toString('base64') },
        });
        // One request may itself never come back from a saturated worker: bound it by
        // what is left of the setup time (a late answer is closed when it arrives).
        const leftMs = Math.max(5_000, this.o.maxSetupSeconds * 1000 - (performance.now() - start));
        const made = await Promise.race([pending, sleep(leftMs).then(() => null)]);
        if (!made) {
          void pending.then(({ transport }) => transport.close(), () => {});
          for (const c of sub) c.transport.close();
          timedOut = true;
          break;
        }
        const { transport, consumers } = made;
        const worker = pool.slots.findIndex((s, i) => s.consumers > before[i]!);
        group.forEach((kind, i) => {
          const consumer = consumers[i]!;
          sub.push({
            kind: kind as 'audio' | 'video',
            ssrc: consumer.rtpParameters.encodings?.[0]?.ssrc ?? 0,
            worker,
            proc,
            sinkIndex: bases[proc]! + j,
            port,
            transport,
            consumer,
          });
        });
      }
      if (timedOut) break;
      subs.push(sub);
      added++;
      // A saturated worker answers control requests late (seconds each): stop adding, measure what there is.
      if (performance.now() - start > this.o.maxSetupSeconds * 1000) {
        timedOut = true;
        break;
      }
    }
    const ms = performance.now() - start;
    return { added, ms_per_subscriber: r1(ms / Math.max(1, added)), new_routers: media.routerCount - routersBefore, timed_out: timedOut };
  }

  /** Everything measured over one window for the cheap subscribers. */
  analyseCheap(a: Snapshot, b: Snapshot, subs: CheapSubscriber[], sink: SinkKind) {
    const secs = (b.t - a.t) / 1000;
    const pubDelta: Record<string, { packets: number; bytes: number; lost: number; sent: number }> = {};
    for (const kind of Object.keys(b.publisher)) {
      pubDelta[kind] = {
        packets: b.publisher[kind]!.packets - (a.publisher[kind]?.packets ?? 0),
        bytes: b.publisher[kind]!.bytes - (a.publisher[kind]?.bytes ?? 0),
        lost: b.publisher[kind]!.lost - (a.publisher[kind]?.lost ?? 0),
        sent: b.publisher[kind]!.sent - (a.publisher[kind]?.sent ?? 0),
      };
    }
    const nWorkers = b.workers.length;
    type Acc = { consumers: number; received: number; expected_pub: number; expected_seq: number; bytes: number };
    const acc = (): Acc => ({ consumers: 0, received: 0, expected_pub: 0, expected_seq: 0, bytes: 0 });
    const perWorker = Array.from({ length: nWorkers }, acc);
    const perKind: Record<string, Acc> = {};
    let other = 0;
    let rtcp = 0;
    let silent = 0;
    let outOfOrder = 0;
    let sinkDrops = 0;
    let backlogA = 0;
    let backlogB = 0;
    const perSubLoss: number[] = [];
    // Per-socket counters once per socket (a subscriber's consumers may share one).
    const portsSeen = new Set<number>();
    for (const sub of subs) {
      let subRecv = 0;
      let subExp = 0;
      const own = new Set(sub.map((c) => c.ssrc));
      for (const c of sub) {
        const firstOnPort = !portsSeen.has(c.port);
        portsSeen.add(c.port);
        // What the publisher sent (its own outbound-rtp), so packets the worker dropped on ingress count too.
        const expectedPub = pubDelta[c.kind]?.sent || pubDelta[c.kind]?.packets || 0;
        if (firstOnPort) {
          sinkDrops += (b.portDrops.get(c.port) ?? 0) - (a.portDrops.get(c.port) ?? 0);
          backlogA += a.portQueue.get(c.port) ?? 0;
          backlogB += b.portQueue.get(c.port) ?? 0;
        }
        const sa = a.sinks[c.proc]?.[c.sinkIndex];
        const sb = b.sinks[c.proc]?.[c.sinkIndex];
        const fa = sa?.streams.find((x) => x[0] === c.ssrc);
        const fb = sb?.streams.find((x) => x[0] === c.ssrc);
        const received = (fb?.[1] ?? 0) - (fa?.[1] ?? 0);
        const bytes = (fb?.[2] ?? 0) - (fa?.[2] ?? 0);
        // Sequence numbers the consumer used in the window (a stream first seen inside it counts
        // from its first packet); a silent stream is expected to have sent what the publisher did.
        const expectedSeq = fb && received > 0 ? (fa ? fb[3] - fa[3] : fb[3] - fb[4] + 1) : expectedPub;
        outOfOrder += (fb?.[5] ?? 0) - (fa?.[5] ?? 0);
        if (firstOnPort) rtcp += (sb?.rtcp ?? 0) - (sa?.rtcp ?? 0);
        for (const x of firstOnPort ? sb?.streams ?? [] : []) {
          if (own.has(x[0])) continue;
          other += x[1] - (sa?.streams.find((y) => y[0] === x[0])?.[1] ?? 0);
        }
        if (received === 0) silent++;
        for (const x of [perWorker[c.worker] ?? perWorker[0]!, (perKind[c.kind] ??= acc())]) {
          x.consumers++;
          x.received += received;
          x.expected_pub += expectedPub;
          x.expected_seq += expectedSeq;
          x.bytes += bytes;
        }
        subRecv += received;
        subExp += expectedSeq;
      }
      perSubLoss.push(subExp > 0 ? Math.max(0, 1 - subRecv / subExp) : 0);
    }
    // Loss from sequence numbers: exact, and immune to the sinks reading later than the window ends.
    const lossOf = (x: Acc) => r4(x.expected_seq > 0 ? 1 - x.received / x.expected_seq : 0);
    const lossVsPub = (x: Acc) => r4(x.expected_pub > 0 ? 1 - x.received / x.expected_pub : 0);
    const total = acc();
    for (const w of perWorker) for (const key of Object.keys(total) as Array<keyof Acc>) total[key] += w[key];
    const workerCpuMs = b.workers.map((w, i) => w.cpu_ms - a.workers[i]!.cpu_ms);
    const workerCpuTotalMs = workerCpuMs.reduce((x, y) => x + y, 0);
    const sinkCpuMs = b.sinkCpuMs.reduce((n, x, i) => n + x - (a.sinkCpuMs[i] ?? 0), 0);
    const mainCpuMs = (b.mainCpu.user - a.mainCpu.user + b.mainCpu.system - a.mainCpu.system) / 1000;
    const machineBusyMs = b.machine.busyMs - a.machine.busyMs;
    const machineTotalMs = b.machine.totalMs - a.machine.totalMs;
    const dropsDelta = (pid: number) => (b.drops.get(pid)?.drops ?? 0) - (a.drops.get(pid)?.drops ?? 0);
    const snmpDelta: Record<string, number> = {};
    for (const key of ['InDatagrams', 'NoPorts', 'InErrors', 'OutDatagrams', 'RcvbufErrors', 'SndbufErrors']) {
      snmpDelta[key] = (b.snmp[key] ?? 0) - (a.snmp[key] ?? 0);
    }
    perSubLoss.sort((x, y) => x - y);
    const pctOf = (ms: number) => r1((ms / (secs * 1000)) * 100);
    const lost = Math.max(0, total.expected_seq - total.received);
    return {
      sink,
      window_s: r4(secs),
      publisher: Object.fromEntries(Object.entries(pubDelta).map(([kind, d]) => [kind, {
        packets_per_s: r1(d.packets / secs),
        kbps: r1((d.bytes * 8) / secs / 1000),
        sent_packets_per_s: r1(d.sent / secs),
        // Publisher packets the SFU never got (its ingress socket overflowed, or the network).
        ingress_loss: r4(d.sent > 0 ? 1 - d.packets / d.sent : 0),
        packets_lost: d.lost,
      }])),
      forwarded_packets: total.received,
      forwarded_pps: Math.round(total.received / secs),
      expected_pps: Math.round(total.expected_pub / secs),
      loss: lossOf(total),
      loss_basis: 'rtp sequence numbers at the sinks',
      loss_vs_publisher: lossVsPub(total),
      per_kind: Object.fromEntries(Object.entries(perKind).map(([kind, x]) => [kind, {
        forwarded_pps: Math.round(x.received / secs),
        loss: lossOf(x),
        loss_vs_publisher: lossVsPub(x),
        mbps_out: r1((x.bytes * 8) / secs / 1e6),
      }])),
      subscribers_over_1pct_loss: perSubLoss.filter((x) => x > 0.01).length,
      subscriber_loss_p50: r4(quantile(perSubLoss, 0.5)),
      subscriber_loss_p95: r4(quantile(perSubLoss, 0.95)),
      subscriber_loss_max: r4(perSubLoss[perSubLoss.length - 1] ?? 0),
      silent_consumers: silent,
      out_of_order_packets: outOfOrder,
      other_ssrc_packets: other,
      rtcp_packets_to_sinks: rtcp,
      packets_per_worker_cpu_s: workerCpuTotalMs > 0 ? Math.round(total.received / (workerCpuTotalMs / 1000)) : null,
      workers: b.workers.map((w, i) => {
        const pw = perWorker[i]!;
        return {
          worker: w.index,
          consumers: pw.consumers,
          cpu_pct: pctOf(workerCpuMs[i]!),
          forwarded_pps: Math.round(pw.received / secs),
          loss: lossOf(pw),
          packets_per_cpu_s: workerCpuMs[i]! > 0 ? Math.round(pw.received / (workerCpuMs[i]! / 1000)) : null,
          socket_drops: dropsDelta(w.pid),
          rss_mb: r1(w.rss_kb / 1024),
        };
      }),
      drops: {
        lost_packets: lost,
        sink_socket_drops: sinkDrops,
        sfu_side: Math.max(0, lost - sinkDrops),
        // Unread bytes in the sink sockets at the window's start and end: growth means the
        // sinks fell behind, which shows as loss_vs_publisher but not as sequence gaps.
        sink_backlog_kb: [Math.round(backlogA / 1024), Math.round(backlogB / 1024)],
        worker_socket_drops: b.workers.reduce((n, w) => n + dropsDelta(w.pid), 0),
        udp: snmpDelta,
      },
      cpu_pct: {
        workers: pctOf(workerCpuTotalMs),
        sinks: pctOf(sinkCpuMs),
        main_process: pctOf(mainCpuMs),
        others_on_machine: pctOf(Math.max(0, machineBusyMs - workerCpuTotalMs - sinkCpuMs - mainCpuMs)),
        machine_idle: pctOf(Math.max(0, machineTotalMs - machineBusyMs)),
      },
    };
  }

  /** A fan-out room: publisher + increasing numbers of cheap subscribers. */
  async fanout(mode: 'video' | 'audio', sink: SinkKind, steps: number[], into: unknown[]): Promise<void> {
    const room = `bench-${mode}-${sink}`;
    log(`${mode}/${sink}: publisher joins ${room}`);
    const pub = await this.publish(room, mode === 'video');
    const producers = pub.producers;
    const media = this.media(room);
    const caps = subscriberCaps(await media.rtpCapabilities(), this.o.tcc);
    const pubCounters = () => this.publisherCounters(media, pub);
    await sleep(this.o.warmup * 1000);
    const subs: CheapSubscriber[] = [];
    const out: Record<string, unknown> = { mode, sink, room, steps: [] as unknown[] };
    into.push(out); // partial results survive an interrupt
    await Promise.all(this.sinks.map((s) => s.batch(sink === 'batch' ? this.o.batchMs : 0)));

    // N = 0: the publisher alone, for its rate and the workers' base cost.
    let a = await this.snapshot(pubCounters);
    await sleep(Math.min(this.o.duration, 10) * 1000);
    let b = await this.snapshot(pubCounters);
    const base = this.analyseCheap(a, b, subs, sink);
    out['baseline'] = { publisher: base.publisher, cpu_pct: base.cpu_pct };
    log(`${mode}/${sink}: publisher alone: ${Object.entries(base.publisher).map(([kk, p]) => `${kk} ${p.packets_per_s} pkt/s ${p.kbps} kbps`).join(', ')}; workers ${base.cpu_pct.workers}% cpu`);

    for (let n of steps) {
      if (this.workerDied) break;
      const add = await this.addCheap(media, subs, n, producers, caps);
      if (add.timed_out) log(`${mode}/${sink}: adding subscribers took over ${this.o.maxSetupSeconds} s (the worker answers late): measuring N=${subs.length} instead of ${n}, then stopping`);
      n = subs.length;
      log(`${mode}/${sink} N=${n}: +${add.added} subscribers (${add.ms_per_subscriber} ms each), routers ${media.routerCount}: ${JSON.stringify(this.routerLayout())}`);
      await sleep(this.o.settle * 1000);
      a = await this.snapshot(pubCounters);
      await sleep(this.o.duration * 1000);
      b = await this.snapshot(pubCounters);
      const m = this.analyseCheap(a, b, subs, sink);
      const sender = await pub.stats().catch(() => []);
      const step = {
        subscribers: n, consumers: subs.length * Object.keys(producers).length, routers: media.routerCount, layout: this.routerLayout(), setup: add,
        ...m,
        publisher_sender: sender,
      };
      (out['steps'] as unknown[]).push(step);
      log(
        `${mode}/${sink} N=${n}: forwarded ${k(m.forwarded_pps)}/${k(m.expected_pps)} pkt/s, loss ${pct(m.loss)} (vs publisher ${pct(m.loss_vs_publisher)}), ` +
          `${m.packets_per_worker_cpu_s === null ? '-' : k(m.packets_per_worker_cpu_s)} pkt per worker-cpu-s, ` +
          `workers ${m.workers.map((w) => `${w.cpu_pct}%`).join('+')} (loss ${m.workers.map((w) => pct(w.loss)).join('/')}), sinks ${m.cpu_pct.sinks}%, main ${m.cpu_pct.main_process}%, others ${m.cpu_pct.others_on_machine}%, ` +
          `worker socket drops ${m.drops.worker_socket_drops}, sink drops ${m.drops.sink_socket_drops}; ` +
          `${sender.filter((x) => x.kind === 'video').map((x) => `camera ${x.frameWidth}x${x.frameHeight}@${x.framesPerSecond} (${x.qualityLimitationReason}) `).join('')}publisher ${Object.entries(m.publisher).map(([kk, p]) => `${kk} ${p.packets_per_s} pkt/s ${p.kbps} kbps (sent ${p.sent_packets_per_s})`).join(', ')}`,
      );
      if (add.timed_out) break;
      if (m.loss > this.o.stopLoss) {
        log(`${mode}/${sink}: loss ${pct(m.loss)} > ${pct(this.o.stopLoss)}: no larger steps`);
        break;
      }
    }
    const passing = (out['steps'] as Array<{ subscribers: number; loss: number; publisher: Record<string, { ingress_loss: number }> }>)
      .filter(sustained).map((s) => s.subscribers);
    out['max_subscribers_under_1pct_loss'] = passing.length ? Math.max(...passing) : 0;

    {
      // Sanity: what a few consumers say they sent, against what their sinks got (whole run).
      const sample = subs.slice(0, 2).flat();
      const snap = await Promise.all(this.sinks.map((s) => s.snapshot()));
      out['consumer_check'] = await Promise.all(sample.map(async (c) => {
        const stats = (await c.consumer.getStats()) as Array<{ type: string; packetCount: number }>;
        return {
          kind: c.kind,
          worker: c.worker,
          sfu_sent: stats.find((x) => x.type === 'outbound-rtp')?.packetCount ?? null,
          sink_received: snap[c.proc]![c.sinkIndex]?.streams.find((x) => x[0] === c.ssrc)?.[1] ?? 0,
        };
      }));
    }

    log(`${mode}/${sink}: tearing down ${subs.length} subscribers`);
    for (const s of subs) for (const c of s) c.transport.close();
    await Promise.all(this.sinks.map((s) => s.closeAll()));
    await this.unpublish(pub);
    await sleep(1000);
  }

  /** Real WebRTC subscribers (wrtc + mediasoup-client), decoding what they get. */
  async real(count: number, background: number): Promise<Record<string, unknown>> {
    const room = 'bench-real';
    log(`real: publisher joins ${room}`);
    const pub = await this.publish(room, true);
    const producers = pub.producers;
    const media = this.media(room);
    const pubCounters = () => this.publisherCounters(media, pub);
    await sleep(this.o.warmup * 1000);
    const subs: CheapSubscriber[] = [];
    if (background > 0) {
      await Promise.all(this.sinks.map((s) => s.batch(this.o.batchMs)));
      const add = await this.addCheap(media, subs, background, producers, subscriberCaps(await media.rtpCapabilities(), this.o.tcc));
      log(`real: ${add.added} cheap background subscribers added ('batch' sinks)`);
    }
    const viewers: Array<{ bot: MediaBot; tracks: Record<string, ReceivedTrack> }> = [];
    for (let i = 0; i < count; i++) {
      const v = await this.join(`viewer-${i}`, room, 'viewer');
      const tracks: Record<string, ReceivedTrack> = {};
      for (const [kind, id] of Object.entries(producers)) tracks[kind] = await v.consume(id);
      viewers.push({ bot: v, tracks });
    }
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && !viewers.every((v) => Object.values(v.tracks).every((t) => t.frames > 0))) await sleep(200);
    log(`real: ${count} subscribers decoding; layout ${JSON.stringify(this.routerLayout())}`);
    await sleep(this.o.settle * 1000);

    type Inbound = { packetsReceived: number; packetsLost: number; framesDecoded: number; bytesReceived: number; nackCount: number; jitter: number; frames: number };
    // wrtc has no RTCRtpReceiver.getStats: read the recv transport's (peer connection's) report.
    const readViewers = () => Promise.all(viewers.map(async (v) => {
      const out: Record<string, Inbound> = {};
      for (const [kind, t] of Object.entries(v.tracks)) {
        out[kind] = { packetsReceived: 0, packetsLost: 0, framesDecoded: 0, bytesReceived: 0, nackCount: 0, jitter: 0, frames: t.frames };
      }
      const report = await v.bot.recvTransport!.getStats();
      report.forEach((x: Record<string, unknown>) => {
        if (x['type'] !== 'inbound-rtp') return;
        const s = out[String(x['kind'] ?? x['mediaType'])];
        if (!s) return;
        s.packetsReceived += Number(x['packetsReceived'] ?? 0);
        s.packetsLost += Number(x['packetsLost'] ?? 0);
        s.framesDecoded += Number(x['framesDecoded'] ?? 0);
        s.bytesReceived += Number(x['bytesReceived'] ?? 0);
        s.nackCount += Number(x['nackCount'] ?? 0);
        s.jitter = Math.max(s.jitter, Number(x['jitter'] ?? 0));
      });
      return out;
    }));
    const [va, a] = await Promise.all([readViewers(), this.snapshot(pubCounters)]);
    await sleep(this.o.duration * 1000);
    const [vb, b] = await Promise.all([readViewers(), this.snapshot(pubCounters)]);
    const cheap = this.analyseCheap(a, b, subs, 'batch');
    const secs = cheap.window_s;
    const kinds = Object.keys(producers);
    const perKind: Record<string, unknown> = {};
    let realForwarded = 0;
    let realExpected = 0;
    let realLost = 0;
    for (const kind of kinds) {
      const d = viewers.map((_, i) => {
        const x = va[i]![kind]!;
        const y = vb[i]![kind]!;
        return {
          packets: y.packetsReceived - x.packetsReceived,
          lost: y.packetsLost - x.packetsLost,
          framesDecoded: y.framesDecoded - x.framesDecoded,
          frames: y.frames - x.frames,
          nacks: y.nackCount - x.nackCount,
          jitter: y.jitter,
        };
      });
      const expected = (b.publisher[kind]!.packets - a.publisher[kind]!.packets) * viewers.length;
      const packets = d.reduce((n, x) => n + x.packets, 0);
      realForwarded += packets;
      realExpected += expected;
      const rate = d.map((x) => x.frames / secs).sort((p, q) => p - q);
      const lost = d.reduce((n, x) => n + x.lost, 0);
      realLost += lost;
      perKind[kind] = {
        forwarded_pps: Math.round(packets / secs),
        loss: r4(packets + lost > 0 ? lost / (packets + lost) : 0),
        loss_vs_publisher: r4(expected > 0 ? 1 - packets / expected : 0),
        receiver_packets_lost: lost,
        receiver_nacks: d.reduce((n, x) => n + x.nacks, 0),
        max_jitter_s: Math.max(...d.map((x) => x.jitter)),
        ...(kind === 'video'
          ? { frames_decoded_per_s_min: r1(rate[0] ?? 0), frames_decoded_per_s_median: r1(quantile(rate, 0.5)), stats_frames_decoded: d.reduce((n, x) => n + x.framesDecoded, 0) }
          : { audio_10ms_chunks_per_s_min: r1(rate[0] ?? 0), audio_10ms_chunks_per_s_median: r1(quantile(rate, 0.5)) }),
      };
    }
    const workerCpuS = cheap.workers.reduce((n, w) => n + (w.cpu_pct / 100) * secs, 0);
    const forwarded = realForwarded + cheap.forwarded_packets;
    const out = {
      room,
      real_subscribers: count,
      background_cheap_subscribers: background,
      window_s: secs,
      publisher: cheap.publisher,
      real: {
        forwarded_pps: Math.round(realForwarded / secs),
        loss: r4(realForwarded + realLost > 0 ? realLost / (realForwarded + realLost) : 0),
        loss_basis: 'inbound-rtp packetsLost / (packetsReceived + packetsLost) at the receivers',
        loss_vs_publisher: r4(realExpected > 0 ? 1 - realForwarded / realExpected : 0),
        per_kind: perKind,
      },
      ...(background > 0 ? { cheap: { forwarded_pps: cheap.forwarded_pps, loss: cheap.loss } } : {}),
      packets_per_worker_cpu_s: workerCpuS > 0 ? Math.round(forwarded / workerCpuS) : null,
      // Receive-buffer drops of the real subscribers' sockets (libwebrtc, in this process).
      receiver_socket_drops: (b.drops.get(process.pid)?.drops ?? 0) - (a.drops.get(process.pid)?.drops ?? 0),
      workers: cheap.workers.map((w) => ({ worker: w.worker, cpu_pct: w.cpu_pct, socket_drops: w.socket_drops })),
      cpu_pct: cheap.cpu_pct,
      layout: this.routerLayout(),
      publisher_sender: [] as PublisherStats[],
    };
    log(
      `real: ${count} subscribers: ${k(realForwarded / secs)} pkt/s, loss ${pct(out.real.loss)}, ` +
        `video fps median ${(perKind['video'] as { frames_decoded_per_s_median: number }).frames_decoded_per_s_median}, ` +
        `${out.packets_per_worker_cpu_s === null ? '-' : k(out.packets_per_worker_cpu_s)} pkt per worker-cpu-s, main ${cheap.cpu_pct.main_process}%`,
    );
    for (const s of subs) for (const c of s) c.transport.close();
    await Promise.all(this.sinks.map((s) => s.closeAll()));
    for (const v of viewers) {
      await v.bot.close().catch(() => {});
      this.bots.splice(this.bots.indexOf(v.bot), 1);
    }
    out.publisher_sender = await pub.stats().catch(() => []);
    await this.unpublish(pub);
    return out;
  }

  async stop(): Promise<void> {
    for (const p of this.publishers) p.kill();
    for (const b of this.bots.splice(0)) await b.close().catch(() => {});
    for (const s of this.sinks) s.kill();
    await this.srv?.stop().catch(() => {});
  }
}

// ---- main ----------------------------------------------------------------------

/**
 * A step the node sustains: under 1% loss at the subscribers (sequence gaps) and under 1% of
 * the publisher's packets still missing at the SFU's producer (a worker that falls behind
 * first queues its ingress, which no sequence gap shows yet).
 */
function sustained(step: { loss: number; publisher: Record<string, { ingress_loss: number }> }): boolean {
  return step.loss < 0.01 && Object.values(step.publisher).every((p) => (p.ingress_loss ?? 0) < 0.01);
}

function workerInfo(): Record<string, unknown> {
  try {
    const bin = resolveWorkerBin(process.env['MEDIASOUP_WORKER_BIN'] ?? null);
    const infoFile = path.join(path.dirname(bin), 'build-info.txt');
    const info: Record<string, string> = {};
    if (existsSync(infoFile)) {
      for (const line of readFileSync(infoFile, 'utf8').split('\n')) {
        const i = line.indexOf('=');
        if (i > 0) info[line.slice(0, i)] = line.slice(i + 1);
      }
    }
    return { bin, ...info };
  } catch (err) {
    return { error: String(err) };
  }
}

function summarize(results: Record<string, any>): Record<string, unknown> {
  const s: Record<string, any> = {};
  for (const r of (results['fanout'] ?? []) as Array<Record<string, any>>) {
    const steps = r['steps'] as Array<{ subscribers: number; loss: number; forwarded_pps: number; packets_per_worker_cpu_s: number | null; publisher: Record<string, { ingress_loss: number }> }>;
    const ok = steps.filter(sustained);
    const at1000 = steps.find((x) => x.subscribers === 1000);
    s[`${r['mode']}/${r['sink']}`] = {
      max_subscribers_under_1pct_loss: r['max_subscribers_under_1pct_loss'],
      max_forwarded_pps_under_1pct_loss: Math.max(0, ...ok.map((x) => x.forwarded_pps)),
      best_packets_per_worker_cpu_s: Math.max(0, ...steps.map((x) => x.packets_per_worker_cpu_s ?? 0)),
      steps: steps.map((x) => `N=${x.subscribers}: ${x.forwarded_pps} pkt/s, loss ${(x.loss * 100).toFixed(2)}%, ` +
        `ingress ${Object.values(x.publisher).map((p) => `${((p.ingress_loss ?? 0) * 100).toFixed(2)}%`).join('/')}, ${x.packets_per_worker_cpu_s} pkt/worker-cpu-s${sustained(x) ? '' : ' (not sustained)'}`),
      ...(at1000 ? { at_1000: { loss: at1000.loss, sustained: sustained(at1000), forwarded_pps: at1000.forwarded_pps, packets_per_worker_cpu_s: at1000.packets_per_worker_cpu_s } } : {}),
    };
  }
  const video = Object.entries(s).filter(([key]) => key.startsWith('video/')).map(([, v]) => v);
  if (video.length) {
    s['targets'] = {
      '>=100k packets per worker-cpu-s (best video step)': Math.max(...video.map((v) => v.best_packets_per_worker_cpu_s)) >= 100_000,
      '1000-subscriber video room sustained (<1% loss)': video.some((v) => v.at_1000) ? video.some((v) => v.at_1000?.sustained) : false,
    };
  }
  const real = results['real'];
  if (real) {
    s['real'] = {
      subscribers: real.real_subscribers,
      loss: real.real.loss,
      video_fps_median: real.real.per_kind?.video?.frames_decoded_per_s_median,
      packets_per_worker_cpu_s: real.packets_per_worker_cpu_s,
    };
  }
  return s;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (!isolated()) return reexecIsolated();
  const started = new Date();
  const meta = {
    started: started.toISOString(),
    label: o.label,
    options: o,
    node: process.version,
    cpus: `${availableParallelism()} x ${cpus()[0]?.model ?? '?'}`,
    loadavg_start: loadavg(),
    worker: workerInfo(),
    network: 'private namespace (unshare -n), loopback only',
  };
  const results: Record<string, unknown> = {};
  const bench = new Bench(o);
  const outDir = path.resolve(o.out);
  const write = (status: string) => {
    mkdirSync(outDir, { recursive: true });
    const doc = { meta: { ...meta, finished: new Date().toISOString(), loadavg_end: loadavg(), status }, summary: summarize(results), ...results };
    const stamp = started.toISOString().replace(/[:.]/g, '-');
    const text = `${JSON.stringify(doc, null, 2)}\n`;
    writeFileSync(path.join(outDir, `${stamp}.json`), text);
    writeFileSync(path.join(outDir, 'latest.json'), text);
    log(`results: ${path.join(outDir, `${stamp}.json`)} (and latest.json)`);
    return doc;
  };
  const watchdog = setTimeout(() => {
    log(`!! --max-seconds ${o.maxSeconds} reached: writing what there is and stopping`);
    write('timeout');
    process.exit(3);
  }, o.maxSeconds * 1000);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      log(`${sig}: writing what there is and stopping`);
      write(`interrupted (${sig})`);
      process.exit(130);
    });
  }
  let status = 'ok';
  try {
    await bench.start();
    const fanout: unknown[] = [];
    results['fanout'] = fanout;
    for (const sink of o.sinks) {
      for (const mode of o.modes) await bench.fanout(mode, sink, mode === 'video' ? o.subscribers : o.audioSubscribers, fanout);
    }
    if (o.realSubscribers > 0) results['real'] = await bench.real(o.realSubscribers, o.realBackground);
  } catch (err) {
    status = `error: ${(err as Error)?.stack ?? err}`;
    log(`!! ${status}`);
  } finally {
    clearTimeout(watchdog);
    await bench.stop();
  }
  const doc = write(status);
  process.stdout.write(`${JSON.stringify(doc.summary, null, 2)}\n`);
  process.exit(status === 'ok' ? 0 : 1);
}

main().catch((err) => {
  process.stderr.write(`${(err as Error)?.stack ?? err}\n`);
  process.exit(1);
});
