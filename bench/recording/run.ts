// Recording bench: CPU per recorded track in copy mode (tracks mode) and per
// composite, on the real server (in-process, one mediasoup worker) with real
// libwebrtc publishers (bench/sfu/publisher.ts, one process each).
//
//   node dist/bench/recording/run.js [--participants 4] [--composite-participants 3]
//       [--duration 30] [--warmup 6] [--width 640 --height 360 --fps 15 --kbps 600] [--label x]
//
// Phases, each measured over --duration seconds after --warmup:
//   baseline   publishers publish, nothing records      -> worker CPU without recording
//   copy       tracks mode: one ffmpeg per participant -> ffmpeg CPU (from /proc) + worker CPU delta
//   composite  composite mode over --composite-participants publishers (grid + mix, VP8/Opus)
// Results: bench/recording/results/<time>.json and latest.json; summary on stdout.
// Runs inside `unshare -n` (loopback only), like the SFU bench.

import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isolated, reexecIsolated } from '../shared/netns.js';
import { probeFile } from '../../recording/probe.js';
import { startServer, type TestServer } from '../../test/support/server.js';
import { machineCpu, processCpuMs } from '../sfu/procnet.js';

interface Options {
  participants: number;
  compositeParticipants: number;
  duration: number;
  warmup: number;
  width: number;
  height: number;
  fps: number;
  kbps: number;
  label: string;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    participants: 4,
    compositeParticipants: 3,
    duration: 30,
    warmup: 6,
    width: 640,
    height: 360,
    fps: 15,
    kbps: 600,
    label: '',
  };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i].replace(/^--/, '');
    const v = argv[++i] ?? '';
    const n = Number(v);
    switch (key) {
      case 'participants':
        o.participants = n;
        break;
      case 'composite-participants':
        o.compositeParticipants = n;
        break;
      case 'duration':
        o.duration = n;
        break;
      case 'warmup':
        o.warmup = n;
        break;
      case 'width':
        o.width = n;
        break;
      case 'height':
        o.height = n;
        break;
      case 'fps':
        o.fps = n;
        break;
      case 'kbps':
        o.kbps = n;
        break;
      case 'label':
        o.label = v;
        break;
      case 'help':
        process.stdout.write(
          `${readFileSync(fileURLToPath(import.meta.url), 'utf8')
            .split('\n')
            .slice(0, 14)
            .join('\n')}\n`,
        );
        return process.exit(0);
      default:
        throw new Error(`unknown option --${key}`);
    }
  }
  return o;
}

// ---- isolation: loopback only ------------------------------------------------

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const t0 = Date.now();
const log = (msg: string) => process.stderr.write(`[recording-bench +${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${msg}\n`);

// ---- publishers (one process each) -------------------------------------------

/** A publisher reply (bench/sfu/publisher.ts): the request's id, and an error when it failed. */
interface PublisherReply {
  id: number;
  error?: string;
}

class Publisher {
  private nextId = 1;
  private readonly pending = new Map<number, (reply: PublisherReply) => void>();
  constructor(readonly proc: ChildProcess) {
    proc.on('message', (m: PublisherReply) => {
      this.pending.get(m.id)?.(m);
      this.pending.delete(m.id);
    });
  }
  static spawn(): Publisher {
    const file = fileURLToPath(new URL('../sfu/publisher.js', import.meta.url));
    const proc = fork(file, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    proc.on('error', () => {}); // a closed channel after 'close' is expected
    return new Publisher(proc);
  }
  request(req: Record<string, unknown>): Promise<PublisherReply | Record<string, never>> {
    if (!this.proc.connected) return Promise.resolve({});
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (m) => (m.error ? reject(new Error(m.error)) : resolve(m)));
      this.proc.send({ ...req, id });
    });
  }
}

// ---- CPU accounting ----------------------------------------------------------

/** Our child processes whose command line names `needle` (the ffmpeg processes of one recording). */
function childrenWith(needle: string): number[] {
  const out: number[] = [];
  for (const task of readdirSync(`/proc/${process.pid}/task`)) {
    const list = readFileSync(`/proc/${process.pid}/task/${task}/children`, 'utf8').trim();
    for (const pid of list ? list.split(/\s+/).map(Number) : []) {
      try {
        if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle)) out.push(pid);
      } catch {
        // exited
      }
    }
  }
  return out;
}

