// Small helpers every part of the signaling bench uses: the log (seconds since
// start), sleep, and merging what the generators report.

import { Histogram, type HistogramJson } from './histogram.js';

export const T0 = Date.now();
export function log(msg: string): void {
  process.stderr.write(`[bench ${((Date.now() - T0) / 1000).toFixed(1).padStart(6)}s] ${msg}\n`);
}
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function merge(hs: HistogramJson[]): Histogram {
  const h = new Histogram();
  for (const x of hs) h.merge(x);
  return h;
}

export function addCounts(into: Record<string, number>, from: Record<string, number>): Record<string, number> {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
  return into;
}
