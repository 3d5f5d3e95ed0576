// What the box is doing besides us: CPU of this process tree (the bench and
// everything it started: nodes, their mediasoup workers, PostgreSQL, Redis)
// against the whole machine, from /proc. The rest is other users' load
// (other engineers' builds and tests on a shared box).

import { cpus, loadavg } from 'node:os';
import { machineBusyPct, machineCpu, procCpuSeconds, processTree, round1, type MachineCpu } from '../signaling/procstat.js';

export interface LoadSample {
  at: number;
  machine: MachineCpu;
  /** CPU seconds of each process of our tree, by pid. */
  own: Map<number, number>;
}

export interface BoxLoad {
  wall_s: number;
  /** 100 = one core busy; the machine has `cpus` cores. */
  machine_busy_pct: number;
  own_pct: number;
  other_pct: number;
  cpus: number;
  loadavg_1m: number;
}

export function sampleLoad(root = process.pid): LoadSample {
  const own = new Map<number, number>();
  for (const pid of processTree(root)) {
    const cpu = procCpuSeconds(pid);
    if (cpu !== null) own.set(pid, cpu);
  }
  return { at: Date.now(), machine: machineCpu(), own };
}

/** Our CPU and everyone else's between two samples (a process that started in between counts in full). */
export function loadBetween(a: LoadSample, b: LoadSample): BoxLoad {
  const wall = Math.max(0.001, (b.at - a.at) / 1000);
  let ownCpu = 0;
  for (const [pid, cpu] of b.own) ownCpu += cpu - (a.own.get(pid) ?? 0);
  const busy = machineBusyPct(a.machine, b.machine, cpus().length);
  const ownPct = round1((ownCpu / wall) * 100);
  return {
    wall_s: round1(wall),
    machine_busy_pct: busy,
    own_pct: ownPct,
    other_pct: round1(Math.max(0, busy - ownPct)),
    cpus: cpus().length,
    loadavg_1m: Math.round(loadavg()[0] * 100) / 100,
  };
}

export interface QuietWait {
  waited_s: number;
  other_pct: number;
  gave_up?: true;
}

/** Other processes' CPU (% of one core) over one 2-second window: the machine less our process tree. */
async function treeOtherPct(): Promise<number> {
  const a = sampleLoad();
  await new Promise((r) => setTimeout(r, 2000));
  return loadBetween(a, sampleLoad()).other_pct;
}

/**
 * Waits until processes outside ours use less than `thresholdPct` of one
 * core over two windows in a row, at most `maxWaitMs` (then measures anyway
 * and says so). `thresholdPct` 0 does not wait. `otherPct` measures one
 * window (default: everything outside our process tree, over 2 s).
 */
export async function waitQuiet(opts: {
  thresholdPct: number;
  maxWaitMs: number;
  label: string;
  log: (msg: string) => void;
  stopped?: () => boolean;
  otherPct?: () => Promise<number>;
}): Promise<QuietWait | null> {
  if (opts.thresholdPct <= 0) return null;
  const start = Date.now();
  let quiet = 0;
  let logged = 0;
  for (;;) {
    const other = await (opts.otherPct ?? treeOtherPct)();
    const waited = round1((Date.now() - start) / 1000);
    quiet = other < opts.thresholdPct ? quiet + 1 : 0;
    if (quiet >= 2 || opts.stopped?.()) return { waited_s: waited, other_pct: other };
    if (Date.now() - start > opts.maxWaitMs) {
      opts.log(`${opts.label}: other processes still use ${other}% of a core after ${waited} s: measuring anyway`);
      return { waited_s: waited, other_pct: other, gave_up: true };
    }
    if (other >= opts.thresholdPct && Date.now() - logged > 30_000) {
      logged = Date.now();
      opts.log(`${opts.label}: waiting for a quiet machine (other processes use ${other}% of a core)`);
    }
  }
}
