// The three measurements of a scenario, on a server with its generators
// ready: (a) connect + auth + join, (b) hold: memory per held connection,
// (c) the relay sweep: offer latency, loss and CPU at each aggregate rate.

import type { Ctx } from './context.js';
import type { Generator } from './generators.js';
import type { InspectorSession } from './inspector.js';
import type { JoinDoneEv, RelayDoneEv, StatsEv } from './ipc.js';
import type { ServerProbe } from './probe.js';
import { gcSince, logOffset } from './gcTrace.js';
import { round1, round2 } from './procstat.js';
import { cpuBetween, perProcess, sample, serverFds, serverHwm, serverRss, serverRssAnon, waitQuiet, type Twin } from './sampling.js';
import { processViews, type Keeper, type Server } from './server.js';
import { addCounts, log, merge, sleep } from './util.js';

/** A scenario's running processes, as the steps see them. */
export interface Stage {
  name: string;
  ctx: Ctx;
  server: Server;
  keeper: Keeper;
  gens: Generator[];
  probe: ServerProbe;
  connections: number;
  /** With --baseline: the other target, idle while this one is measured. */
  twin: Twin | null;
}

/** What the bare hub cannot tell (it has no /metrics, no database): said, not invented. */
export const NA = 'n/a' as const;

/** Server memory before the joins (after a forced GC when the inspector is open). */
export interface Baseline {
  inspector: InspectorSession | null;
  gc: boolean;
  rss: number | null;
  rssAnon: number | null;
  heap: number | null;
}

const counts = () => ({}) as Record<string, number>;

/** The scenario's name in progress lines, with the target when it is the bare hub. */
const label = (s: Stage) => (s.server.kind === 'bare' ? `${s.name} [bare]` : s.name);

// ---- a. connect + auth + join

export async function joinStep(s: Stage) {
  const { ctx, server, keeper, gens, connections, twin } = s;
  const opts = ctx.opts;
  const bare = server.kind === 'bare';
  const per = Math.max(1, Math.ceil(opts.concurrency / gens.length));
  const quietJoin = await waitQuiet(`${label(s)} join`, server, gens, ctx, twin);
  const c0 = sample(server, gens, ctx, twin);
  const joinDone = Promise.all(
    gens.map((x) => x.request<JoinDoneEv>({ cmd: 'join', concurrency: per, timeoutMs: opts.joinTimeoutMs }, 'join-done')),
  );
  let lastOk = 0;
  let lastAt = Date.now();
  const progress = setInterval(() => {
    const ok = gens.reduce((a, x) => a + x.progress.ok, 0);
    const failed = gens.reduce((a, x) => a + x.progress.failed, 0);
    const now = Date.now();
    const h = keeper.last;
    log(
      `${label(s)}: joined ${ok}/${connections}, failed ${failed}, ${Math.round(((ok - lastOk) * 1000) / (now - lastAt))}/s` +
        (h ? ` (server: ${h['connections']} connections, ${h['participants']} participants)` : ''),
    );
    lastOk = ok;
    lastAt = now;
  }, 2000);
  const joins = await joinDone.finally(() => clearInterval(progress));
  const c1 = sample(server, gens, ctx, twin);
  const ok = joins.reduce((a, j) => a + j.ok, 0);
  const wall = (Math.max(...joins.map((j) => j.endedAt)) - Math.min(...joins.map((j) => j.startedAt))) / 1000;
  const metricsJoined = bare ? null : await keeper.metrics();
  const serverJoin = bare
    ? NA
    : metricsJoined && metricsJoined['switchboard_join_duration_seconds_count']
      ? round2((metricsJoined['switchboard_join_duration_seconds_sum'] / metricsJoined['switchboard_join_duration_seconds_count']) * 1000)
      : null;
  const { wall_s: _sampledWall, ...cpuJoin } = cpuBetween(c0, c1, ctx);
  const j = {
    attempted: connections,
    ok,
    failed: connections - ok,
    failures: joins.reduce((a, x) => addCounts(a, x.failures), counts()),
    wall_s: round2(wall),
    joins_per_s: Math.round(ok / wall),
    latency_ms: {
      total: merge(joins.map((x) => x.total)).summaryMs(),
      connect: merge(joins.map((x) => x.connect)).summaryMs(),
      auth: merge(joins.map((x) => x.auth)).summaryMs(),
      join: merge(joins.map((x) => x.join)).summaryMs(),
    },
    server_join_handler_mean_ms: serverJoin,
    server_cpu_us_per_join: ok ? Math.round(((c1.server - c0.server) / ok) * 1e6) : null,
    ...(cpuJoin.db_cpu_s !== undefined && ok ? { db_cpu_us_per_join: bare ? NA : Math.round((cpuJoin.db_cpu_s / ok) * 1e6) } : {}),
    ...cpuJoin,
    generators_cpu_s: round2(joins.reduce((a, x) => a + x.cpuSeconds, 0)),
    // Both cores busy: the joins/s is then bounded by the generators as much as by the server (compare CPU per join).
    machine_saturated: cpuJoin.machine_busy_pct > ctx.cpus * 100 * 0.95,
    quiet_wait: quietJoin,
    contended: opts.quietThreshold > 0 && cpuJoin.other_busy_pct >= opts.quietThreshold,
  };
  log(
    `${label(s)}: JOIN ok ${ok}/${connections} in ${j.wall_s} s = ${j.joins_per_s}/s; p50 ${j.latency_ms.total.p50} ms p99 ${j.latency_ms.total.p99} ms; ` +
      `server ${j.server_cpu_us_per_join} us CPU/join (${j.server_cpu_pct}% of a core, ${j.server_cpu_sys_pct}% sys), machine ${j.machine_busy_pct}% (other ${j.other_busy_pct}%)` +
      (j.failed ? `; failures ${JSON.stringify(j.failures)}` : '') +
      (j.machine_saturated ? ' [MACHINE SATURATED]' : '') +
      (j.contended ? ' [CONTENDED]' : ''),
  );
  return { record: j, joins };
}

