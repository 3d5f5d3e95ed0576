// The SFU bench's record: the mediasoup worker it ran, the summary of every
// fan-out and the real run, and the files (<out>/<timestamp>.json and latest.json).

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { resolveWorkerBin } from '../../sfu/workerBinary.js';
import { writeResultFiles } from '../shared/results.js';
import type { FanoutRecord, RealRecord } from './steps.js';
import { sustained } from './analysis.js';

/** What the bench measured, in run order (partial when interrupted). */
export interface Results {
  fanout?: FanoutRecord[];
  real?: RealRecord;
}

interface ModeSummary {
  max_subscribers_under_1pct_loss: number | undefined;
  max_forwarded_pps_under_1pct_loss: number;
  best_packets_per_worker_cpu_s: number;
  steps: string[];
  at_1000?: { loss: number; sustained: boolean; forwarded_pps: number; packets_per_worker_cpu_s: number | null };
}

/** The mediasoup worker binary and its build-info.txt (which build was measured). */
export function workerInfo(): Record<string, unknown> {
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

/** Per mode/sink: the largest sustained step and packets per worker CPU second; the targets; the real run. */
export function summarize(results: Results): Record<string, unknown> {
  const modes: Record<string, ModeSummary> = {};
  for (const r of results.fanout ?? []) {
    const steps = r.steps;
    const ok = steps.filter(sustained);
    const at1000 = steps.find((x) => x.subscribers === 1000);
    modes[`${r.mode}/${r.sink}`] = {
      max_subscribers_under_1pct_loss: r.max_subscribers_under_1pct_loss,
      max_forwarded_pps_under_1pct_loss: Math.max(0, ...ok.map((x) => x.forwarded_pps)),
      best_packets_per_worker_cpu_s: Math.max(0, ...steps.map((x) => x.packets_per_worker_cpu_s ?? 0)),
      steps: steps.map(
        (x) =>
          `N=${x.subscribers}: ${x.forwarded_pps} pkt/s, loss ${(x.loss * 100).toFixed(2)}%, ` +
          `ingress ${Object.values(x.publisher)
            .map((p) => `${((p.ingress_loss ?? 0) * 100).toFixed(2)}%`)
            .join('/')}, ${x.packets_per_worker_cpu_s} pkt/worker-cpu-s${sustained(x) ? '' : ' (not sustained)'}`,
      ),
      ...(at1000
        ? {
            at_1000: {
              loss: at1000.loss,
              sustained: sustained(at1000),
              forwarded_pps: at1000.forwarded_pps,
              packets_per_worker_cpu_s: at1000.packets_per_worker_cpu_s,
            },
          }
        : {}),
    };
  }
  const s: Record<string, unknown> = { ...modes };
  const video = Object.entries(modes)
    .filter(([key]) => key.startsWith('video/'))
    .map(([, v]) => v);
  if (video.length) {
    s['targets'] = {
      '>=100k packets per worker-cpu-s (best video step)': Math.max(...video.map((v) => v.best_packets_per_worker_cpu_s)) >= 100_000,
      '1000-subscriber video room sustained (<1% loss)': video.some((v) => v.at_1000) ? video.some((v) => v.at_1000?.sustained) : false,
    };
  }
  const real = results.real;
  if (real) {
    s['real'] = {
      subscribers: real.real_subscribers,
      loss: real.real.loss,
      video_fps_median: (real.real.per_kind['video'] as { frames_decoded_per_s_median?: number } | undefined)?.frames_decoded_per_s_median,
      packets_per_worker_cpu_s: real.packets_per_worker_cpu_s,
    };
  }
  return s;
}

/** Writes <outDir>/<start, e.g. 2024-05-01T12-30-00-000Z>.json and latest.json; returns the file. */
export function writeResults(outDir: string, started: Date, doc: unknown): string {
  return writeResultFiles(outDir, started.toISOString().replace(/[:.]/g, '-'), doc);
}
