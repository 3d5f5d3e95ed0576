// bench/calls: call setups per second and setup latency with many reachable
// users on one node. A setup is invite -> the callee's device rings -> it
// accepts -> the caller hears call-accepted and the callee is in the call;
// each call lasts --hold-ms and the caller hangs up. Steps of rising rate;
// each records the latency (p50/p99), what failed, the server's CPU per
// setup, and the other load on the box (a step run while the box was busy is
// marked contended). Usage: node dist/bench/calls/run.js --help

import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort } from '../../test/support/net.js';
import { startPostgres, type PostgresServer } from '../../test/support/postgres.js';
import { spawnServer, type ServerProcess } from '../../test/support/process.js';
import { testKeys } from '../../test/support/keys.js';
import { loadBetween, sampleLoad, type BoxLoad } from '../shared/boxload.js';
import { gitCommit, machineInfo, resultStamp, writeResultFiles } from '../shared/results.js';
import { Histogram, type LatencySummaryMs } from '../signaling/histogram.js';
import { procCpuSeconds } from '../signaling/procstat.js';
import type { FromGenerator, ReadyEv, StepDoneEv, ToGenerator } from './ipc.js';

const HERE = path.dirname(fileURLToPath(import.meta.url)); // dist/bench/calls
const REPO = path.resolve(HERE, '../../..');
const HELP = `bench/calls: call setups per second and setup latency
  --users N            reachable users (authenticated connections), default 5000
  --procs N            generator processes, default 2
  --rates LIST         setups per second, comma-separated, default 25,50,100,150
  --step-seconds S     seconds per rate step, default 15
  --hold-ms MS         how long each call lasts, default 1000
  --database KIND      postgres (default) or pglite
  --contended-pct P    other load (% of one core) above which a step is marked contended, default 30
  --out-dir DIR        default bench/calls/results
  --label TEXT         added to the result file name`;

interface Options {
  users: number;
  procs: number;
  rates: number[];
  stepSeconds: number;
  holdMs: number;
  database: 'postgres' | 'pglite';
  contendedPct: number;
  outDir: string;
  label: string | null;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      users: { type: 'string', default: '5000' },
      procs: { type: 'string', default: '2' },
      rates: { type: 'string', default: '25,50,100,150' },
      'step-seconds': { type: 'string', default: '15' },
      'hold-ms': { type: 'string', default: '1000' },
      database: { type: 'string', default: 'postgres' },
      'contended-pct': { type: 'string', default: '30' },
      'out-dir': { type: 'string', default: path.join(REPO, 'bench/calls/results') },
      label: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  const database = values.database;
  if (database !== 'postgres' && database !== 'pglite') throw new Error('--database is postgres or pglite');
  return {
    users: Number(values.users),
    procs: Number(values.procs),
    rates: values.rates.split(',').map(Number),
    stepSeconds: Number(values['step-seconds']),
    holdMs: Number(values['hold-ms']),
    database,
    contendedPct: Number(values['contended-pct']),
    outDir: values['out-dir'],
    label: values.label ?? null,
  };
}

const log = (msg: string) => console.log(`[bench/calls ${new Date().toISOString().slice(11, 19)}] ${msg}`);

