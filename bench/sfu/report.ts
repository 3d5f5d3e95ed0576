// The SFU bench's record: the mediasoup worker it ran, the summary of every
// fan-out and the real run, and the files (<out>/<timestamp>.json and latest.json).

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { resolveWorkerBin } from '../../sfu/workerBinary.js';
import { writeResultFiles } from '../shared/results.js';
import { ANCHOR_LABEL, type AnchorName } from './anchors.js';
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
  vs_raw?: AnchorSummary;
  vs_janus?: AnchorSummary;
}

/** One step of Switchboard against an anchor, as the summary and the table show it. */
export interface AnchorRow {
  subscribers: number;
  switchboard: number | null;
  anchor: number | null;
  ratio: number | null;
  delivered: number | null;
  loss_switchboard: number;
  loss_anchor: number | null;
  other_load_pct: [number, number | null];
  contended: boolean;
}

interface AnchorSummary {
  /** switchboard / anchor per worker-CPU-second, median over the steps that were not contended (null when every one was). */
  median_ratio_uncontended: number | null;
  contended_steps: number;
  steps: AnchorRow[];
}

/** The per-step rows of Switchboard against one anchor (steps without its window are left out). */
export function anchorRows(r: FanoutRecord, name: AnchorName): AnchorRow[] {
  return r.steps
    .filter((x) => x[name])
    .map((x) => {
      const a = x[name]!;
      const v = name === 'raw' ? x.vs_raw : x.vs_janus;
      return {
        subscribers: x.subscribers,
        switchboard: x.packets_per_worker_cpu_s,
        anchor: a.packets_per_worker_cpu_s,
        ratio: v?.packets_per_worker_cpu_s ?? null,
        delivered: v?.delivered ?? null,
        loss_switchboard: x.loss,
        loss_anchor: a.loss,
        other_load_pct: [x.box.other_pct, a.box.other_pct],
        contended: v?.contended ?? x.contended,
      };
    });
}

const ANCHORS: AnchorName[] = ['raw', 'janus'];

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : Math.round(((s[m - 1] + s[m]) / 2) * 1e4) / 1e4;
}

/** The ratio table printed at the end of a run (stderr), one line per step. */
export function ratioTable(results: Results): string[] {
  const lines: string[] = [];
  for (const r of results.fanout ?? []) {
    for (const name of ANCHORS) {
      const rows = anchorRows(r, name);
      if (rows.length === 0) continue;
      const pad = (v: unknown, n: number) => String(v).padStart(n);
      const pc = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(2)}%`);
      lines.push(`${r.mode}/${r.sink}: Switchboard vs ${ANCHOR_LABEL[name]}, forwarded packets per worker-CPU-second`);
      lines.push(
        `${pad('N', 6)} ${pad('switchboard', 12)} ${pad(name, 10)} ${pad('ratio', 7)} ${pad('delivered', 9)} ${pad('loss sb', 8)} ${pad(`loss ${name}`, 10)} ${pad('other load %', 13)}`,
      );
      for (const x of rows) {
        lines.push(
          `${pad(x.subscribers, 6)} ${pad(x.switchboard ?? '-', 12)} ${pad(x.anchor ?? '-', 10)} ${pad(x.ratio ?? '-', 7)} ${pad(x.delivered ?? '-', 9)} ` +
            `${pad(pc(x.loss_switchboard), 8)} ${pad(pc(x.loss_anchor), 10)} ${pad(`${x.other_load_pct[0]} / ${x.other_load_pct[1] ?? '-'}`, 13)}${x.contended ? '  CONTENDED' : ''}`,
        );
      }
      const uncontended = rows.filter((x) => !x.contended && x.ratio !== null).map((x) => x.ratio!);
      lines.push(
        `median switchboard/${name} over uncontended steps: ${median(uncontended) ?? '- (every step was contended: not a measurement, rerun on a quiet box)'}`,
      );
    }
  }
  return lines;
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
    const vs = (name: AnchorName): AnchorSummary | null => {
      const rows = anchorRows(r, name);
      if (rows.length === 0) return null;
      return {
        median_ratio_uncontended: median(rows.filter((x) => !x.contended && x.ratio !== null).map((x) => x.ratio!)),
        contended_steps: rows.filter((x) => x.contended).length,
        steps: rows,
      };
    };
    const vsRaw = vs('raw');
    const vsJanus = vs('janus');
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
      ...(vsRaw ? { vs_raw: vsRaw } : {}),
      ...(vsJanus ? { vs_janus: vsJanus } : {}),
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
    const ratios = video.map((v) => v.vs_raw?.median_ratio_uncontended).filter((x): x is number => typeof x === 'number');
    if (video.some((v) => v.vs_raw)) {
      (s['targets'] as Record<string, unknown>)['>=0.9 of raw mediasoup per worker-cpu-s (median of uncontended video steps)'] =
        ratios.length ? Math.min(...ratios) >= 0.9 : 'not measured: every step was contended';
    }
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
