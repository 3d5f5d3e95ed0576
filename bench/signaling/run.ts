// Signaling hub capacity benchmark (`npm run bench:signaling -- --help`).
// Starts the real server (dist/server/main.js) as a child process, forks load
// generators that each own whole rooms, and measures: connect+auth+join rate
// and latency, server CPU per join, RSS per held connection, and offer relay
// latency/loss/CPU over a sweep of aggregate rates. bench/README.md explains
// every number. Results: bench/signaling/results/<timestamp>.json + latest.json,
// and charts beside them (<timestamp>-joins.png, -relay.png, -memory.png).
// --baseline bare runs every phase against a bare ws hub too (bareHub.ts) and
// records the ratios switchboard/bare (anchor.ts).
//
// Parts: args.ts (flags), server.ts and generators.ts (processes),
// sampling.ts (CPU, memory, quiet machine), scenario.ts and steps.ts (the
// measurements), report.ts (the record and its files).

import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { startPostgres } from '../../test/support/postgres.js';
import { startRedis } from '../../test/support/redis.js';
import { renderCharts } from '../shared/charts.js';
import { gitCommit } from '../shared/results.js';
import { compareTargets, ratioTable } from './anchor.js';
import { parseOptions } from './args.js';
import { signalingCharts } from './charts.js';
import type { Ctx } from './context.js';
import { machineRecord, paramsRecord, recordName, serverRecord, summarize, writeRecord, type BenchRecord } from './report.js';
import { runScenario, type ScenarioRecord } from './scenario.js';
import { children, REPO, SERVER_MAIN, type Keys } from './server.js';
import { log, T0 } from './util.js';

const opts = parseOptions(process.argv.slice(2), REPO);

let ctxGlobal: Ctx | null = null;
const result: BenchRecord = {};
let resultWritten = false;

function writeResult(): string | null {
  if (resultWritten) return null;
  resultWritten = true;
  // A scenario cut short (an error, Ctrl-C, --max-minutes) still gets the ratios of the phases it finished.
  for (const s of result.scenarios ?? []) if (s.bare && !s.anchor) s.anchor = compareTargets(s, s.bare, opts);
  return writeRecord(result, opts, T0);
}

let cleaningUp = false;
async function cleanup(): Promise<void> {
  if (cleaningUp) return;
  cleaningUp = true;
  if (ctxGlobal?.activeStop) await ctxGlobal.activeStop().catch(() => {});
  for (const child of children) child.kill('SIGKILL');
  if (ctxGlobal?.pg) await ctxGlobal.pg.stop().catch(() => {});
  if (ctxGlobal?.redis) await ctxGlobal.redis.stop().catch(() => {});
  if (ctxGlobal && !opts.keepTmp) rmSync(ctxGlobal.tmp, { recursive: true, force: true });
  else if (ctxGlobal) log(`temp dir kept: ${ctxGlobal.tmp}`);
}

async function abort(reason: string, code: number): Promise<never> {
  log(`aborting: ${reason}`);
  result.aborted = reason;
  await cleanup();
  const file = writeResult();
  if (file) log(`partial results: ${file}`);
  process.exit(code);
}

/** A fresh RSA key pair in the temp dir: the server checks tokens with it, the generators mint them. */
function makeKeys(tmp: string): Keys {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const keys: Keys = { privateKeyFile: path.join(tmp, 'private.pem'), publicKeyFile: path.join(tmp, 'public.pem'), privatePem: privateKey };
  writeFileSync(keys.privateKeyFile, privateKey, { mode: 0o600 });
  writeFileSync(keys.publicKeyFile, publicKey);
  return keys;
}

async function main(): Promise<void> {
  if (!existsSync(SERVER_MAIN)) throw new Error(`${SERVER_MAIN} not found: build first (npx tsc -p .)`);
  result.bench = 'signaling';
  result.started_at = new Date(T0).toISOString();
  result.label = opts.label || null;
  result.machine = machineRecord();
  result.params = paramsRecord(opts);
  const scenarios: ScenarioRecord[] = [];
  result.scenarios = scenarios;

  const tmp = mkdtempSync(path.join(tmpdir(), 'switchboard-bench-'));
  const ctx: Ctx = {
    opts,
    tmp,
    keys: makeKeys(tmp),
    databaseUrl: opts.databaseUrl,
    pg: null,
    redisUrl: opts.redisUrl,
    redis: null,
    cpus: cpus().length,
    activeStop: null,
  };
  ctxGlobal = ctx;

  if (opts.startPostgres) {
    log('starting a throwaway PostgreSQL');
    ctx.pg = await startPostgres({ settings: opts.postgresConf }); // durable defaults unless --postgres-conf says otherwise
    ctx.databaseUrl = ctx.pg.url;
    log(`PostgreSQL ${ctx.pg.version} at ${ctx.pg.url}`);
  }
  if (opts.startRedis) {
    ctx.redis = await startRedis(); // the tests' throwaway redis-server (no persistence)
    ctx.redisUrl = ctx.redis.url;
    log(`redis-server at ${ctx.redis.url}`);
  }
  result.server = serverRecord(opts, ctx, gitCommit(REPO, ['server', 'signaling']));

  const plan: Array<[string, number, number[]]> = [];
  if (opts.smallConnections > 0 && opts.only !== 'full') plan.push(['small', opts.smallConnections, opts.smallRates]);
  if (opts.only !== 'small') plan.push(['full', opts.connections, opts.rates]);
  for (const [name, n, rates] of plan) {
    const out: ScenarioRecord = { name };
    scenarios.push(out);
    try {
      await runScenario(name, n, opts.roomSize, rates, ctx, out);
    } catch (err) {
      out.error = String((err as Error)?.message ?? err);
      log(`${name}: FAILED: ${out.error}`);
    }
  }
  result.targets = summarize(result);
  await cleanup();
  if (opts.charts) {
    try {
      const written = await renderCharts(signalingCharts(scenarios, path.join(opts.outDir, recordName(opts, T0)), opts.baseline));
      result.charts = written.map((f) => path.basename(f));
    } catch (err) {
      result.charts_error = String((err as Error)?.message ?? err).slice(0, 500);
      log(`charts: FAILED: ${result.charts_error}`);
    }
  }
  const file = writeResult();
  log(`results: ${file}${result.charts?.length ? `; charts: ${result.charts.join(', ')}` : ''}`);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  const table = ratioTable(scenarios);
  if (table.length) process.stderr.write(`\n${table.join('\n')}\n`);
}

process.on('SIGINT', () => void abort('SIGINT', 130));
process.on('SIGTERM', () => void abort('SIGTERM', 143));
setTimeout(() => void abort(`time limit of ${opts.maxMinutes} minutes`, 1), opts.maxMinutes * 60_000).unref();

main().catch(async (err) => {
  await abort(String((err as Error)?.stack ?? err), 1);
});
