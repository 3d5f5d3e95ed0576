// Dynacast bench: a grid call where N participants publish simulcast cameras
// from headless Chromium and each shows only a few tiles (the rest paused,
// the shown ones at a small layer). Measures the publishers' total upstream
// (outbound-rtp bytesSent) and the SFU worker's CPU (/proc/<pid>/stat) with
// DYNACAST=off and then on, in one invocation, each on a fresh server, and
// writes bench/sfu/results/dynacast/<time>.json (+ a chart).
//
//   npm run bench:dynacast -- --help

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBetween, sampleLoad, waitQuiet, type BoxLoad } from '../shared/boxload.js';
import { renderCharts } from '../shared/charts.js';
import { isolated, reexecIsolated } from '../shared/netns.js';
import { gitCommit, machineInfo, resultStamp, writeResultFiles } from '../shared/results.js';
import { prepareBrowserTests } from '../../test/support/chromium.js';
import { startServer } from '../../test/support/server.js';
import { Grid, type GridBytes } from './dynacastGrid.js';
import { processCpuMs } from './procnet.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const OUT_DIR = path.join(ROOT, 'bench/sfu/results/dynacast');

const USAGE = `npm run bench:dynacast -- [flags]     (or: node dist/bench/sfu/dynacast.js [flags])

A grid call: N participants publish a simulcast camera from headless Chromium
(the SDK's three encodings: quarter, half and full size) and receive everyone;
each shows --visible tiles (the others paused) at --tile-layer. Measured with
DYNACAST=off, then on, each on a fresh server (one mediasoup worker).

  -n, --participants 20    participants (publishers and subscribers)
  --visible 4              tiles each participant shows
  --tile-layer 0           spatial layer the shown tiles ask for (0 = quarter size)
  --per-page 5             SDK clients per Chromium page (each its own fake camera)
  --width 640 --height 360 --fps 15    camera capture
  --settle-s 15            after the tiles are set: bandwidth ramp-up and the lowering delay
  --window-s 30            measured window
  --modes off,on           DYNACAST settings to run, in order
  --quiet-pct 30           wait (at most --quiet-wait-s, 120) until other processes use less than
                           this % of a core before each window; 0: do not wait
  --label TEXT             stored in the record
  --no-chart               skip the PNG/SVG chart
  -h, --help

Writes bench/sfu/results/dynacast/<time>.json and latest.json (and <time>.png).
Runs inside a private network namespace (re-executes itself under unshare -n).`;