interface Window {
  seconds: number;
  /** CPU ms per wall second (10 = 1% of a core). */
  workerMsPerS: number;
  ffmpegMsPerS: number;
  ffmpegProcesses: number;
  serverMsPerS: number;
  machineBusyPct: number;
}

async function measure(srv: TestServer, seconds: number, ffmpegPids: number[]): Promise<Window> {
  const workers = srv.app.sfu!.pool.slots.map((s) => s.pid);
  const sum = (pids: number[]) => pids.reduce((acc, p) => acc + (processCpuMs(p) ?? 0), 0);
  const w0 = sum(workers),
    f0 = sum(ffmpegPids),
    s0 = process.cpuUsage(),
    m0 = machineCpu();
  const start = performance.now();
  await sleep(seconds * 1000);
  const wall = (performance.now() - start) / 1000;
  const s1 = process.cpuUsage(s0),
    m1 = machineCpu();
  return {
    seconds: wall,
    workerMsPerS: (sum(workers) - w0) / wall,
    ffmpegMsPerS: (sum(ffmpegPids) - f0) / wall,
    ffmpegProcesses: ffmpegPids.length,
    serverMsPerS: (s1.user + s1.system) / 1000 / wall,
    machineBusyPct: (100 * (m1.busyMs - m0.busyMs)) / Math.max(1, m1.totalMs - m0.totalMs),
  };
}

