// Command line of the SFU bench (`node dist/bench/sfu/run.js --help`).

import { SINK_RCVBUF } from './sinkProc.js';

export interface Options {
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
  baselines: Array<'raw' | 'janus'>;
  contendedPct: number;
  retries: number;
  charts: boolean;
  out: string;
  label: string;
}

export const HELP = `SFU bench (bench/sfu): one publisher -> N subscribers through Switchboard's SFU.
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
  --baseline raw,janus         measure anchors in the same run, interleaved step by step: raw =
                               the same publisher, sinks and worker binary through mediasoup alone
                               (rawMediasoup.ts, one worker); janus = Debian's Janus VideoRoom
                               (janus.ts: WebRTC publisher, SRTP RTP forwarders into the sinks);
                               each step N measures every side back to back (order rotating by
                               step) and records switchboard/anchor of packets per
                               worker-CPU-second and delivery
  --contended-pct 30           other processes' CPU (% of one core, bench/shared/boxload.ts) above
                               which a window is marked contended
  --retries 1                  re-measure a contended step (both windows, same subscribers) up
                               to this many times, keeping the least contended pair
  --charts on|off              PNG + SVG charts beside the JSON (default on)
  --max-seconds 1500           hard limit for the whole run (3000 with --baseline: each step
                               measures twice)
  --max-setup-seconds 60       adding one step's subscribers may take this long; past it the
                               step is measured with the subscribers made so far, and is the last
  --out bench/sfu/results      where <timestamp>.json and latest.json go
  --label text                 free text stored with the results`;

/** Parses the flags (throws on a bad one); prints the help and exits on --help. */
export function parseOptions(argv: string[]): Options {
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
    baselines: [],
    contendedPct: 30,
    retries: 1,
    charts: true,
    out: 'bench/sfu/results',
    label: '',
  };
  const list = (v: string) =>
    v
      .split(',')
      .filter(Boolean)
      .map((x) => {
        const n = Number(x);
        if (!Number.isInteger(n) || n < 0) throw new Error(`not a count: ${x}`);
        return n;
      });
  const num = (v: string, name: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} needs a number`);
    return n;
  };
  let maxSecondsGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      process.stdout.write(`${HELP}\n`);
      process.exit(0);
    }
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const [key, inline] = a.slice(2).split('=', 2) as [string, string | undefined];
    const v = inline ?? argv[++i];
    if (v === undefined) throw new Error(`--${key} needs a value`);
    switch (key) {
      case 'mode':
        o.modes = v
          .split(',')
          .filter(Boolean)
          .map((m) => {
            if (m !== 'video' && m !== 'audio') throw new Error(`--mode: video or audio, not ${m}`);
            return m;
          });
        break;
      case 'subscribers':
        o.subscribers = list(v);
        break;
      case 'audio-subscribers':
        o.audioSubscribers = list(v);
        break;
      case 'duration':
        o.duration = num(v, key);
        break;
      case 'settle':
        o.settle = num(v, key);
        break;
      case 'warmup':
        o.warmup = num(v, key);
        break;
      case 'workers':
        o.workers = num(v, key);
        break;
      case 'budget':
        o.budget = num(v, key);
        break;
      case 'real-subscribers':
        o.realSubscribers = num(v, key);
        break;
      case 'real-background':
        o.realBackground = num(v, key);
        break;
      case 'video-kbps':
        o.videoKbps = num(v, key);
        break;
      case 'width':
        o.width = num(v, key);
        break;
      case 'height':
        o.height = num(v, key);
        break;
      case 'fps':
        o.fps = num(v, key);
        break;
      case 'sinks':
        o.sinks = v
          .split(',')
          .filter(Boolean)
          .map((m) => {
            if (m !== 'read' && m !== 'batch') throw new Error(`--sinks: read or batch, not ${m}`);
            return m;
          });
        break;
      case 'batch-ms':
        o.batchMs = num(v, key);
        break;
      case 'sink-procs':
        o.sinkProcs = Math.max(1, num(v, key));
        break;
      case 'sink-rcvbuf':
        o.sinkRcvbuf = num(v, key);
        break;
      case 'stop-loss':
        o.stopLoss = num(v, key);
        break;
      case 'tcc':
        o.tcc = v !== 'off';
        break;
      case 'plain-transports':
        if (v !== 'subscriber' && v !== 'consumer') throw new Error(`--plain-transports: subscriber or consumer, not ${v}`);
        o.plainTransports = v;
        break;
      case 'publisher-bwe':
        o.publisherBwe = v === 'on';
        break;
      case 'max-seconds':
        o.maxSeconds = num(v, key);
        maxSecondsGiven = true;
        break;
      case 'max-setup-seconds':
        o.maxSetupSeconds = num(v, key);
        break;
      case 'baseline':
        o.baselines = v
          .split(',')
          .filter(Boolean)
          .map((m) => {
            if (m !== 'raw' && m !== 'janus') throw new Error(`--baseline: raw or janus, not ${m}`);
            return m;
          });
        break;
      case 'contended-pct':
        o.contendedPct = num(v, key);
        break;
      case 'retries':
        o.retries = num(v, key);
        break;
      case 'charts':
        o.charts = v !== 'off';
        break;
      case 'out':
        o.out = v;
        break;
      case 'label':
        o.label = v;
        break;
      default:
        throw new Error(`unknown option --${key} (--help lists them)`);
    }
  }
  if (!maxSecondsGiven && o.baselines.length > 0) o.maxSeconds *= 2;
  o.subscribers.sort((a, b) => a - b);
  o.audioSubscribers.sort((a, b) => a - b);
  return o;
}
