// Readings of the server and the machine from /proc: memory and descriptors
// of the server processes (after a forced GC via the inspector), and CPU
// split into server, generators, database, Redis and everyone else.

import { readdirSync } from 'node:fs';
import { waitQuiet as waitQuietBox, type QuietWait } from '../shared/boxload.js';
import type { Ctx } from './context.js';
import type { Generator } from './generators.js';
import { openInspector, type InspectorSession } from './inspector.js';
import {
  machineBusyPct,
  machineCpu,
  procCpuSeconds,
  procCpuSplit,
  procHwmKiB,
  procRssAnonKiB,
  procRssKiB,
  processTree,
  round1,
  round2,
  sumOf,
  treeCpuSeconds,
  type MachineCpu,
} from './procstat.js';
import type { Server } from './server.js';
import { log, sleep } from './util.js';

/** Server processes: the primary and its workers (one process when NODE_PROCESSES=1). */
export const serverPids = (server: Server): number[] => processTree(server.pid);
export const serverRss = (server: Server) => sumOf(serverPids(server), procRssKiB);
export const serverRssAnon = (server: Server) => sumOf(serverPids(server), procRssAnonKiB);
export const serverHwm = (server: Server) => sumOf(serverPids(server), procHwmKiB);
export const serverFds = (server: Server) => sumOf(serverPids(server), openFds);

/** Memory, descriptors and CPU of each server process. */
export function perProcess(server: Server): Array<{ pid: number; rss_kib: number | null; fds: number | null; cpu_s: number | null }> {
  return serverPids(server).map((pid) => ({ pid, rss_kib: procRssKiB(pid), fds: openFds(pid), cpu_s: procCpuSeconds(pid) }));
}

/** One inspector per server process (worker i of a multi-process node debugs on the primary's port + 1 + i). */
export async function openInspectors(server: Server, processes: number): Promise<InspectorSession | null> {
  if (!server.inspectPort) return null;
  const ports = [server.inspectPort, ...Array.from({ length: processes > 1 ? processes : 0 }, (_, i) => server.inspectPort! + 1 + i)];
  const sessions = await Promise.all(ports.map((p) => openInspector(p)));
  if (sessions.some((x) => x === null)) {
    for (const x of sessions) x?.close();
    log('could not open an inspector of every server process: RSS readings without a forced GC');
    return null;
  }
  const all = sessions as InspectorSession[];
  return {
    collectGarbage: async () => (await Promise.all(all.map((x) => x.collectGarbage()))).every(Boolean),
    heapUsed: async () => {
      const heaps = await Promise.all(all.map((x) => x.heapUsed()));
      return heaps.some((h) => h === null) ? null : heaps.reduce((a: number, h) => a + (h ?? 0), 0);
    },
    close: () => all.forEach((x) => x.close()),
  };
}

