// SFU benchmark: one publisher fanned out to N subscribers through the
// server's own SFU (mediasoup workers, per-room routers, piped overflow
// routers), plus an audio-only room and a small run with real WebRTC
// subscribers. See bench/README.md, section "SFU (bench/sfu)".
//
//   node dist/bench/sfu/run.js [--mode video,audio] [--subscribers 100,200,...]
//       [--audio-subscribers 500,1000,...] [--duration 20] [--workers 2]
//       [--budget 400] [--real-subscribers 20] [--baseline raw] ...   (--help for all)
//
// --baseline raw,janus measures anchors in the same run: the same load through
// mediasoup alone (rawMediasoup.ts) and through Janus (janus.ts), interleaved
// with Switchboard step by step (steps.ts, anchors.ts), with the ratio per
// step, the box's other load, and charts.
//
// It re-executes itself inside a private network namespace (`unshare -n`,
// loopback only) unless it already runs in one: media must never leave lo.
//
// Parts: args.ts (flags), bench.ts (server, sinks, publishers, bots),
// subscribers.ts (cheap subscribers), sampling.ts and analysis.ts (counters
// and what a window says), steps.ts (fan-out and real runs), report.ts.

import { availableParallelism, cpus, loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isolated, reexecIsolated } from '../shared/netns.js';
import { parseOptions } from './args.js';
import { Bench } from './bench.js';
import { renderCharts } from '../shared/charts.js';
import { sfuCharts } from './charts.js';
import { log } from './common.js';
import { ratioTable, summarize, workerInfo, writeResults, type Results } from './report.js';
import { fanout, real, type FanoutRecord } from './steps.js';

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  if (!isolated()) return reexecIsolated('sfu-bench', fileURLToPath(import.meta.url));
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
    ...(o.baselines.length
      ? {
          baselines: {
            interleaving:
              'per step N every side is measured back to back with the same window, in an order that rotates by step ' +
              "(step 0: Switchboard first, step 1: the next side first, ...); only the measured side forwards (the others' producers are paused, Janus's publisher stops feeding its encoder)",
            ...(o.baselines.includes('raw')
              ? {
                  raw: 'mediasoup alone on one worker of the same binary (bench/sfu/rawMediasoup.ts), its own publisher process, the same sink processes',
                }
              : {}),
            ...(o.baselines.includes('janus')
              ? {
                  janus:
                    "Debian's janus 1.1.2, VideoRoom plugin (bench/sfu/janus.ts); publisher over WebRTC (ICE on a veth pair inside the namespace); " +
                    'receivers are SRTP RTP forwarders (rtp_forward) into the same sinks: no per-receiver RTCP, NACK or congestion control, unlike mediasoup consumers; CPU = the whole janus process from /proc/<pid>/stat',
                }
              : {}),
          },
        }
      : {}),
  };
  const results: Results = {};
  const bench = new Bench(o);
  const outDir = path.resolve(o.out);
  let recordFile = '';
  const write = (status: string) => {
    const doc = {
      meta: { ...meta, finished: new Date().toISOString(), loadavg_end: loadavg(), status },
      summary: summarize(results),
      ...results,
    };
    recordFile = writeResults(outDir, started, doc);
    log(`results: ${recordFile} (and latest.json)`);
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
    const rooms: FanoutRecord[] = [];
    results.fanout = rooms;
    for (const sink of o.sinks) {
      for (const mode of o.modes) await fanout(bench, mode, sink, mode === 'video' ? o.subscribers : o.audioSubscribers, rooms);
    }
    if (o.realSubscribers > 0) results.real = await real(bench, o.realSubscribers, o.realBackground);
  } catch (err) {
    status = `error: ${(err as Error)?.stack ?? err}`;
    log(`!! ${status}`);
  } finally {
    clearTimeout(watchdog);
    await bench.stop();
  }
  const doc = write(status);
  for (const line of ratioTable(results)) log(line);
  if (o.charts && results.fanout?.length) {
    try {
      const title = `${started.toISOString().slice(0, 16)}Z, ${o.workers} Switchboard worker(s), tcc ${o.tcc ? 'on' : 'off'}; hollow = contended window${o.label ? `; ${o.label}` : ''}`;
      const pngs = await renderCharts(sfuCharts(results.fanout, recordFile.replace(/\.json$/, ''), title));
      for (const png of pngs) log(`chart: ${png} (and .svg)`);
    } catch (err) {
      log(`!! charts not rendered: ${(err as Error)?.message ?? err}`);
    }
  }
  process.stdout.write(`${JSON.stringify(doc.summary, null, 2)}\n`);
  process.exit(status === 'ok' ? 0 : 1);
}

main().catch((err) => {
  process.stderr.write(`${(err as Error)?.stack ?? err}\n`);
  process.exit(1);
});
