// Faults under load, measured (`npm run bench:faults -- --help`): a two-node
// cluster (real processes, throwaway PostgreSQL and redis-server) carries a
// signaling load with acknowledged writes and WebRTC media bots while four
// faults are injected one after another: a mediasoup worker SIGKILLed,
// PostgreSQL restarted, Redis restarted empty, the webhook receiver stalled.
// For each: time to recover, participants affected, acknowledged rows lost,
// webhook events lost / reordered / duplicated. bench/README.md ("Faults")
// explains every number. Results: bench/faults/results/<timestamp>.json and
// latest.json; the Markdown table for docs/reliability.md at the end.

import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TokenIssuer } from '../../server/edges/auth/tokens.js';
import { testKeys } from '../../test/support/keys.js';
import { isolated, reexecIsolated } from '../shared/netns.js';
import { gitCommit, machineInfo } from '../shared/results.js';
import { parseOptions, type FaultName, type Options } from './args.js';
import { startCluster, WEBHOOK_SECRET, type Cluster } from './cluster.js';
import { killWorker, restartPostgres, restartRedis, stallWebhooks, type FaultContext, type FaultResult } from './faults.js';
import { SignalingLoad } from './load.js';
import { MediaLoad } from './media.js';
import { WebhookReceiver } from './receiver.js';
import { markdownTable, writeRecord, type FaultRecordEntry } from './report.js';
import { verifyEvents, verifyRows, waitDelivered } from './verify.js';

const HERE = path.dirname(fileURLToPath(import.meta.url)); // dist/bench/faults
const REPO = path.resolve(HERE, '../../..');
const SERVER_MAIN = path.join(REPO, 'dist/server/main.js');

const RUNNERS: Record<FaultName, (ctx: FaultContext) => Promise<FaultResult>> = {
  worker: killWorker,
  postgres: restartPostgres,
  redis: restartRedis,
  webhooks: stallWebhooks,
};

const T0 = Date.now();
const log = (msg: string) => process.stderr.write(`[bench:faults ${((Date.now() - T0) / 1000).toFixed(1).padStart(6)}s] ${msg}\n`);
const bounded = <T>(p: Promise<T>, ms: number) => Promise.race([p, new Promise<void>((r) => setTimeout(r, ms))]);

let stopping = false;
let cluster: Cluster | null = null;
let load: SignalingLoad | null = null;
let media: MediaLoad | null = null;
const receiver = new WebhookReceiver(WEBHOOK_SECRET);
const record: Record<string, unknown> = {};
const faults: FaultRecordEntry[] = [];

/** Stops everything we started, each step bounded. */
async function cleanup(): Promise<void> {
  await bounded(media?.stop() ?? Promise.resolve(), 10_000);
  await bounded(load?.stop() ?? Promise.resolve(), 20_000);
  await bounded(cluster?.stop() ?? Promise.resolve(), 30_000);
  cluster?.killAllSync();
  await bounded(receiver.stop(), 2000);
}

function finish(opts: Options, code: number): never {
  record['faults'] = faults;
  record['table'] = markdownTable(faults);
  record['finished_at'] = new Date().toISOString();
  record['duration_s'] = Math.round((Date.now() - T0) / 1000);
  (record['machine'] as Record<string, unknown>)['loadavg_end'] = loadavg();
  const file = writeRecord(opts.outDir, new Date(T0), opts.label, record);
  process.stdout.write(`${JSON.stringify(record, null, 2)}\n`);
  log(`results: ${file}`);
  process.stderr.write(`\n${record['table']}\n\n`);
  process.exit(code);
}

async function abort(opts: Options, reason: string, code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  log(`stopping: ${reason}`);
  record['aborted'] = reason;
  await cleanup().catch(() => undefined);
  finish(opts, code);
}

