// The four faults. Each runs in its own window with the load going on:
// baseline, injection, a bounded wait for recovery, a short tail; what is
// measured from the injection is returned, the rest (rows lost, webhook
// events) is checked by verify.ts after the run.

import { procCpuSeconds } from '../signaling/procstat.js';
import { loadBetween, sampleLoad, waitQuiet, type BoxLoad, type QuietWait } from '../shared/boxload.js';
import type { Options } from './args.js';
import type { Cluster } from './cluster.js';
import { query } from './db.js';
import type { SignalingLoad } from './load.js';
import type { MediaLoad, MediaWindow } from './media.js';
import { Probe, ProbeClient, type Recovery } from './probe.js';
import type { WebhookReceiver } from './receiver.js';

export interface FaultContext {
  opts: Options;
  cluster: Cluster;
  load: SignalingLoad;
  media: MediaLoad | null;
  receiver: WebhookReceiver;
  mint: (user: string) => Promise<string>;
  prefix: string;
  log: (msg: string) => void;
  stopped: () => boolean;
}

export interface LoadWindow {
  acked: Record<string, number>;
  /** "op:code" -> count */
  refused: Record<string, number>;
  participants_refused: number;
  disconnects: number;
  participants_disconnected: number;
  disconnect_codes: Record<string, number>;
  joined_at_end: number;
  participants: number;
}

