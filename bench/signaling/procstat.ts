// Linux /proc readers: CPU time and memory of a process (all its threads, so
// libuv's thread pool doing RS256 verification counts), machine-wide CPU.

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let clkTck = 100;
try {
  clkTck = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
} catch {
  // CLK_TCK is 100 on every Linux this runs on
}
export const CLK_TCK = clkTck;

/** Fields of /proc/<pid>/stat after the command name (which may contain spaces). */
function statFields(pid: number): string[] | null {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return raw.slice(raw.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** User + system CPU seconds consumed so far by the process (null when it is gone). */
export function procCpuSeconds(pid: number): number | null {
  const f = statFields(pid);
  if (!f) return null;
  // After ')': state(0) ppid(1) ... utime(11) stime(12)
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

/** User and system CPU seconds separately (system = kernel: socket reads/writes, epoll). */
export function procCpuSplit(pid: number): { user: number; sys: number } | null {
  const f = statFields(pid);
  if (!f) return null;
  return { user: Number(f[11]) / CLK_TCK, sys: Number(f[12]) / CLK_TCK };
}

function statusField(pid: number, field: string): number | null {
  try {
    const raw = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(raw);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

export const procRssKiB = (pid: number) => statusField(pid, 'VmRSS');
export const procHwmKiB = (pid: number) => statusField(pid, 'VmHWM');
export const procRssAnonKiB = (pid: number) => statusField(pid, 'RssAnon');

/** CPU seconds of a process and all its direct children (PostgreSQL postmaster + backends). */
export function treeCpuSeconds(pid: number): number | null {
  const own = procCpuSeconds(pid);
  if (own === null) return null;
  let total = own;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const f = statFields(Number(entry));
    if (f && Number(f[1]) === pid) total += (Number(f[11]) + Number(f[12])) / CLK_TCK;
  }
  return total;
}

export interface MachineCpu {
  busy: number; // seconds, all CPUs
  total: number;
}

export function machineCpu(): MachineCpu {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: (total - idle) / CLK_TCK, total: total / CLK_TCK };
}

/** Machine busy percent between two samples, in percent of ONE core (200 = both cores busy). */
export function machineBusyPct(a: MachineCpu, b: MachineCpu, cpus: number): number {
  const total = b.total - a.total;
  return total > 0 ? round1(((b.busy - a.busy) / total) * 100 * cpus) : 0;
}

export const round1 = (x: number) => Math.round(x * 10) / 10;
export const round2 = (x: number) => Math.round(x * 100) / 100;

// ---- Several processes per node ----

/** The process and all its descendants (a multi-process node: primary, workers, their mediasoup workers). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const f = statFields(Number(entry));
    if (!f) continue;
    const ppid = Number(f[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  if (statFields(pid)) walk(pid);
  return out;
}

/** Sum of a per-process reading over processes (null when none could be read). */
export function sumOf(pids: number[], read: (pid: number) => number | null): number | null {
  let total: number | null = null;
  for (const p of pids) {
    const v = read(p);
    if (v !== null) total = (total ?? 0) + v;
  }
  return total;
}