export type JoinRecord = Awaited<ReturnType<typeof joinStep>>['record'];

// ---- b. hold: RSS per connection

export async function holdStep(s: Stage, base: Baseline) {
  const { ctx, server, keeper, gens, twin } = s;
  const { inspector } = base;
  const h0 = sample(server, gens, ctx, twin);
  await sleep(ctx.opts.holdMs);
  const h1 = sample(server, gens, ctx, twin);
  const rssHeldNoGc = serverRss(server);
  const gcHeld = inspector ? await inspector.collectGarbage() : false;
  const heapHeld = inspector ? await inspector.heapUsed() : null;
  inspector?.close();
  await sleep(500);
  const rssHeld = serverRss(server);
  const rssAnonHeld = serverRssAnon(server);
  const fdsHeld = serverFds(server);
  const stats = await Promise.all(gens.map((x) => x.request<StatsEv>({ cmd: 'stats' }, 'stats')));
  const held = stats.reduce((a, x) => a + x.joined, 0);
  const hh = await keeper.health();
  // Multiproc: each process's own figures (a multi-process node's /health is one process's).
  const views = ctx.opts.processes > 1 ? await processViews(server) : [];
  const procs = perProcess(server);
  const heapDelta = base.heap !== null && heapHeld !== null ? heapHeld - base.heap : null;
  const idle = cpuBetween(h0, h1, ctx);
  const hd = {
    held_connections: held,
    server_open_fds: fdsHeld,
    server_reported_connections: views.length ? views.reduce((a, v) => a + (v.connections ?? 0), 0) : (hh?.['connections'] ?? null),
    server_reported_participants: views.length ? views.reduce((a, v) => a + (v.participants ?? 0), 0) : (hh?.['participants'] ?? null),
    server_processes: procs.map((p) => ({
      ...p,
      ...(views.find((v) => v.pid === p.pid) ?? { role: p.pid === server.pid ? 'primary' : 'other' }),
    })),
    relayed_connections: views.length ? views.reduce((a, v) => a + (v.relayed_connections ?? 0), 0) : null,
    full_gc_before_readings: base.gc && gcHeld,
    rss_before_kib: base.rss,
    rss_held_kib: rssHeld,
    rss_held_before_gc_kib: rssHeldNoGc,
    rss_hwm_kib: serverHwm(server),
    rss_kib_per_connection: base.rss !== null && rssHeld !== null && held ? round2((rssHeld - base.rss) / held) : null,
    rss_anon_kib_per_connection: base.rssAnon !== null && rssAnonHeld !== null && held ? round2((rssAnonHeld - base.rssAnon) / held) : null,
    heap_used_before_mib: base.heap !== null ? round1(base.heap / 2 ** 20) : null,
    heap_used_held_mib: heapHeld !== null ? round1(heapHeld / 2 ** 20) : null,
    heap_kib_per_connection: heapDelta !== null && held ? round2(heapDelta / 1024 / held) : null,
    idle_server_cpu_pct: idle.server_cpu_pct,
    idle_machine_busy_pct: idle.machine_busy_pct,
    ...(idle.twin_cpu_pct !== undefined ? { twin_cpu_pct: idle.twin_cpu_pct } : {}),
    other_busy_pct: idle.other_busy_pct,
    contended: ctx.opts.quietThreshold > 0 && idle.other_busy_pct >= ctx.opts.quietThreshold,
    dropped: stats.reduce((a, x) => addCounts(a, x.dropped), counts()),
  };
  log(
    `${label(s)}: HOLD ${held} joined; RSS ${base.rss} -> ${rssHeld} KiB = ${hd.rss_kib_per_connection} KiB/connection (heap ${hd.heap_kib_per_connection} KiB/conn); idle server CPU ${hd.idle_server_cpu_pct}% (other ${hd.other_busy_pct}%)${hd.contended ? ' [CONTENDED]' : ''}`,
  );
  return hd;
}