interface Args {
  participants: number;
  visible: number;
  tileLayer: number;
  perPage: number;
  width: number;
  height: number;
  fps: number;
  settleS: number;
  windowS: number;
  modes: Array<'off' | 'on'>;
  quietPct: number;
  quietWaitS: number;
  label: string | null;
  chart: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    participants: 20,
    visible: 4,
    tileLayer: 0,
    perPage: 5,
    width: 640,
    height: 360,
    fps: 15,
    settleS: 15,
    windowS: 30,
    modes: ['off', 'on'],
    quietPct: 30,
    quietWaitS: 120,
    label: null,
    chart: true,
  };
  const num = (flag: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`${flag} needs a number >= ${min}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const v = argv[i + 1];
    switch (flag) {
      case '-h':
      case '--help':
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
        break;
      case '-n':
      case '--participants':
        a.participants = num(flag, v, 2);
        i++;
        break;
      case '--visible':
        a.visible = num(flag, v, 1);
        i++;
        break;
      case '--tile-layer':
        a.tileLayer = num(flag, v, 0);
        i++;
        break;
      case '--per-page':
        a.perPage = num(flag, v, 1);
        i++;
        break;
      case '--width':
        a.width = num(flag, v, 64);
        i++;
        break;
      case '--height':
        a.height = num(flag, v, 64);
        i++;
        break;
      case '--fps':
        a.fps = num(flag, v, 1);
        i++;
        break;
      case '--settle-s':
        a.settleS = num(flag, v, 0);
        i++;
        break;
      case '--window-s':
        a.windowS = num(flag, v, 1);
        i++;
        break;
      case '--modes': {
        const modes = (v ?? '').split(',');
        if (modes.length === 0 || modes.some((m) => m !== 'on' && m !== 'off')) throw new Error('--modes takes off,on');
        a.modes = modes as Args['modes'];
        i++;
        break;
      }
      case '--quiet-pct':
        a.quietPct = num(flag, v, 0);
        i++;
        break;
      case '--quiet-wait-s':
        a.quietWaitS = num(flag, v, 0);
        i++;
        break;
      case '--label':
        a.label = v ?? null;
        i++;
        break;
      case '--no-chart':
        a.chart = false;
        break;
      default:
        throw new Error(`unknown flag ${flag} (--help lists them)`);
    }
  }
  return a;
}

const log = (msg: string) => process.stderr.write(`[dynacast] ${msg}\n`);
const round1 = (n: number) => Math.round(n * 10) / 10;

interface ModeResult {
  dynacast: 'off' | 'on';
  participants: number;
  /** All publishers' camera upstream, kbit/s (outbound-rtp bytesSent, every rid). */
  upstream_kbps_total: number;
  upstream_kbps_per_publisher: number;
  /** Upstream by rid (r0 quarter, r1 half, r2 full size), kbit/s summed over publishers. */
  upstream_kbps_by_rid: Record<string, number>;
  /** Of the total, retransmissions (RTX: losses and Chromium's bandwidth probes, which it sends as RTX). */
  upstream_retransmitted_kbps: number;
  /** Video all subscribers received, kbit/s (should be about equal in both modes). */
  downstream_kbps_total: number;
  /** The mediasoup worker's CPU over the window, % of one core. */
  sfu_worker_cpu_pct: number;
  /** The whole box over the window: our process tree (server, Chromium) and everyone else's (other_pct). */
  box: BoxLoad;
  /** Other processes' CPU (% of one core) over the window, as bench/sfu records it. */
  other_busy_pct: number;
  quiet_wait: Awaited<ReturnType<typeof waitQuiet>>;
  window_s: number;
}

function kbps(bytes: number, seconds: number): number {
  return round1((bytes * 8) / 1000 / seconds);
}

async function runMode(mode: 'off' | 'on', o: Args): Promise<ModeResult> {
  log(`DYNACAST=${mode}: starting a server and ${o.participants} Chromium participants`);
  const srv = await startServer({ sfuWorkers: 1, env: { DYNACAST: mode, MAX_CONNECTIONS: '1000' } });
  let grid: Grid | null = null;
  try {
    const room = `dynacast-${mode}`;
    const tokens = await Promise.all(Array.from({ length: o.participants }, (_, i) => srv.mint({ userId: `p${i}`, name: `p${i}` })));
    grid = await Grid.start({ url: srv.url, room, tokens, perPage: o.perPage, width: o.width, height: o.height, fps: o.fps }, log);
    await grid.waitSubscribed(60_000);
    await grid.showTiles(o.visible, o.tileLayer);
    log(`tiles set (${o.visible} shown at layer ${o.tileLayer}); settling ${o.settleS} s`);
    await new Promise((r) => setTimeout(r, o.settleS * 1000));
    const quiet = await waitQuiet({ thresholdPct: o.quietPct, maxWaitMs: o.quietWaitS * 1000, label: `DYNACAST=${mode}`, log });
    const workerPid = srv.app.sfu!.pool.slots[0].pid;
    const before = { bytes: await grid.bytes(), cpu: processCpuMs(workerPid) ?? 0, load: sampleLoad() };
    await new Promise((r) => setTimeout(r, o.windowS * 1000));
    const after = { bytes: await grid.bytes(), cpu: processCpuMs(workerPid) ?? 0, load: sampleLoad() };
    const box = loadBetween(before.load, after.load);
    const seconds = (after.bytes.at - before.bytes.at) / 1000;
    const result = summarize(mode, o, before.bytes, after.bytes, seconds);
    const out: ModeResult = {
      ...result,
      sfu_worker_cpu_pct: round1(((after.cpu - before.cpu) / 1000 / seconds) * 100),
      box,
      other_busy_pct: box.other_pct,
      quiet_wait: quiet,
      window_s: round1(seconds),
    };
    log(
      `DYNACAST=${mode}: upstream ${out.upstream_kbps_total} kbit/s (${out.upstream_kbps_per_publisher} per publisher; ` +
        `${Object.entries(out.upstream_kbps_by_rid)
          .map(([rid, k]) => `${rid} ${k}`)
          .join(', ')}; retransmitted ${out.upstream_retransmitted_kbps}), downstream ${out.downstream_kbps_total} kbit/s, ` +
        `SFU worker ${out.sfu_worker_cpu_pct}% of a core, other load ${box.other_pct}%`,
    );
    return out;
  } finally {
    await grid?.close();
    await srv.stop();
  }
}

function summarize(
  mode: 'off' | 'on',
  o: Args,
  a: GridBytes,
  b: GridBytes,
  seconds: number,
): Omit<ModeResult, 'sfu_worker_cpu_pct' | 'box' | 'other_busy_pct' | 'quiet_wait' | 'window_s'> {
  const byRid: Record<string, number> = {};
  let up = 0;
  b.sent.forEach((rids, i) => {
    for (const [rid, bytes] of Object.entries(rids)) {
      const d = bytes - (a.sent[i]?.[rid] ?? 0);
      byRid[rid] = (byRid[rid] ?? 0) + d;
      up += d;
    }
  });
  const rtx = b.retransmitted.reduce((n, bytes, i) => n + bytes - (a.retransmitted[i] ?? 0), 0);
  const down = b.received.reduce((n, bytes, i) => n + bytes - (a.received[i] ?? 0), 0);
  return {
    dynacast: mode,
    participants: o.participants,
    upstream_kbps_total: kbps(up, seconds),
    upstream_kbps_per_publisher: kbps(up / o.participants, seconds),
    upstream_kbps_by_rid: Object.fromEntries(
      Object.entries(byRid)
        .sort()
        .map(([rid, bytes]) => [rid, kbps(bytes, seconds)]),
    ),
    upstream_retransmitted_kbps: kbps(rtx, seconds),
    downstream_kbps_total: kbps(down, seconds),
  };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (!isolated()) {
    reexecIsolated('dynacast', fileURLToPath(import.meta.url));
    // The re-executed bench does the work; its exit ends this process (not the exit(0) below).
    return new Promise<void>(() => {});
  }
  prepareBrowserTests(); // Chromium present; the SDK bundle the server serves is fresh
  const at = new Date();
  const runs: ModeResult[] = [];
  for (const mode of o.modes) runs.push(await runMode(mode, o));
  const off = runs.find((r) => r.dynacast === 'off');
  const on = runs.find((r) => r.dynacast === 'on');
  const record = {
    bench: 'dynacast',
    at: at.toISOString(),
    label: o.label,
    commit: gitCommit(ROOT, ['sfu', 'clients/browser/sdk', 'server', 'bench/sfu']),
    machine: machineInfo(),
    params: o,
    runs,
    ...(off && on
      ? {
          on_vs_off: {
            upstream: round1((on.upstream_kbps_total / Math.max(0.1, off.upstream_kbps_total)) * 100) / 100,
            sfu_worker_cpu: round1((on.sfu_worker_cpu_pct / Math.max(0.1, off.sfu_worker_cpu_pct)) * 100) / 100,
          },
        }
      : {}),
  };
  const name = resultStamp(at);
  const file = writeResultFiles(OUT_DIR, name, record);
  log(`record: ${path.relative(ROOT, file)}`);
  if (o.chart && runs.length > 0) {
    const values = runs.flatMap((r) => [
      { dynacast: r.dynacast, metric: 'publishers upstream (Mbit/s)', value: r.upstream_kbps_total / 1000 },
      { dynacast: r.dynacast, metric: 'SFU worker CPU (% of a core)', value: r.sfu_worker_cpu_pct },
    ]);
    const [png] = await renderCharts([
      {
        file: path.join(OUT_DIR, `${name}.png`),
        spec: {
          title: `Dynacast: ${o.participants} publishers, ${o.visible} tiles shown each at layer ${o.tileLayer}`,
          data: { values },
          facet: { column: { field: 'metric', type: 'nominal', title: null } },
          spec: {
            width: 160,
            height: 200,
            mark: 'bar',
            encoding: {
              x: { field: 'dynacast', type: 'nominal', sort: ['off', 'on'] },
              y: { field: 'value', type: 'quantitative', title: null },
              color: { field: 'dynacast', type: 'nominal', legend: null },
            },
          },
          resolve: { scale: { y: 'independent' } },
        },
      },
    ]);
    if (png) log(`chart: ${path.relative(ROOT, png)}`);
  }
  process.stdout.write(`${JSON.stringify(record, null, 2)}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
