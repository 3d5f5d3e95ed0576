// One scenario on a fresh server: start the server and the generators (each
// owns whole rooms), take the memory baseline, run the steps (steps.ts),
// stop everything. What it measures goes into `out` as it happens, so an
// aborted run still writes what there was.
//
// With --baseline bare the bare hub (bareHub.ts) runs beside the server with
// its own generators (same rooms, same key and claims, same rates), both alive
// for the whole scenario, and each phase runs once on each, back to back: the
// joins (bare hub first: its held connections cost nothing while the server
// joins, where the server's keep-alive pings would run during the hub's joins),
// the hold readings, then every relay rate on both, alternating which goes
// first (S B, B S, S B, ...) so a drift of the box does not favour one side.
// The idle one's CPU counts as the bench's own, not as other load.

import { randomBytes } from 'node:crypto';
import type { QuietWait } from '../shared/boxload.js';
import { compareTargets, type AnchorRecord } from './anchor.js';
import type { Ctx } from './context.js';
import { Generator } from './generators.js';
import type { InitCmd, ReadyEv } from './ipc.js';
import { ServerProbe } from './probe.js';
import { openInspectors, serverRss, serverRssAnon, waitQuiet } from './sampling.js';
import { AUDIENCE, Keeper, serverLogSummary, startBareHub, startServer, stopServer, type TargetKind } from './server.js';
import {
  afterStep,
  holdStep,
  joinStep,
  relayRate,
  relaySweep,
  type AfterRecord,
  type Baseline,
  type HoldRecord,
  type JoinRecord,
  type RelayEntry,
  type Stage,
} from './steps.js';
import { log, sleep } from './util.js';

/** What one target (the server, or the bare hub) measured in a scenario. */
export interface TargetRecord {
  tokens?: { minted: number; wall_ms: number };
  join?: JoinRecord;
  hold?: HoldRecord;
  relay?: RelayEntry[];
  after?: AfterRecord;
  server_exit?: number | null;
  server_log?: Record<string, unknown>;
}

/** A scenario's part of the record (fields in the order they are filled): Switchboard's numbers, then the bare hub's. */
export interface ScenarioRecord extends TargetRecord {
  name: string;
  connections?: number;
  room_size?: number;
  rooms?: number;
  generators?: number;
  concurrency?: number;
  quiet_wait_before_start?: QuietWait | null;
  /** --baseline bare: the same phases against the bare hub, then the ratios switchboard/bare. */
  bare?: TargetRecord & { hub: string };
  anchor?: AnchorRecord;
  error?: string;
}

/** One target of a scenario, ready to measure. */
interface Target {
  stage: Stage;
  base: Baseline;
  rec: TargetRecord;
  okPer: number[];
}

interface Plan {
  name: string;
  connections: number;
  rooms: number;
  roomSize: number;
  generators: number;
  roomPrefix: string;
}

/** Starts a target and its generators and probe, takes its memory baseline, mints the tokens. */
async function prepare(kind: TargetKind, plan: Plan, ctx: Ctx, rec: TargetRecord, stops: Array<() => Promise<void>>): Promise<Target> {
  const { opts } = ctx;
  const { name, rooms, roomSize, roomPrefix } = plan;
  const label = kind === 'bare' ? `${name} [bare]` : name;
  log(`${label}: starting ${kind === 'bare' ? 'the bare hub' : 'server'}`);
  const server =
    kind === 'bare'
      ? await startBareHub(opts, ctx.tmp, name, ctx.keys)
      : await startServer(opts, ctx.tmp, name, plan.connections, ctx.databaseUrl, ctx.keys, ctx.redisUrl);
  const keeper = new Keeper(server);
  const gens: Generator[] = [];
  let closeProbe = () => {};
  stops.push(async () => {
    keeper.stop();
    closeProbe();
    if (server.exitCode !== undefined) rec.server_exit = server.exitCode;
    await stopServer(server).catch(() => {});
    await Promise.all(gens.map((x) => x.exit().catch(() => {})));
    rec.server_log = serverLogSummary(server.logFile);
  });
  await sleep(2000);
  // Full GC before the baseline (startup garbage) and before the held reading.
  const inspector = await openInspectors(server, kind === 'bare' ? 1 : opts.processes); // multiproc: every process
  const gcBase = inspector ? await inspector.collectGarbage() : false;
  await sleep(500);
  const base: Baseline = {
    inspector,
    gc: gcBase,
    rss: serverRss(server),
    rssAnon: serverRssAnon(server),
    heap: inspector ? await inspector.heapUsed() : null,
  };
  const sources = Array.from({ length: opts.sources }, (_, i) => `127.0.0.${i + 2}`);

  // Generators own whole rooms.
  let first = 0;
  const inits: InitCmd[] = [];
  for (let i = 0; i < plan.generators; i++) {
    const count = Math.floor(rooms / plan.generators) + (i < rooms % plan.generators ? 1 : 0);
    gens.push(Generator.start(i, count * roomSize));
    inits.push({
      cmd: 'init',
      index: i,
      url: `${server.url.replace('http:', 'ws:')}/ws`,
      privatePem: ctx.keys.privatePem,
      audience: AUDIENCE,
      roomPrefix,
      firstRoom: first,
      roomCount: count,
      roomSize,
      sources,
      sdpBytes: opts.sdpBytes,
      urlToken: opts.urlToken,
    });
    first += count;
  }
  // The probe connects before the joins: at 20k connections the server may have no descriptor left for it.
  const probe = await ServerProbe.open(`${server.url.replace('http:', 'ws:')}/ws`, ctx.keys.privatePem, AUDIENCE);
  closeProbe = () => probe.close();
  const mintStart = Date.now();
  const ready = await Promise.all(gens.map((x, i) => x.request<ReadyEv>(inits[i], 'ready')));
  rec.tokens = { minted: ready.reduce((a, r) => a + r.tokens, 0), wall_ms: Date.now() - mintStart };
  log(`${label}: ${rec.tokens.minted} tokens minted in ${rec.tokens.wall_ms} ms`);
  const stage: Stage = { name, ctx, server, keeper, gens, probe, connections: plan.connections, twin: null };
  return { stage, base, rec, okPer: [] };
}