export type HoldRecord = Awaited<ReturnType<typeof holdStep>>;

// ---- c. relay sweep

/** One relay rate, each generator's share in proportion to the connections it got joined. */
async function relayStep(s: Stage, rate: number, okPer: number[]) {
  const { ctx, server, gens, probe, twin } = s;
  const opts = ctx.opts;
  const ok = okPer.reduce((a, x) => a + x, 0);
  const quiet = await waitQuiet(`${label(s)} relay ${rate}/s`, server, gens, ctx, twin);
  const r0 = sample(server, gens, ctx, twin);
  const gcFrom = logOffset(server.logFile);
  const startedAt = new Date().toISOString();
  probe.start();
  const done = Promise.all(
    gens.map((x, i) =>
      x.request<RelayDoneEv>(
        {
          cmd: 'relay',
          rate: ok ? (rate * okPer[i]) / ok : 0,
          durationMs: opts.durationMs,
          warmupMs: opts.warmupMs,
          drainMs: opts.drainMs,
        },
        'relay-done',
      ),
    ),
  );
  await sleep(opts.durationMs);
  const r1 = sample(server, gens, ctx, twin);
  const res = await done;
  const probed = probe.stop();
  const r2 = sample(server, gens, ctx, twin);
  const sent = res.reduce((a, x) => a + x.sent, 0);
  const received = res.reduce((a, x) => a + x.received, 0);
  const inWindow = res.reduce((a, x) => a + x.receivedInWindow, 0);
  const skipped = res.reduce((a, x) => a + x.skipped, 0);
  const cpuSend = cpuBetween(r0, r1, ctx);
  const genCpuPct = res.map((x) => round1((x.cpuSeconds / (opts.durationMs / 1000)) * 100));
  const achieved = sent / (opts.durationMs / 1000);
  return {
    target_rate: rate,
    started_at: startedAt, // second i of the per-second series starts here (+ i s)
    sent_per_s: Math.round(achieved),
    delivered_per_s: Math.round(inWindow / (opts.durationMs / 1000)),
    sent,
    received,
    lost: sent - received,
    loss_pct: sent ? round2(((sent - received) / sent) * 100) : 0,
    skipped_by_generator: skipped,
    server_errors: res.reduce((a, x) => addCounts(a, x.serverErrors), counts()),
    latency_ms: merge(res.map((x) => x.latency)).summaryMs(),
    // Worst latency in each second of the step (all generators): periodic stalls show here.
    max_latency_ms_per_second: Array.from({ length: Math.max(...res.map((x) => x.maxPerSecondUs.length)) }, (_, i) =>
      round1(Math.max(0, ...res.map((x) => x.maxPerSecondUs[i] ?? 0)) / 1000),
    ),
    // The server's own event loop in the same seconds (a protocol ping's round trip, every 10 ms).
    server_probe: probed,
    ...cpuSend,
    server_cpu_us_per_msg: received ? round1(((r2.server - r0.server) / received) * 1e6) : null,
    generator_cpu_pct: genCpuPct,
    generator_loop_delay_p99_ms: Math.max(...res.map((x) => x.loopDelayP99Ms)),
    generator_loop_delay_max_ms: Math.max(...res.map((x) => x.loopDelayMaxMs)),
    // The generators could not keep the schedule, or one used most of a core.
    generator_saturated: achieved < rate * 0.97 || genCpuPct.some((p) => p > 85),
    // Both cores busy: the server competed for CPU with its own load generators.
    machine_saturated: cpuSend.machine_busy_pct > ctx.cpus * 100 * 0.95,
    contended: opts.quietThreshold > 0 && cpuSend.other_busy_pct >= opts.quietThreshold,
    quiet_wait: quiet,
    rss_kib: serverRss(server),
    // With --gc-trace on: the server's collections during the step (drain included).
    gc: gcSince(server.logFile, gcFrom, received),
  };
}