export interface FaultResult {
  fault: string;
  started_at: string;
  injected_at: string;
  /** Wall ms (Date.now()) of the injection and of the window's end: verify.ts assigns rows and events by them. */
  from_ms: number;
  to_ms: number;
  quiet_wait: QuietWait | null;
  box_load: { baseline: BoxLoad | null; fault: BoxLoad };
  /** The headline: ms from the injection until recovered (see `recovery_means`); null: not recovered in time. */
  recovery_ms: number | null;
  recovery_means: string;
  recovered: boolean;
  load: LoadWindow;
  media: MediaWindow | null;
  detail: Record<string, unknown>;
  notes: string[];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function count<T>(items: T[], key: (x: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of items) out[key(x)] = (out[key(x)] ?? 0) + 1;
  return out;
}

function loadWindow(load: SignalingLoad, from: number, to: number): LoadWindow {
  const inWindow = <T extends { at: number }>(xs: T[]) => xs.filter((x) => x.at >= from && x.at <= to);
  const refusals = inWindow(load.refusals);
  const disconnects = inWindow(load.disconnects);
  return {
    acked: count(inWindow(load.acked), (a) => a.kind),
    refused: count(refusals, (r) => `${r.op}:${r.code}`),
    participants_refused: new Set(refusals.map((r) => r.user)).size,
    disconnects: disconnects.length,
    participants_disconnected: new Set(disconnects.map((d) => d.user)).size,
    disconnect_codes: count(disconnects, (d) => String(d.code)),
    joined_at_end: load.joined(),
    participants: load.members.length,
  };
}

/** Waits until `done()` or the deadline; returns whether it was done. */
async function until(done: () => boolean | Promise<boolean>, deadline: number, stopped: () => boolean): Promise<boolean> {
  for (;;) {
    if (await done()) return true;
    if (Date.now() > deadline || stopped()) return false;
    await sleep(200);
  }
}

/** Quiet box, baseline, then `body` (injection and recovery); the window's common numbers around it. */
async function runWindow(
  ctx: FaultContext,
  fault: string,
  body: (
    t0: () => number,
  ) => Promise<
    Omit<FaultResult, 'fault' | 'started_at' | 'injected_at' | 'from_ms' | 'to_ms' | 'quiet_wait' | 'box_load' | 'load' | 'media'>
  >,
): Promise<FaultResult> {
  const started = new Date();
  ctx.log(`${fault}: waiting for a quiet box`);
  const quiet = await waitQuiet({
    thresholdPct: ctx.opts.quietThreshold,
    maxWaitMs: ctx.opts.quietMaxWaitSeconds * 1000,
    label: fault,
    log: ctx.log,
    stopped: ctx.stopped,
  });
  if (ctx.media) await ctx.media.waitAllMedia(30_000, ctx.stopped);
  const b0 = sampleLoad();
  ctx.log(`${fault}: baseline ${ctx.opts.baselineSeconds} s`);
  await sleep(ctx.opts.baselineSeconds * 1000);
  const b1 = sampleLoad();
  let injectedAt = 0;
  const out = await body(() => (injectedAt = Date.now()));
  await sleep(3000); // a short tail: late refusals and disconnections belong to this fault
  const to = Date.now();
  const from = injectedAt || to;
  const result: FaultResult = {
    fault,
    started_at: started.toISOString(),
    injected_at: new Date(from).toISOString(),
    from_ms: from,
    to_ms: to,
    quiet_wait: quiet,
    box_load: { baseline: ctx.opts.baselineSeconds > 0 ? loadBetween(b0, b1) : null, fault: loadBetween(b1, sampleLoad()) },
    ...out,
    load: loadWindow(ctx.load, from, to),
    media: ctx.media ? ctx.media.window(from, to) : null,
  };
  ctx.log(
    `${fault}: ${result.recovered ? `recovered after ${result.recovery_ms} ms` : 'NOT recovered'} (${result.recovery_means}); ` +
      `refused ${JSON.stringify(result.load.refused)}, disconnected ${result.load.participants_disconnected}` +
      (result.media ? `, media: ${result.media.reset} reset, ${result.media.lost_media} lost media` : ''),
  );
  return result;
}

// ---- 1. a mediasoup worker dies -----------------------------------------------------

export function killWorker(ctx: FaultContext): Promise<FaultResult> {
  return runWindow(ctx, 'worker', async (inject) => {
    const owners = await ctx.cluster.roomOwners();
    const mediaRooms = ctx.media?.rooms ?? [];
    // The node running most media rooms; of its workers, the busiest (the one carrying media).
    const perNode = ctx.cluster.nodes.map((n) => mediaRooms.filter((r) => owners?.get(r) === n.id).length);
    const node = ctx.cluster.nodes[perNode.indexOf(Math.max(...perNode))];
    const workers = ctx.cluster
      .mediasoupWorkers(node)
      .map((pid) => ({ pid, cpu: procCpuSeconds(pid) ?? 0 }))
      .sort((a, b) => b.cpu - a.cpu);
    if (workers.length === 0) throw new Error(`no mediasoup worker found under node ${node.id}`);
    const victim = workers[0];
    ctx.log(
      `worker: SIGKILL mediasoup worker ${victim.pid} of ${node.id} (${workers.length} workers; media rooms per node ${perNode.join('/')})`,
    );
    const t0 = inject();
    process.kill(victim.pid, 'SIGKILL');
    const deadline = t0 + ctx.opts.recoveryTimeoutSeconds * 1000;
    let replacedMs: number | null = null;
    await until(
      () => {
        const now = ctx.cluster.mediasoupWorkers(node);
        if (replacedMs === null && now.length >= workers.length && !now.includes(victim.pid)) replacedMs = Date.now() - t0;
        return replacedMs !== null && Date.now() - t0 > 3000 && (ctx.media?.allHaveMedia() ?? true);
      },
      deadline,
      ctx.stopped,
    );
    const media = ctx.media?.window(t0, Date.now()) ?? null;
    const recoveryMs = media ? media.back_in_media_ms : replacedMs;
    return {
      recovery_ms: recoveryMs,
      recovery_means: media
        ? 'every affected media bot decodes video from every other bot of its room again'
        : 'the worker was replaced (no media bots)',
      recovered: recoveryMs !== null,
      detail: {
        node: node.id,
        killed_pid: victim.pid,
        workers_before: workers.map((w) => w.pid),
        media_rooms_per_node: Object.fromEntries(ctx.cluster.nodes.map((n, i) => [n.id, perNode[i]])),
        worker_replaced_ms: replacedMs,
      },
      notes: [],
    };
  });
}

// ---- 2. PostgreSQL restarts ---------------------------------------------------------

export function restartPostgres(ctx: FaultContext): Promise<FaultResult> {
  return runWindow(ctx, 'postgres', async (inject) => {
    const [user, room] = [`${ctx.prefix}probe-writer`, `${ctx.prefix}probe-pg`];
    const writer = new ProbeClient(ctx.cluster.nodes[0].url, user, ctx.mint, room);
    await writer.ready();
    const write = new Probe('write', 200, async () => {
      const c = await writer.ready();
      const { stroke_id } = await c.request('whiteboard-draw', { stroke: { probe: true } }, 5000);
      ctx.load.record({ kind: 'stroke', at: Date.now(), room, user, stroke_id });
    }).start();
    const health = ctx.cluster.nodes.map((n) =>
      new Probe(`health ${n.id}`, 250, async () => {
        const h = await ctx.cluster.health(n);
        if (!h) throw new Error('no answer');
        if (h.http !== 200 || h.status !== 'ok') throw new Error(`status ${h.http} ${h.status} db ${h.database}`);
      }).start(),
    );
    await sleep(1000);
    try {
      const t0 = inject();
      ctx.log('postgres: fast shutdown');
      await ctx.cluster.pg.shutdown();
      const downMs = Date.now() - t0;
      await sleep(ctx.opts.outageSeconds * 1000);
      const startAt = Date.now();
      await ctx.cluster.pg.start();
      const upAt = Date.now();
      ctx.log(`postgres: down after ${downMs} ms, accepting connections again after ${upAt - t0} ms`);
      const deadline = t0 + ctx.opts.recoveryTimeoutSeconds * 1000;
      await until(() => write.recoveredSince(upAt) && health.every((p) => p.recoveredSince(upAt)), deadline, ctx.stopped);
      await sleep(1000);
      const writes = write.recovery(t0);
      const healthRec: Record<string, Recovery> = Object.fromEntries(health.map((p, i) => [ctx.cluster.nodes[i].id, p.recovery(t0)]));
      const healthMs = Object.values(healthRec).map((r) => r.recovered_ms);
      // A short restart can fall between two probe tries: the load's own refusals count too.
      const refusedAt = ctx.load.refusals.filter((r) => r.at >= t0).map((r) => r.at);
      const lastRefusal = Math.max(-1, ...refusedAt);
      const ackAfter = ctx.load.acked.find((a) => a.at > lastRefusal && a.at >= t0);
      const loadMs = refusedAt.length === 0 ? 0 : ackAfter ? ackAfter.at - t0 : null;
      const recoveryMs = writes.recovered_ms === null || loadMs === null ? null : Math.max(writes.recovered_ms, loadMs);
      return {
        recovery_ms: recoveryMs,
        recovery_means:
          "first acknowledged write after the last refused one (a probe draws a stroke every 200 ms; the load's writes count too)",
        recovered: recoveryMs !== null,
        detail: {
          shutdown_ms: downMs,
          start_ms: upAt - startAt,
          accepting_again_ms: upAt - t0,
          writes,
          load_writes_refused: refusedAt.length,
          load_first_ack_after_last_refusal_ms: loadMs,
          health: healthRec,
          health_ok_ms: healthMs.some((x) => x === null) ? null : Math.max(...(healthMs as number[])),
        },
        notes: [],
      };
    } finally {
      write.stop();
      for (const p of health) p.stop();
      await writer.close().catch(() => undefined);
    }
  });
}

// ---- 3. Redis restarts empty --------------------------------------------------------

export function restartRedis(ctx: FaultContext): Promise<FaultResult> {
  return runWindow(ctx, 'redis', async (inject) => {
    const [a, b] = ctx.cluster.nodes as [(typeof ctx.cluster.nodes)[0], (typeof ctx.cluster.nodes)[0]];
    // A new room placed (join of a room nobody is in, then leave), through node b.
    const placer = new ProbeClient(b.url, `${ctx.prefix}probe-placer`, ctx.mint, null);
    let n = 0;
    const place = new Probe('new room', 500, async () => {
      const c = await placer.ready();
      await c.request('join', { room: `${ctx.prefix}probe-new-${n++}` }, 5000);
      await c.request('leave', {}, 5000);
    }).start();
    // Relayed signaling: one member on each node, so one of them is relayed over Redis.
    const relayRoom = `${ctx.prefix}probe-relay`;
    const rx = new ProbeClient(a.url, `${ctx.prefix}probe-rx`, ctx.mint, relayRoom);
    const tx = new ProbeClient(b.url, `${ctx.prefix}probe-tx`, ctx.mint, relayRoom);
    await rx.ready();
    await tx.ready();
    let seq = 0;
    const relay = new Probe('relay', 200, async () => {
      const [r, t] = [await rx.ready(), await tx.ready()];
      const mine = seq++;
      const got = r.next('data', (p) => (p.data as { seq?: number } | null)?.seq === mine, 3000);
      got.catch(() => undefined);
      await t.request('send-data', { topic: 'probe', data: { seq: mine } }, 3000);
      await got;
    }).start();
    const clusterView = new Probe('cluster view', 500, async () => {
      if (!(await ctx.cluster.roomOwners())) throw new Error('no cluster view');
    }).start();
    await sleep(1500);
    try {
      const t0 = inject();
      ctx.log('redis: SIGKILL redis-server');
      await ctx.cluster.redis.kill();
      await sleep(ctx.opts.outageSeconds * 1000);
      await ctx.cluster.redis.start();
      const upAt = Date.now();
      ctx.log(`redis: started again (empty) after ${upAt - t0} ms`);
      const deadline = t0 + ctx.opts.recoveryTimeoutSeconds * 1000;
      await until(
        () => place.recoveredSince(upAt) && relay.recoveredSince(upAt) && clusterView.recoveredSince(upAt),
        deadline,
        ctx.stopped,
      );
      await sleep(2000);
      const placement = place.recovery(t0);
      const relayed = relay.recovery(t0);
      const view = clusterView.recovery(t0);
      const worst = [placement.recovered_ms, relayed.recovered_ms];
      return {
        recovery_ms: worst.some((x) => x === null) ? null : Math.max(...(worst as number[])),
        recovery_means: 'a new room can be placed (probed every 500 ms) and relayed send-data arrives (every 200 ms), whichever is later',
        recovered: !worst.some((x) => x === null),
        detail: { restarted_after_ms: upAt - t0, new_room: placement, relayed_signaling: relayed, cluster_view: view },
        notes: [],
      };
    } finally {
      place.stop();
      relay.stop();
      clusterView.stop();
      await Promise.all([placer.close(), rx.close(), tx.close()].map((p) => p.catch(() => undefined)));
    }
  });
}

// ---- 4. the webhook receiver stalls -------------------------------------------------

export function stallWebhooks(ctx: FaultContext): Promise<FaultResult> {
  return runWindow(ctx, 'webhooks', async (inject) => {
    const { receiver } = ctx;
    const half = (ctx.opts.stallSeconds * 1000) / 2;
    const refused0 = { ...receiver.refused };
    const t0 = inject();
    ctx.log(`webhooks: receiver hangs for ${half / 1000} s, then answers 503 for ${half / 1000} s`);
    receiver.setMode('hang');
    await until(() => false, t0 + half, ctx.stopped);
    receiver.setMode('unavailable');
    await until(() => false, t0 + 2 * half, ctx.stopped);
    receiver.setMode('ok');
    const stallEnd = Date.now();
    const url = ctx.cluster.pg.url;
    const [{ max_id: maxId, pending }] = (await query<{ max_id: string | null; pending: string }>(
      url,
      'SELECT max(id)::text AS max_id, count(*) FILTER (WHERE delivered_at IS NULL AND failed_at IS NULL)::text AS pending FROM webhook_outbox',
    )) as [{ max_id: string | null; pending: string }];
    const [{ produced }] = (await query<{ produced: string }>(
      url,
      'SELECT count(*)::text AS produced FROM webhook_outbox WHERE created_at >= to_timestamp($1 / 1000.0) AND created_at <= to_timestamp($2 / 1000.0)',
      [t0, stallEnd],
    )) as [{ produced: string }];
    ctx.log(`webhooks: receiver answers again; backlog ${pending} events (${produced} produced during the stall)`);
    // Drained: every event stored before the stall ended has reached the receiver.
    let missing = -1;
    const drained = await until(
      async () => {
        const rows = await query<{ event_id: string }>(
          url,
          'SELECT DISTINCT event_id::text AS event_id FROM webhook_outbox WHERE id <= $1',
          [maxId ?? '0'],
        ).catch(() => null);
        if (!rows) return false;
        missing = rows.filter((r) => !receiver.events.has(r.event_id)).length;
        return missing === 0;
      },
      stallEnd + ctx.opts.drainTimeoutSeconds * 1000,
      ctx.stopped,
    );
    const drainMs = drained ? Date.now() - stallEnd : null;
    ctx.log(
      `webhooks: ${drained ? `backlog delivered ${drainMs} ms after the stall` : `${missing} events still missing after ${ctx.opts.drainTimeoutSeconds} s`}`,
    );
    return {
      recovery_ms: drainMs,
      recovery_means: 'from the end of the stall until every event stored before it reached the receiver',
      recovered: drained,
      detail: {
        stall_s: ctx.opts.stallSeconds,
        deliveries_left_hanging: receiver.refused.hang - refused0.hang,
        deliveries_answered_503: receiver.refused.unavailable - refused0.unavailable,
        backlog_at_stall_end: Number(pending),
        events_produced_during_stall: Number(produced),
        drain_ms: drainMs,
        missing_at_drain_timeout: drained ? 0 : missing,
      },
      notes: [],
    };
  });
}