async function join(t: Target): Promise<void> {
  log(
    `${t.stage.server.kind === 'bare' ? `${t.stage.name} [bare]` : t.stage.name}: joining at concurrency ${t.stage.ctx.opts.concurrency}`,
  );
  const { record, joins } = await joinStep(t.stage);
  t.rec.join = record;
  t.okPer = joins.map((x) => x.ok);
}

export async function runScenario(
  name: string,
  requested: number,
  roomSize: number,
  rates: number[],
  ctx: Ctx,
  out: ScenarioRecord,
): Promise<void> {
  const opts = ctx.opts;
  const rooms = Math.floor(requested / roomSize);
  const connections = rooms * roomSize;
  const g = Math.min(rooms, opts.generators ?? Math.max(1, Math.ceil(connections / opts.perGenerator)));
  out.connections = connections;
  out.room_size = roomSize;
  out.rooms = rooms;
  out.generators = g;
  out.concurrency = opts.concurrency;
  log(
    `${name}: ${connections} connections in ${rooms} rooms of ${roomSize}, ${g} generator(s)` +
      (opts.baseline === 'bare' ? ', and the same again against the bare hub' : ''),
  );
  out.quiet_wait_before_start = await waitQuiet(name, null, [], ctx);
  const plan: Plan = { name, connections, rooms, roomSize, generators: g, roomPrefix: `bench-${name}-${randomBytes(3).toString('hex')}-` };

  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    await Promise.all(stops.splice(0).map((stop) => stop()));
  };
  ctx.activeStop = stopAll;
  try {
    const sw = await prepare('switchboard', plan, ctx, out, stops);
    if (opts.baseline !== 'bare') {
      await join(sw);
      out.hold = await holdStep(sw.stage, sw.base);
      out.relay = [];
      await relaySweep(sw.stage, rates, sw.okPer, out.relay);
      out.after = await afterStep(sw.stage);
      return;
    }
    out.bare = { hub: 'bench/signaling/bareHub.ts' };
    const bare = await prepare('bare', plan, ctx, out.bare, stops);
    sw.stage.twin = { server: bare.stage.server, gens: bare.stage.gens };
    bare.stage.twin = { server: sw.stage.server, gens: sw.stage.gens };
    await join(bare);
    await join(sw);
    out.hold = await holdStep(sw.stage, sw.base);
    out.bare.hold = await holdStep(bare.stage, bare.base);
    out.relay = [];
    out.bare.relay = [];
    const relays = { switchboard: out.relay, bare: out.bare.relay };
    for (const [i, rate] of rates.entries()) {
      // Even rates: Switchboard first; odd: the bare hub first (the anchor records which). Each entry is kept as it ends.
      let failed = false;
      for (const t of i % 2 === 0 ? [sw, bare] : [bare, sw]) {
        const entry = await relayRate(t.stage, rate, t.okPer);
        relays[t.stage.server.kind].push(entry);
        failed ||= 'error' in entry;
      }
      if (failed) break;
    }
    out.after = await afterStep(sw.stage);
    out.bare.after = await afterStep(bare.stage);
    out.anchor = compareTargets(out, out.bare, opts);
  } finally {
    log(`${name}: stopping ${opts.baseline === 'bare' ? 'the server, the bare hub' : 'the server'} and generators`);
    await stopAll();
    ctx.activeStop = null;
  }
}
