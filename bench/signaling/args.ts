// Command line of the signaling bench (`npm run bench:signaling -- --help`).

import path from 'node:path';
import { parseArgs } from 'node:util';

export interface Options {
  connections: number;
  roomSize: number;
  rates: number[];
  smallConnections: number;
  smallRates: number[];
  only: string | null;
  concurrency: number;
  durationMs: number;
  warmupMs: number;
  drainMs: number;
  holdMs: number;
  joinTimeoutMs: number;
  sdpBytes: number;
  perGenerator: number;
  generators: number | null;
  sources: number;
  databaseUrl: string | null;
  startPostgres: boolean;
  postgresConf: string[];
  serverNodeFlags: string[];
  serverEnv: Record<string, string>;
  maxConnections: number | null;
  rateLimit: number;
  rssGc: boolean;
  processes: number;
  startRedis: boolean;
  redisUrl: string | null;
  urlToken: boolean;
  quietThreshold: number;
  quietMaxWaitMs: number;
  retries: number;
  label: string;
  outDir: string;
  maxMinutes: number;
  keepTmp: boolean;
  baseline: 'none' | 'bare';
  charts: boolean;
}

export const HELP = `Usage: npm run bench:signaling -- [options]
  (or: npx tsc -p . && node dist/bench/signaling/run.js [options])

Scenarios (each on a fresh server): "small" (latency without generator saturation), then "full".
  -n, --connections N        full scenario connections (default 20000)
  -k, --room-size K          participants per room (default 10)
      --rates LIST           full relay sweep, aggregate msg/s (default 5000,10000,20000,40000)
      --small-connections N  small scenario connections, 0 skips it (default 1000)
      --small-rates LIST     small relay sweep (default 1000,5000,10000)
      --only small|full      run one scenario
      --concurrency C        connection attempts in flight, all generators (default 100)
      --duration S           seconds per relay rate (default 15)
      --warmup S             first seconds of each rate left out of latency (default 1)
      --drain S              wait after each rate before counting losses (default 2)
      --hold S               idle seconds after joining, before RSS is read (default 5)
      --join-timeout S       per connection connect+auth+join timeout (default 30)
      --sdp-bytes B          sdp size of each offer (default 300)
Generators:
      --per-generator N      max connections per generator process (default 9000)
      --generators G         generator processes (default ceil(connections / per-generator))
      --sources S            client source addresses 127.0.0.2 .. 127.0.0.(S+1) (default 32)
Server:
      --database-url URL     PostgreSQL instead of the embedded PGlite
      --start-postgres       start a throwaway PostgreSQL 15 (initdb in a temp dir) and use it
      --postgres-conf LIST   extra postgres settings, e.g. "synchronous_commit=off,shared_buffers=256MB"
      --server-node-flags F  node flags for the server, e.g. "--max-semi-space-size=64"
      --gc-trace on|off      run the server (and the bare hub) with --trace-gc-nvp and record each relay step's
                             scavenges, bytes promoted per relayed message and GC pauses (default on)
      --server-env LIST      extra server env, e.g. "PING_INTERVAL_MS=30000,MAX_SEND_BUFFER_BYTES=4194304"
      --max-connections M    server MAX_CONNECTIONS (default connections + 100)
      --rate-limit R         server RATE_LIMIT_PER_SECOND per connection (default 1000; burst 2x)
      --processes N          NODE_PROCESSES: N server processes behind the one port (default 1); N > 1 needs
                             Redis and PostgreSQL (started by the bench unless --redis-url/--database-url)
      --start-redis          start a throwaway redis-server (test/support/redis.ts) and use it (REDIS_URL)
      --redis-url URL        an existing Redis instead
      --url-token            send each token as ?token= on the WebSocket URL instead of an auth message
      --rss-gc on|off        force a full GC in the server (via --inspect on 127.0.0.1) before each
                             RSS reading (default on)
Anchor:
      --baseline none|bare   bare: every scenario also runs against a bare ws hub (bench/signaling/bareHub.ts:
                             ws + jose RS256 + rooms in memory + relay) with the same generators, tokens and
                             rates, phase by phase beside Switchboard, and the record carries the ratios
                             switchboard/bare (default none)
Shared machine (other processes' CPU = machine busy - server - generators - database):
      --quiet-threshold P    before each phase wait until other processes use < P% of one core
                             (0 = never wait; default 30); a relay rate measured while they used
                             more is repeated (see --retries) and flagged "contended"
      --quiet-max-wait S     longest wait for a quiet machine before measuring anyway (default 300)
      --retries R            extra attempts of a contended relay rate (default 2)
Output:
      --label L              added to the result file name and record
      --out-dir DIR          results directory (default bench/signaling/results)
      --max-minutes M        abort (and write partial results) after M minutes (default 90)
      --keep-tmp             keep the temp dir (server log, data dir)
      --charts on|off        PNG + SVG charts beside the record (headless Chromium; default on)
  -h, --help`;