function openFds(pid: number): number | null {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

/**
 * The other target of a --baseline run (its server and generators), alive but
 * idle while this one is measured: its CPU is the bench's own, not other load.
 */
export interface Twin {
  server: Server;
  gens: Generator[];
}

export interface CpuSample {
  server: number;
  serverSys: number;
  gens: number;
  db: number | null;
  redis: number | null;
  /** The idle twin's server and generators (null without --baseline). */
  twin: number | null;
  /** Multiproc: CPU seconds of each server process, by pid. */
  byProcess: Record<number, number>;
  machine: MachineCpu;
  at: number; // performance-ish wall ms
}

export function sample(server: Server | null, gens: Generator[], ctx: Ctx, twin: Twin | null = null): CpuSample {
  const pgPid = ctx.pg?.pid() ?? null;
  // Multiproc: the primary and all its workers.
  const pids = server ? serverPids(server) : [];
  const perPid = pids.map((p) => [p, procCpuSplit(p)] as const);
  const splits = perPid.map(([, x]) => x).filter((x) => x !== null);
  const split = server
    ? splits.length
      ? { user: splits.reduce((a, x) => a + x.user, 0), sys: splits.reduce((a, x) => a + x.sys, 0) }
      : null
    : { user: 0, sys: 0 };
  const redisPid = ctx.redis?.pid() ?? null;
  return {
    server: split ? split.user + split.sys : NaN,
    serverSys: split ? split.sys : NaN,
    gens: gens.reduce((a, g) => a + g.cpuSeconds(), 0),
    db: pgPid ? treeCpuSeconds(pgPid) : null,
    redis: redisPid ? procCpuSeconds(redisPid) : null,
    twin: twin ? (sumOf(serverPids(twin.server), procCpuSeconds) ?? 0) + twin.gens.reduce((a, g) => a + g.cpuSeconds(), 0) : null,
    byProcess: Object.fromEntries(perPid.filter(([, x]) => x).map(([p, x]) => [p, x!.user + x!.sys])),
    machine: machineCpu(),
    at: Date.now(),
  };
}

export function cpuBetween(a: CpuSample, b: CpuSample, ctx: Ctx) {
  const wall = (b.at - a.at) / 1000;
  const pct = (x: number) => round1((x / wall) * 100);
  const db = a.db !== null && b.db !== null ? b.db - a.db : null;
  const redis = a.redis !== null && b.redis !== null ? b.redis - a.redis : null;
  const twin = a.twin !== null && b.twin !== null ? b.twin - a.twin : null;
  const busy = machineBusyPct(a.machine, b.machine, ctx.cpus);
  return {
    wall_s: round2(wall),
    server_cpu_s: round2(b.server - a.server),
    server_cpu_pct: pct(b.server - a.server),
    server_cpu_sys_pct: pct(b.serverSys - a.serverSys),
    generators_cpu_pct: pct(b.gens - a.gens),
    ...(db !== null ? { db_cpu_s: round2(db), db_cpu_pct: pct(db) } : {}),
    ...(redis !== null ? { redis_cpu_pct: pct(redis) } : {}),
    ...(twin !== null ? { twin_cpu_pct: pct(twin) } : {}),
    ...(Object.keys(b.byProcess).length > 1
      ? {
          server_cpu_pct_by_process: Object.fromEntries(
            Object.entries(b.byProcess).map(([p, v]) => [p, pct(v - (a.byProcess[Number(p)] ?? v))]),
          ),
        }
      : {}),
    machine_busy_pct: busy,
    // Everything else on the box (another engineer's build, the kernel's softirq work outside these processes).
    other_busy_pct: round1(
      Math.max(
        0,
        busy -
          pct(b.server - a.server) -
          pct(b.gens - a.gens) -
          (db !== null ? pct(db) : 0) -
          (redis !== null ? pct(redis) : 0) -
          (twin !== null ? pct(twin) : 0),
      ),
    ),
  };
}

/**
 * Waits until processes other than ours use less than --quiet-threshold % of one core
 * (two 2-second windows in a row), at most --quiet-max-wait. Returns the wait.

/**
 * Waits until processes other than ours use less than --quiet-threshold % of one core
 * (two 2-second windows in a row), at most --quiet-max-wait. Returns the wait.
 */
export function waitQuiet(
  label: string,
  server: Server | null,
  gens: Generator[],
  ctx: Ctx,
  twin: Twin | null = null,
): Promise<QuietWait | null> {
  return waitQuietBox({
    thresholdPct: ctx.opts.quietThreshold,
    maxWaitMs: ctx.opts.quietMaxWaitMs,
    label,
    log,
    // Ours here: the server, generators, database, Redis and the idle twin (the bench's own CPU counts as other).
    otherPct: async () => {
      const a = sample(server, gens, ctx, twin);
      await sleep(2000);
      return cpuBetween(a, sample(server, gens, ctx, twin), ctx).other_busy_pct;
    },
  });
}
