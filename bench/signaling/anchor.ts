// The anchor of --baseline bare: per phase of a scenario, Switchboard's number,
// the bare hub's from the same run, and the ratio switchboard / bare. A window
// in which other processes used more than --quiet-threshold of a core on
// either side is `contended`, and its ratio is not a result. Also the small
// table printed at the end of the run.

import type { Options } from './args.js';
import type { HoldRecord, JoinRecord, RelayEntry, RelayRecord } from './steps.js';

/** What the comparison reads of one target's part of a scenario (scenario.ts's TargetRecord). */
interface Measured {
  join?: JoinRecord;
  hold?: HoldRecord;
  relay?: RelayEntry[];
}

/** One number on both sides and switchboard / bare (null when either side has none). */
export interface Pair {
  switchboard: number | null;
  bare: number | null;
  ratio: number | null;
}

/** The box's other load in each side's window (% of one core), and whether the pair counts. */
interface Window {
  other_busy_pct: { switchboard: number | null; bare: number | null };
  contended: boolean;
  /** Said when contended: the ratio is not a result. */
  note?: string;
}

export interface AnchorRecord {
  /** How the two ran (see scenario.ts). */
  interleaving: string;
  note?: string;
  /** joins/s: higher is better, so a ratio below 1 is how far behind the bare hub Switchboard is; for everything else lower is better. */
  join: Window & {
    joins_per_s: Pair;
    /**
     * 1e6 / server_cpu_us_per_join: the joins one core of server CPU would do if nothing else limited it.
     * Unlike joins/s it does not depend on the generators (~1 ms of their CPU per join) keeping up.
     */
    joins_per_server_core_s: Pair;
    server_cpu_us_per_join: Pair;
    latency_p99_ms: Pair;
    server_cpu_pct: { switchboard: number | null; bare: number | null };
    generators_cpu_pct: { switchboard: number | null; bare: number | null };
    /** Both cores busy in a window: that side's joins/s is bounded by the box (generators included), not by the hub alone. */
    machine_saturated: { switchboard: boolean | null; bare: boolean | null };
  };
  hold: Window & { rss_kib_per_connection: Pair; heap_kib_per_connection: Pair };
  relay: Array<
    Window & {
      target_rate: number;
      ran_first: 'switchboard' | 'bare';
      p50_ms: Pair;
      p90_ms: Pair;
      p99_ms: Pair;
      p999_ms: Pair;
      server_cpu_us_per_msg: Pair;
      /** From the server's --trace-gc-nvp lines (null without --gc-trace on). */
      promoted_bytes_per_msg: Pair;
      gc_pause_ms: Pair;
      loss_pct: { switchboard: number | null; bare: number | null };
      generator_saturated: { switchboard: boolean | null; bare: boolean | null };
      machine_saturated: { switchboard: boolean | null; bare: boolean | null };
    }
  >;
}

const NOT_A_RESULT = 'contended: other processes used more than --quiet-threshold of a core in this window; the ratio is not a result';

const num = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);

export function pair(sw: unknown, bare: unknown): Pair {
  const s = num(sw);
  const b = num(bare);
  return { switchboard: s, bare: b, ratio: s !== null && b !== null && b > 0 ? Math.round((s / b) * 1000) / 1000 : null };
}

function window(sw: { other_busy_pct?: number; contended?: boolean } | undefined, bare: typeof sw): Window {
  const contended = Boolean(sw?.contended || bare?.contended);
  return {
    other_busy_pct: { switchboard: sw?.other_busy_pct ?? null, bare: bare?.other_busy_pct ?? null },
    contended,
    ...(contended ? { note: NOT_A_RESULT } : {}),
  };
}

const perCore = (usPerJoin: number | null | undefined) => (usPerJoin ? Math.round(1e6 / usPerJoin) : null);

const measured = (e: RelayEntry | undefined): RelayRecord | undefined => (e && !('error' in e) ? e : undefined);

/** All GC pauses of a relay step (scavenges and mark-compacts), ms. */
const gcPause = (r: RelayRecord | undefined): number | null =>
  r?.gc ? Math.round((r.gc.scavenge_pause_ms + r.gc.mark_compact_pause_ms) * 10) / 10 : null;