function int(name: string, raw: string | undefined, min: number, max: number): number {
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max) {
    process.stderr.write(`--${name} must be an integer between ${min} and ${max} (got "${raw}")\n`);
    process.exit(2);
  }
  return v;
}
const num = (name: string, raw: string | undefined, min: number) => {
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min) {
    process.stderr.write(`--${name} must be a number >= ${min}\n`);
    process.exit(2);
  }
  return v;
};
const list = (name: string, raw: string) => (raw.trim() === '' ? [] : raw.split(',').map((s) => int(name, s.trim(), 1, 1_000_000)));
const pairs = (raw: string) =>
  raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** Parses and checks the flags; exits 2 with a message on a bad one, 0 after --help. */
export function parseOptions(argvIn: string[], repo: string): Options {
  // `--server-node-flags "--x=1"`: the value starts with a dash, which parseArgs would refuse.
  const argv = [...argvIn];
  for (let i = 0; i < argv.length - 1; i++) {
    if (argv[i] === '--server-node-flags') argv.splice(i, 2, `--server-node-flags=${argv[i + 1]}`);
  }

  const { values: args } = parseArgs({
    args: argv,
    options: {
      connections: { type: 'string', short: 'n', default: '20000' },
      'room-size': { type: 'string', short: 'k', default: '10' },
      rates: { type: 'string', default: '5000,10000,20000,40000' },
      'small-connections': { type: 'string', default: '1000' },
      'small-rates': { type: 'string', default: '1000,5000,10000' },
      only: { type: 'string' },
      concurrency: { type: 'string', default: '100' },
      duration: { type: 'string', default: '15' },
      warmup: { type: 'string', default: '1' },
      drain: { type: 'string', default: '2' },
      hold: { type: 'string', default: '5' },
      'join-timeout': { type: 'string', default: '30' },
      'sdp-bytes': { type: 'string', default: '300' },
      'per-generator': { type: 'string', default: '9000' },
      generators: { type: 'string' },
      sources: { type: 'string', default: '32' },
      'database-url': { type: 'string' },
      'start-postgres': { type: 'boolean', default: false },
      'postgres-conf': { type: 'string', default: '' },
      'server-node-flags': { type: 'string', default: '' },
      'server-env': { type: 'string', default: '' },
      'max-connections': { type: 'string' },
      'rate-limit': { type: 'string', default: '1000' },
      'rss-gc': { type: 'string', default: 'on' },
      processes: { type: 'string', default: '1' },
      'start-redis': { type: 'boolean', default: false },
      'redis-url': { type: 'string' },
      'url-token': { type: 'boolean', default: false },
      'quiet-threshold': { type: 'string', default: '30' },
      'quiet-max-wait': { type: 'string', default: '300' },
      retries: { type: 'string', default: '2' },
      label: { type: 'string', default: '' },
      'out-dir': { type: 'string', default: path.join(repo, 'bench/signaling/results') },
      'max-minutes': { type: 'string', default: '90' },
      'keep-tmp': { type: 'boolean', default: false },
      baseline: { type: 'string', default: 'none' },
      charts: { type: 'string', default: 'on' },
      'gc-trace': { type: 'string', default: 'on' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });

  if (args.help) {
    process.stdout.write(`${HELP}\n`);
    process.exit(0);
  }

  const opts: Options = {
    connections: int('connections', args.connections, 2, 200_000),
    roomSize: int('room-size', args['room-size'], 2, 1000),
    rates: list('rates', args.rates),
    smallConnections: int('small-connections', args['small-connections'], 0, 200_000),
    smallRates: list('small-rates', args['small-rates']),
    only: args.only ?? null,
    concurrency: int('concurrency', args.concurrency, 1, 100_000),
    durationMs: num('duration', args.duration, 1) * 1000,
    warmupMs: num('warmup', args.warmup, 0) * 1000,
    drainMs: num('drain', args.drain, 0) * 1000,
    holdMs: num('hold', args.hold, 0) * 1000,
    joinTimeoutMs: num('join-timeout', args['join-timeout'], 1) * 1000,
    sdpBytes: int('sdp-bytes', args['sdp-bytes'], 40, 30_000),
    perGenerator: int('per-generator', args['per-generator'], 1, 19_000),
    generators: args.generators ? int('generators', args.generators, 1, 64) : null,
    sources: int('sources', args.sources, 1, 250),
    databaseUrl: args['database-url'] ?? null,
    startPostgres: args['start-postgres'],
    postgresConf: pairs(args['postgres-conf']),
    serverNodeFlags: [...args['server-node-flags'].split(/\s+/).filter(Boolean), ...(args['gc-trace'] !== 'off' ? ['--trace-gc-nvp'] : [])],
    serverEnv: Object.fromEntries(pairs(args['server-env']).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])),
    maxConnections: args['max-connections'] ? int('max-connections', args['max-connections'], 1, 10_000_000) : null,
    rateLimit: int('rate-limit', args['rate-limit'], 1, 100_000),
    rssGc: args['rss-gc'] !== 'off',
    processes: int('processes', args.processes, 1, 64),
    startRedis: args['start-redis'],
    redisUrl: args['redis-url'] ?? null,
    urlToken: args['url-token'],
    quietThreshold: num('quiet-threshold', args['quiet-threshold'], 0),
    quietMaxWaitMs: num('quiet-max-wait', args['quiet-max-wait'], 0) * 1000,
    retries: int('retries', args.retries, 0, 10),
    label: args.label.replace(/[^A-Za-z0-9_.-]/g, '-'),
    outDir: path.resolve(args['out-dir']),
    maxMinutes: num('max-minutes', args['max-minutes'], 0.1),
    keepTmp: args['keep-tmp'],
    baseline: args.baseline === 'bare' ? 'bare' : 'none',
    charts: args.charts !== 'off',
  };
  if (args.baseline !== 'none' && args.baseline !== 'bare') {
    process.stderr.write('--baseline must be none or bare\n');
    process.exit(2);
  }
  if (opts.baseline === 'bare' && opts.processes > 1) {
    process.stderr.write('--baseline bare compares one server process with one bare hub process: use --processes 1\n');
    process.exit(2);
  }
  if (opts.only && opts.only !== 'small' && opts.only !== 'full') {
    process.stderr.write('--only must be small or full\n');
    process.exit(2);
  }
  if (opts.redisUrl && opts.startRedis) {
    process.stderr.write('use either --redis-url or --start-redis\n');
    process.exit(2);
  }
  // Several processes per node need a cluster's Redis and PostgreSQL: started here unless given.
  if (opts.processes > 1 && !opts.redisUrl) opts.startRedis = true;
  if (opts.processes > 1 && !opts.databaseUrl) opts.startPostgres = true;
  if (opts.databaseUrl && opts.startPostgres) {
    process.stderr.write('use either --database-url or --start-postgres\n');
    process.exit(2);
  }
  return opts;
}