export type RelayRecord = Awaited<ReturnType<typeof relayStep>> & { attempts: number };
export type RelayEntry = RelayRecord | { target_rate: number; error: string };

/** Each rate in turn, pushed to `into` as it ends. */
export async function relaySweep(s: Stage, rates: number[], okPer: number[], into: RelayEntry[]): Promise<void> {
  for (const rate of rates) {
    const entry = await relayRate(s, rate, okPer);
    into.push(entry);
    if ('error' in entry) break;
  }
}

/** One rate; a contended rate is repeated (--retries), keeping the least contended attempt. */
export async function relayRate(s: Stage, rate: number, okPer: number[]): Promise<RelayEntry> {
  const { server } = s;
  const opts = s.ctx.opts;
  if (server.exitCode !== undefined) return { target_rate: rate, error: `${server.kind} exited (${server.exitCode})` };
  let step = await relayStep(s, rate, okPer);
  let attempts = 1;
  let last = step;
  while (last.contended && attempts <= opts.retries && server.exitCode === undefined) {
    log(
      `${label(s)}: RELAY ${rate}/s was contended (other processes used ${last.other_busy_pct}% of a core, p99 ${last.latency_ms.p99} ms): repeating`,
    );
    last = await relayStep(s, rate, okPer);
    attempts++;
    if (last.other_busy_pct < step.other_busy_pct) step = last; // keep the least contended attempt
  }
  const l = step.latency_ms;
  log(
    `${label(s)}: RELAY ${rate}/s: sent ${step.sent_per_s}/s delivered ${step.delivered_per_s}/s loss ${step.loss_pct}%; ` +
      `p50 ${l.p50} p99 ${l.p99} p999 ${l.p999} max ${l.max} ms; probe p99 ${step.server_probe.rtt_ms.p99} max ${step.server_probe.rtt_ms.max} ms; server ${step.server_cpu_pct}% (${step.server_cpu_sys_pct}% sys, ${step.server_cpu_us_per_msg} us/msg); ` +
      `gens ${step.generator_cpu_pct.join('/')}%; machine ${step.machine_busy_pct}% (other ${step.other_busy_pct}%)` +
      `${step.generator_saturated ? ' [GENERATOR SATURATED]' : ''}${step.contended ? ' [CONTENDED]' : ''}`,
  );
  return { ...step, attempts };
}

/** What is left after the sweep: connections still joined, drops and errors over the whole scenario. */
export async function afterStep(s: Stage) {
  const after = await Promise.all(s.gens.map((x) => x.request<StatsEv>({ cmd: 'stats' }, 'stats')));
  return {
    still_joined: after.reduce((a, x) => a + x.joined, 0),
    dropped: after.reduce((a, x) => addCounts(a, x.dropped), counts()),
    server_errors: after.reduce((a, x) => addCounts(a, x.serverErrors), counts()),
    rss_hwm_kib: serverHwm(s.server),
  };
}

export type AfterRecord = Awaited<ReturnType<typeof afterStep>>;