/** The ratios of a scenario that ran with --baseline bare. */
export function compareTargets(out: Measured, bare: Measured, opts: Options): AnchorRecord {
  const [sj, bj] = [out.join, bare.join];
  const [sh, bh] = [out.hold, bare.hold];
  return {
    interleaving:
      'both alive for the whole scenario, each with its own generators; joins: bare hub first, then Switchboard; ' +
      'hold: Switchboard, then bare; relay: each rate on both, back to back, alternating which goes first',
    join: {
      joins_per_s: pair(sj?.joins_per_s, bj?.joins_per_s),
      joins_per_server_core_s: pair(perCore(sj?.server_cpu_us_per_join), perCore(bj?.server_cpu_us_per_join)),
      server_cpu_us_per_join: pair(sj?.server_cpu_us_per_join, bj?.server_cpu_us_per_join),
      latency_p99_ms: pair(sj?.latency_ms.total.p99, bj?.latency_ms.total.p99),
      server_cpu_pct: { switchboard: sj?.server_cpu_pct ?? null, bare: bj?.server_cpu_pct ?? null },
      generators_cpu_pct: { switchboard: sj?.generators_cpu_pct ?? null, bare: bj?.generators_cpu_pct ?? null },
      machine_saturated: { switchboard: sj?.machine_saturated ?? null, bare: bj?.machine_saturated ?? null },
      ...window(sj, bj),
    },
    hold: {
      rss_kib_per_connection: pair(sh?.rss_kib_per_connection, bh?.rss_kib_per_connection),
      heap_kib_per_connection: pair(sh?.heap_kib_per_connection, bh?.heap_kib_per_connection),
      ...window(sh, bh),
    },
    relay: (out.relay ?? []).map((entry, i) => {
      const s = measured(entry);
      const b = measured(bare.relay?.[i]);
      return {
        target_rate: entry.target_rate,
        ran_first: i % 2 === 0 ? ('switchboard' as const) : ('bare' as const),
        p50_ms: pair(s?.latency_ms.p50, b?.latency_ms.p50),
        p90_ms: pair(s?.latency_ms.p90, b?.latency_ms.p90),
        p99_ms: pair(s?.latency_ms.p99, b?.latency_ms.p99),
        p999_ms: pair(s?.latency_ms.p999, b?.latency_ms.p999),
        server_cpu_us_per_msg: pair(s?.server_cpu_us_per_msg, b?.server_cpu_us_per_msg),
        promoted_bytes_per_msg: pair(s?.gc?.promoted_bytes_per_msg, b?.gc?.promoted_bytes_per_msg),
        gc_pause_ms: pair(gcPause(s), gcPause(b)),
        loss_pct: { switchboard: s?.loss_pct ?? null, bare: b?.loss_pct ?? null },
        generator_saturated: { switchboard: s?.generator_saturated ?? null, bare: b?.generator_saturated ?? null },
        machine_saturated: { switchboard: s?.machine_saturated ?? null, bare: b?.machine_saturated ?? null },
        ...window(s, b),
      };
    }),
    ...(opts.quietThreshold <= 0 ? { note: '--quiet-threshold 0: no window was checked for other load' } : {}),
  };
}

/** The ratios of every scenario as a small text table (empty without --baseline bare). */
export function ratioTable(scenarios: Array<{ name: string; anchor?: AnchorRecord }>): string[] {
  const rows: string[][] = [];
  const fmt = (x: number | null) => (x === null ? 'n/a' : String(x));
  const load = (w: Window) => `${fmt(w.other_busy_pct.switchboard)} / ${fmt(w.other_busy_pct.bare)}`;
  const row = (scenario: string, phase: string, what: string, p: Pair, w: Window) =>
    rows.push([
      scenario,
      phase,
      what,
      fmt(p.switchboard),
      fmt(p.bare),
      fmt(p.ratio),
      load(w),
      w.contended ? 'CONTENDED: not a result' : '',
    ]);
  for (const s of scenarios) {
    const a = s.anchor;
    if (!a) continue;
    row(s.name, 'join', 'joins/s', a.join.joins_per_s, a.join);
    row(s.name, 'join', 'joins per server core-s', a.join.joins_per_server_core_s, a.join);
    row(s.name, 'join', 'server CPU us/join', a.join.server_cpu_us_per_join, a.join);
    row(s.name, 'hold', 'RSS KiB/connection', a.hold.rss_kib_per_connection, a.hold);
    row(s.name, 'hold', 'heap KiB/connection', a.hold.heap_kib_per_connection, a.hold);
    for (const r of a.relay) {
      row(s.name, `relay ${r.target_rate}/s`, 'p50 ms', r.p50_ms, r);
      row(s.name, `relay ${r.target_rate}/s`, 'p99 ms', r.p99_ms, r);
      row(s.name, `relay ${r.target_rate}/s`, 'server CPU us/msg', r.server_cpu_us_per_msg, r);
      if (r.promoted_bytes_per_msg.switchboard !== null) {
        row(s.name, `relay ${r.target_rate}/s`, 'promoted B/msg', r.promoted_bytes_per_msg, r);
        row(s.name, `relay ${r.target_rate}/s`, 'GC pause ms', r.gc_pause_ms, r);
      }
    }
  }
  if (rows.length === 0) return [];
  const notes: string[] = [];
  for (const s of scenarios) {
    const saturated = s.anchor?.join.machine_saturated;
    const sides = [saturated?.switchboard ? 'Switchboard' : null, saturated?.bare ? 'bare hub' : null].filter(Boolean);
    if (sides.length) {
      notes.push(
        `${s.name} join: both cores were busy in the ${sides.join(' and ')} window: ` +
          'that joins/s is a bound set by the box (generators included); joins per server core-s is the comparison',
      );
    }
  }
  const head = ['scenario', 'phase', 'metric', 'switchboard', 'bare', 'ratio', 'other load % (sw / bare)', ''];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i >= 3 && i <= 5 ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [
    'switchboard / bare hub, same run (joins/s: higher is better; every other metric: lower is better)',
    line(head),
    ...rows.map(line),
    ...notes,
  ];
}