class Generator {
  private waiting: ((m: FromGenerator) => void) | null = null;
  constructor(readonly child: ChildProcess) {
    child.on('message', (m: FromGenerator) => {
      if (m.ev === 'log') log(m.msg);
      else this.waiting?.(m);
    });
  }
  static start(): Generator {
    return new Generator(fork(path.join(HERE, 'generator.js'), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  }
  ask<T extends FromGenerator>(cmd: ToGenerator): Promise<T> {
    return new Promise((resolve) => {
      this.waiting = (m) => resolve(m as T);
      this.child.send(cmd);
    });
  }
}

interface StepRecord {
  rate: number;
  seconds: number;
  started: number;
  completed: number;
  failed: number;
  skipped: number;
  achieved_per_s: number;
  errors: Record<string, number>;
  setup_ms: LatencySummaryMs;
  ring_ms: LatencySummaryMs;
  server_cpu_ms_per_setup: number | null;
  server_cpu_pct: number;
  generator_loop_p99_ms: number;
  box: BoxLoad;
  contended: boolean;
}

async function main(): Promise<void> {
  const opts = options();
  const keys = testKeys();
  let pg: PostgresServer | null = null;
  let server: ServerProcess | null = null;
  const gens: Generator[] = [];
  try {
    if (opts.database === 'postgres') {
      log('starting PostgreSQL');
      pg = await startPostgres();
    }
    const port = await freePort();
    log(`starting the server (${opts.database}, ${opts.users} users)`);
    server = await spawnServer(
      {
        PORT: String(port),
        LOG_LEVEL: 'warn',
        MAX_CONNECTIONS: String(opts.users + 100),
        MAX_UNAUTHENTICATED_PER_IP: String(opts.users + 100),
        CALL_RING_SECONDS: '30',
        CALL_INVITES_PER_MINUTE: '10000',
        RATE_LIMIT_PER_SECOND: '100',
        RATE_LIMIT_BURST: '200',
        ...(pg ? { DATABASE_URL: pg.url } : {}),
      },
      { readyUrl: `http://127.0.0.1:${port}/health`, maxOutputChars: 20_000 },
    );
    const serverPid = server.child.pid ?? 0;
    const privatePem = readFileSync(keys.privateKeyFile, 'utf8');
    const per = Math.floor(opts.users / opts.procs);
    for (let i = 0; i < opts.procs; i++) gens.push(Generator.start());
    const ready = await Promise.all(
      gens.map((g, i) =>
        g.ask<ReadyEv>({
          cmd: 'init',
          url: server!.url,
          privatePem,
          audience: 'switchboard',
          first: i * per,
          count: per,
          concurrency: 100,
        }),
      ),
    );
    const connected = ready.reduce((n, r) => n + r.connected, 0);
    log(
      `${connected} users reachable (${ready.reduce((n, r) => n + r.failed, 0)} failed) in ${Math.max(...ready.map((r) => r.seconds)).toFixed(1)} s`,
    );
    const steps: StepRecord[] = [];
    for (const rate of opts.rates) {
      log(`step: ${rate} setups/s for ${opts.stepSeconds} s`);
      const cpu0 = procCpuSeconds(serverPid);
      const load0 = sampleLoad();
      const done = await Promise.all(
        gens.map((g) =>
          g.ask<StepDoneEv>({ cmd: 'step', rate: rate / opts.procs, seconds: opts.stepSeconds, holdMs: opts.holdMs, timeoutMs: 10_000 }),
        ),
      );
      const load1 = sampleLoad();
      const cpu1 = procCpuSeconds(serverPid);
      const setup = new Histogram();
      const ring = new Histogram();
      const errors: Record<string, number> = {};
      for (const d of done) {
        setup.merge(d.setup);
        ring.merge(d.ring);
        for (const [k, v] of Object.entries(d.errors)) errors[k] = (errors[k] ?? 0) + v;
      }
      const sum = (k: 'started' | 'completed' | 'failed' | 'skipped') => done.reduce((n, d) => n + d[k], 0);
      log(`  users idle after the step: ${done.map((d) => `${d.idle_after}/${d.users}`).join(', ')}`);
      const box = loadBetween(load0, load1);
      const serverCpu = cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : null;
      const record: StepRecord = {
        rate,
        seconds: opts.stepSeconds,
        started: sum('started'),
        completed: sum('completed'),
        failed: sum('failed'),
        skipped: sum('skipped'),
        achieved_per_s: Math.round((sum('completed') / opts.stepSeconds) * 10) / 10,
        errors,
        setup_ms: setup.summaryMs(),
        ring_ms: ring.summaryMs(),
        server_cpu_ms_per_setup:
          serverCpu !== null && sum('completed') > 0 ? Math.round((serverCpu * 1e6) / sum('completed')) / 1000 : null,
        server_cpu_pct: serverCpu !== null ? Math.round((serverCpu / box.wall_s) * 1000) / 10 : 0,
        generator_loop_p99_ms: Math.round(Math.max(...done.map((d) => d.loop_p99_ms)) * 10) / 10,
        box,
        contended: box.other_pct > opts.contendedPct,
      };
      steps.push(record);
      log(
        `  ${record.completed}/${record.started} done, ${record.failed} failed; setup p50 ${record.setup_ms.p50} ms p99 ${record.setup_ms.p99} ms; ` +
          `server ${record.server_cpu_pct}% CPU, ${record.server_cpu_ms_per_setup} ms/setup; other load ${box.other_pct}%${record.contended ? ' (contended)' : ''}`,
      );
    }
    const at = new Date();
    const record = {
      bench: 'calls',
      at: at.toISOString(),
      commit: gitCommit(REPO, ['server', 'signaling', 'bench/calls']),
      machine: machineInfo(),
      params: { ...opts, connected },
      target: 'p99 setup < 200 ms at 100 setups/s',
      steps,
    };
    const name = `${resultStamp(at)}${opts.label ? `-${opts.label}` : ''}`;
    const file = writeResultFiles(opts.outDir, name, record);
    log(`results: ${file}`);
  } finally {
    for (const g of gens) g.child.kill('SIGKILL');
    server?.child.kill('SIGTERM');
    await server?.exited;
    await pg?.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