async function main(): Promise<void> {
  if (!isolated()) return reexecIsolated('recording-bench', fileURLToPath(import.meta.url));
  const o = parseArgs(process.argv.slice(2));
  const load0 = loadavg();
  log(`server: in-process, 1 mediasoup worker; ${o.participants} publishers (audio + ${o.width}x${o.height}@${o.fps} VP8 ${o.kbps} kbps)`);
  const srv = await startServer({ sfuWorkers: 1, env: { RECORDING_MIN_FREE_MB: '100' } });
  const pubs: Publisher[] = [];
  const results: Record<string, unknown> = {};
  try {
    const room = 'bench-rec';
    const total = Math.max(o.participants, o.compositeParticipants);
    for (let i = 0; i < total; i++) {
      const p = Publisher.spawn();
      pubs.push(p);
      await p.request({
        cmd: 'start',
        url: srv.url,
        token: await srv.mint({ userId: `pub-${i}`, role: 'speaker' }),
        room: i < o.participants ? room : `${room}-extra`,
        video: true,
        width: o.width,
        height: o.height,
        fps: o.fps,
        kbps: o.kbps,
        bwe: false,
      });
      log(`publisher ${i + 1}/${total} publishing`);
    }
    // The composite room holds the first compositeParticipants publishers: same room when it fits.
    const compositeRoom = room;
    await sleep(o.warmup * 1000);

    log(`baseline: ${o.duration}s without recording`);
    const baseline = await measure(srv, o.duration, []);
    log(`  worker ${(baseline.workerMsPerS / 10).toFixed(2)}% of a core, machine ${baseline.machineBusyPct.toFixed(0)}% busy`);

    const tracks = o.participants * 2;
    log(`copy mode: recording ${o.participants} participants (${tracks} tracks)`);
    const copyRow = await srv.app.recording.start(room, { mode: 'tracks', startedBy: 'bench' });
    await sleep(o.warmup * 1000);
    const copyPids = childrenWith(copyRow.id);
    const copy = await measure(srv, o.duration, copyPids);
    const copyDone = await srv.app.recording.stop(room, 'stopped');
    const copyFiles = await srv.app.recordings.get(copyRow.id);
    const perTrackFfmpeg = copy.ffmpegMsPerS / tracks / 10;
    const perTrackWorker = (copy.workerMsPerS - baseline.workerMsPerS) / tracks / 10;
    log(
      `  ffmpeg ${(copy.ffmpegMsPerS / 10).toFixed(2)}% total over ${copyPids.length} processes = ${perTrackFfmpeg.toFixed(3)}% of a core per track; worker +${perTrackWorker.toFixed(3)}% per track; status ${copyDone.status}`,
    );

    // Composite over compositeParticipants publishers: the others stop publishing into the room first.
    log(`composite: ${o.compositeParticipants} participants (grid + mix, VP8/Opus transcode)`);
    const extra = pubs.slice(o.compositeParticipants, o.participants);
    for (const p of extra) await p.request({ cmd: 'close' }).catch(() => {});
    await sleep(2000);
    const baseline2 = extra.length ? await measure(srv, Math.min(15, o.duration), []) : baseline;
    const compRow = await srv.app.recording.start(compositeRoom, { mode: 'composite', startedBy: 'bench' });
    await sleep(o.warmup * 1000);
    const compPids = childrenWith(compRow.id);
    const composite = await measure(srv, o.duration, compPids);
    const compDone = await srv.app.recording.stop(compositeRoom, 'stopped');
    const compFiles = await srv.app.recordings.get(compRow.id);
    log(
      `  ffmpeg ${(composite.ffmpegMsPerS / 10).toFixed(1)}% of a core per composite; worker +${((composite.workerMsPerS - baseline2.workerMsPerS) / 10).toFixed(2)}%; status ${compDone.status}`,
    );

    const dir = srv.app.config.recording.dir;
    const probeAll = async (rec: typeof copyFiles) =>
      Promise.all(
        rec.files.map(async (f) => {
          const p = await probeFile(path.join(dir, rec.recording.id, f.key)).catch(() => null);
          return {
            name: f.key,
            status: f.status,
            size_bytes: f.size_bytes,
            duration_seconds: f.duration_seconds,
            streams: p?.streams.map((s) => ({
              codec: s.codec_name,
              width: s.width,
              height: s.height,
              packets: s.frames,
              duration: s.duration,
            })),
          };
        }),
      );
    Object.assign(results, {
      baseline,
      copy: {
        participants: o.participants,
        tracks,
        window: copy,
        status: copyDone.status,
        ffmpeg_pct_core_per_track: perTrackFfmpeg,
        worker_pct_core_per_track: perTrackWorker,
        total_pct_core_per_track: perTrackFfmpeg + perTrackWorker,
        target_pct_core_per_track: 2,
        files: await probeAll(copyFiles),
      },
      composite: {
        participants: o.compositeParticipants,
        baseline: baseline2,
        window: composite,
        status: compDone.status,
        ffmpeg_pct_core: composite.ffmpegMsPerS / 10,
        worker_pct_core_delta: (composite.workerMsPerS - baseline2.workerMsPerS) / 10,
        files: await probeAll(compFiles),
      },
    });
  } finally {
    for (const p of pubs) await p.request({ cmd: 'close' }).catch(() => {});
    await srv.stop();
  }
  const record = {
    bench: 'recording',
    label: o.label || null,
    at: new Date().toISOString(),
    options: o,
    machine: {
      cpus: cpus().length,
      model: cpus()[0]?.model ?? null,
      loadavg_before: load0,
      loadavg_after: loadavg(),
      shared: 'other agents ran on the same 2 cores during the run',
    },
    network: 'private namespace (unshare -n), loopback only',
    ...results,
  };
  const outDir = fileURLToPath(new URL('../../../bench/recording/results/', import.meta.url));
  mkdirSync(outDir, { recursive: true });
  const name = `${record.at.replace(/[:.]/g, '-')}${o.label ? `-${o.label}` : ''}.json`;
  writeFileSync(path.join(outDir, name), `${JSON.stringify(record, null, 2)}\n`);
  writeFileSync(path.join(outDir, 'latest.json'), `${JSON.stringify(record, null, 2)}\n`);
  log(`results: bench/recording/results/${name}`);
  const summary = record as { copy?: { total_pct_core_per_track: unknown }; composite?: { ffmpeg_pct_core: unknown } };
  process.stdout.write(
    `${JSON.stringify({ copy: summary.copy && { per_track_pct: summary.copy.total_pct_core_per_track }, composite_pct: summary.composite?.ffmpeg_pct_core })}\n`,
  );
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(`[recording-bench] ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
