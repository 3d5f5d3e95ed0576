// One scenario on a fresh server: start the server and the generators (each
// owns whole rooms), take the memory baseline, run the steps (steps.ts),
// stop everything. What it measures goes into `out` as it happens, so an
// aborted run still writes what there was.

import { randomBytes } from 'node:crypto';
import type { QuietWait } from '../shared/boxload.js';
import type { Ctx } from './context.js';
import { Generator } from './generators.js';
import type { InitCmd, ReadyEv } from './ipc.js';
import { ServerProbe } from './probe.js';
import { openInspectors, serverRss, serverRssAnon, waitQuiet } from './sampling.js';
import { AUDIENCE, Keeper, serverLogSummary, startServer, stopServer } from './server.js';
import {
  afterStep,
  holdStep,
  joinStep,
  relaySweep,
  type AfterRecord,
  type Baseline,
  type HoldRecord,
  type JoinRecord,
  type RelayEntry,
} from './steps.js';
import { log, sleep } from './util.js';

/** A scenario's part of the record (fields in the order they are filled). */
export interface ScenarioRecord {
  name: string;
  connections?: number;
  room_size?: number;
  rooms?: number;
  generators?: number;
  concurrency?: number;
  quiet_wait_before_start?: QuietWait | null;
  tokens?: { minted: number; wall_ms: number };
  join?: JoinRecord;
  hold?: HoldRecord;
  relay?: RelayEntry[];
  after?: AfterRecord;
  server_exit?: number | null;
  server_log?: Record<string, unknown>;
  error?: string;
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
  log(`${name}: ${connections} connections in ${rooms} rooms of ${roomSize}, ${g} generator(s)`);
  out.quiet_wait_before_start = await waitQuiet(name, null, [], ctx);
  log(`${name}: starting server`);

  const server = await startServer(opts, ctx.tmp, name, connections, ctx.databaseUrl, ctx.keys, ctx.redisUrl);
  const keeper = new Keeper(server);
  const gens: Generator[] = [];
  let closeProbe = () => {};
  const stopAll = async () => {
    keeper.stop();
    closeProbe();
    await stopServer(server).catch(() => {});
    await Promise.all(gens.map((x) => x.exit().catch(() => {})));
  };
  ctx.activeStop = stopAll;
  try {
    await sleep(2000);
    // Full GC before the baseline (startup garbage) and before the held reading.
    const inspector = await openInspectors(server, opts.processes); // multiproc: every process
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
    const roomPrefix = `bench-${name}-${randomBytes(3).toString('hex')}-`;

    // Generators own whole rooms.
    let first = 0;
    const inits: InitCmd[] = [];
    for (let i = 0; i < g; i++) {
      const count = Math.floor(rooms / g) + (i < rooms % g ? 1 : 0);
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
    out.tokens = { minted: ready.reduce((a, r) => a + r.tokens, 0), wall_ms: Date.now() - mintStart };
    log(`${name}: ${out.tokens.minted} tokens minted in ${out.tokens.wall_ms} ms; joining at concurrency ${opts.concurrency}`);

    const stage = { name, ctx, server, keeper, gens, probe, connections };
    const { record: join, joins } = await joinStep(stage);
    out.join = join;
    out.hold = await holdStep(stage, base);
    out.relay = [];
    await relaySweep(
      stage,
      rates,
      joins.map((x) => x.ok),
      out.relay,
    );
    out.after = await afterStep(stage);
  } finally {
    if (server.exitCode !== undefined) out.server_exit = server.exitCode;
    log(`${name}: stopping server and generators`);
    await stopAll();
    ctx.activeStop = null;
    out.server_log = serverLogSummary(server.logFile);
  }
}