async function main(opts: Options): Promise<void> {
  if (!existsSync(SERVER_MAIN)) throw new Error(`${SERVER_MAIN} not found: build first (npx tsc -p .)`);
  const prefix = `f${randomBytes(2).toString('hex')}-`;
  Object.assign(record, {
    bench: 'faults',
    label: opts.label || null,
    started_at: new Date(T0).toISOString(),
    git_commit: gitCommit(REPO, ['server', 'signaling', 'sfu']),
    machine: { ...machineInfo(), loadavg_start: loadavg() },
    network: 'private namespace (unshare -n), loopback only',
    params: { ...opts, outDir: undefined },
    note: 'All processes (two nodes with two mediasoup workers each, PostgreSQL, redis-server, the load, the WebRTC bots, the webhook receiver) share this machine; box_load of each fault says how busy it was and how much of that was others.',
  });

  const issuer = await TokenIssuer.fromPrivateKeyFile(testKeys().privateKeyFile, { audience: 'switchboard', issuer: null });
  const mint = async (user: string) => (await issuer.mint({ userId: user, role: 'speaker', ttlSeconds: 4 * 3600 })).token;
  await receiver.start();
  cluster = await startCluster({ webhookUrl: receiver.url, serverEnv: opts.serverEnv, log });
  const urls = cluster.nodes.map((n) => n.url);
  record['cluster'] = {
    nodes: cluster.nodes.map((n) => ({ id: n.id, url: n.url })),
    postgres: { version: cluster.pg.version, settings: cluster.pg.settings },
    env: Object.fromEntries(Object.entries(cluster.env).filter(([k]) => !/SECRET|URL/.test(k))),
  };

  log(`load: ${opts.participants} signaling participants in rooms of ${opts.roomSize}, ${opts.writeRate} writes/s`);
  load = new SignalingLoad({ urls, participants: opts.participants, roomSize: opts.roomSize, writeRate: opts.writeRate, mint, prefix });
  const joined = await load.start();
  log(`load: ${joined} of ${opts.participants} joined`);
  if (opts.mediaBots > 0) {
    log(`media: ${opts.mediaBots} WebRTC bots in rooms of ${opts.mediaRoomSize}`);
    media = new MediaLoad({ urls, bots: opts.mediaBots, roomSize: opts.mediaRoomSize, mint, prefix });
    await media.start();
    const flowing = await media.waitAllMedia(90_000, () => stopping);
    log(`media: ${flowing ? 'every bot receives every other bot of its room' : 'NOT every bot receives media (measuring anyway)'}`);
  }
  record['load'] = {
    participants: opts.participants,
    rooms: load.rooms.length,
    joined_at_start: joined,
    media_bots: opts.mediaBots,
    media_rooms: media?.rooms.length ?? 0,
  };

  const ctx: FaultContext = { opts, cluster, load, media, receiver, mint, prefix, log, stopped: () => stopping };
  for (const name of opts.only) {
    if (stopping) break;
    try {
      faults.push(await RUNNERS[name](ctx));
    } catch (err) {
      log(`${name}: FAILED: ${(err as Error)?.stack ?? err}`);
      faults.push({ fault: name, error: String((err as Error)?.message ?? err) });
    }
  }
  if (stopping) return;

  log('verifying acknowledged rows (everyone still connected: an emptied room would clear its whiteboard)');
  await load.quiesce();
  const windows = faults.filter((f) => f.to_ms !== undefined).map((f) => ({ name: f.fault, to_ms: f.to_ms! }));
  const rows = await verifyRows(cluster.pg.url, load, windows);
  await bounded(media?.stop() ?? Promise.resolve(), 10_000);
  await load.stop();
  log('waiting for the last webhook events');
  const missing = await waitDelivered(cluster.pg.url, receiver, opts.drainTimeoutSeconds * 1000, () => stopping);
  if (missing !== 0) log(`webhooks: ${missing} events still not received after ${opts.drainTimeoutSeconds} s`);
  const { events, receivedNotInOutbox } = await verifyEvents(cluster.pg.url, load, receiver, windows);
  for (const f of faults) {
    f.rows = rows[f.fault];
    f.events = events[f.fault];
  }
  record['after_last_fault'] = { rows: rows['after'] ?? null, events: events['after'] ?? null };
  record['webhooks'] = {
    received: receiver.events.size,
    duplicates: receiver.duplicates.length,
    bad_signatures: receiver.badSignatures,
    received_not_in_outbox: receivedNotInOutbox,
    missing_at_end: missing,
  };
  await cleanup();
  finish(opts, 0);
}

const opts = parseOptions(process.argv.slice(2), REPO);
if (!isolated()) {
  reexecIsolated('bench-faults', fileURLToPath(import.meta.url));
} else {
  process.on('SIGINT', () => void abort(opts, 'SIGINT', 130));
  process.on('SIGTERM', () => void abort(opts, 'SIGTERM', 143));
  // Nothing we started may outlive us, whatever the way out.
  process.on('exit', () => cluster?.killAllSync());
  setTimeout(() => void abort(opts, `time limit of ${opts.maxMinutes} minutes`, 1), opts.maxMinutes * 60_000).unref();
  main(opts).catch((err) => void abort(opts, String((err as Error)?.stack ?? err), 1));
}
