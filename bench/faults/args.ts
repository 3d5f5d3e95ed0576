// Command line of the faults bench (`node dist/bench/faults/run.js --help`).

import path from 'node:path';
import { parseArgs } from 'node:util';

export const FAULTS = ['worker', 'postgres', 'redis', 'webhooks'] as const;
export type FaultName = (typeof FAULTS)[number];

export interface Options {
  only: FaultName[];
  participants: number;
  roomSize: number;
  mediaBots: number;
  mediaRoomSize: number;
  /** Acknowledged-write operations per second over the whole load (joins/leaves, strokes, hands). */
  writeRate: number;
  stallSeconds: number;
  /** How long PostgreSQL / Redis stay down between stop and start (0: restart at once). */
  outageSeconds: number;
  baselineSeconds: number;
  recoveryTimeoutSeconds: number;
  drainTimeoutSeconds: number;
  serverEnv: Record<string, string>;
  quietThreshold: number;
  quietMaxWaitSeconds: number;
  maxMinutes: number;
  label: string;
  outDir: string;
}

export const HELP = `Usage: npm run bench:faults -- [options]
  (or: npx tsc -p . && node dist/bench/faults/run.js [options])

Runs a two-node cluster (real processes, throwaway PostgreSQL and redis-server)
under load and injects each fault in its own window: worker (SIGKILL a
mediasoup worker), postgres (fast restart), redis (kill, start empty),
webhooks (receiver stalls). bench/README.md ("Faults") explains every number.

Load:
  --participants N        signaling participants (default 200)
  --room-size K           participants per signaling room (default 10)
  --media-bots M          WebRTC bots (VP8 + Opus, each consumes the others of its room;
                          ~8-10% of a core each on a 2-core box) (default 12, 0 = none)
  --media-room-size S     bots per media room (default 3)
  --write-rate R          acknowledged-write operations per second (join/leave churn,
                          whiteboard strokes, raise/lower hand) (default 6)
Faults:
  --only LIST             faults to run, comma separated (default worker,postgres,redis,webhooks)
  --stall-seconds S       webhook receiver stall: first half hangs, second half answers 503 (default 120)
  --outage-seconds S      PostgreSQL / Redis stay down this long before starting again (default 0)
  --baseline-seconds S    load before each fault, for the baseline (default 5)
  --recovery-timeout S    longest wait for recovery after a fault (default 120)
  --drain-timeout S       longest wait for the webhook backlog after a stall, and at the end (default 360)
Server:
  --server-env LIST       extra env for both nodes, e.g. "WEBHOOK_RETRY_MAX_MS=30000"
Shared machine:
  --quiet-threshold P     before each fault wait until other processes use < P% of a core (default 30; 0 = never)
  --quiet-max-wait S      longest such wait (default 120)
Output:
  --max-minutes M         stop everything and write a partial record after M minutes (default 60)
  --label L               added to the result file name and record
  --out-dir DIR           results directory (default bench/faults/results)
  -h, --help`;

function fail(msg: string): never {
  process.stderr.write(`${msg}\n`);
  process.exit(2);
}

function int(name: string, raw: string | undefined, min: number, max: number): number {
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max) fail(`--${name} must be an integer between ${min} and ${max} (got "${raw}")`);
  return v;
}

function num(name: string, raw: string | undefined, min: number): number {
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min) fail(`--${name} must be a number >= ${min} (got "${raw}")`);
  return v;
}

export function parseOptions(argv: string[], repo: string): Options {
  const { values: a } = parseArgs({
    args: argv,
    options: {
      only: { type: 'string', default: FAULTS.join(',') },
      participants: { type: 'string', default: '200' },
      'room-size': { type: 'string', default: '10' },
      'media-bots': { type: 'string', default: '12' },
      'media-room-size': { type: 'string', default: '3' },
      'write-rate': { type: 'string', default: '6' },
      'stall-seconds': { type: 'string', default: '120' },
      'outage-seconds': { type: 'string', default: '0' },
      'baseline-seconds': { type: 'string', default: '5' },
      'recovery-timeout': { type: 'string', default: '120' },
      'drain-timeout': { type: 'string', default: '360' },
      'server-env': { type: 'string', default: '' },
      'quiet-threshold': { type: 'string', default: '30' },
      'quiet-max-wait': { type: 'string', default: '120' },
      'max-minutes': { type: 'string', default: '60' },
      label: { type: 'string', default: '' },
      'out-dir': { type: 'string', default: path.join(repo, 'bench/faults/results') },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (a.help) {
    process.stdout.write(`${HELP}\n`);
    process.exit(0);
  }
  const only = a.only
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const f of only) if (!(FAULTS as readonly string[]).includes(f)) fail(`--only: unknown fault "${f}" (${FAULTS.join(', ')})`);
  const serverEnv: Record<string, string> = {};
  for (const kv of a['server-env']
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const eq = kv.indexOf('=');
    if (eq <= 0) fail(`--server-env: "${kv}" is not NAME=value`);
    serverEnv[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const roomSize = int('room-size', a['room-size'], 3, 100);
  return {
    only: FAULTS.filter((f) => only.includes(f)),
    participants: int('participants', a.participants, roomSize, 5000),
    roomSize,
    mediaBots: int('media-bots', a['media-bots'], 0, 100),
    mediaRoomSize: int('media-room-size', a['media-room-size'], 2, 10),
    writeRate: num('write-rate', a['write-rate'], 0.1),
    stallSeconds: num('stall-seconds', a['stall-seconds'], 1),
    outageSeconds: num('outage-seconds', a['outage-seconds'], 0),
    baselineSeconds: num('baseline-seconds', a['baseline-seconds'], 0),
    recoveryTimeoutSeconds: num('recovery-timeout', a['recovery-timeout'], 5),
    drainTimeoutSeconds: num('drain-timeout', a['drain-timeout'], 5),
    serverEnv,
    quietThreshold: num('quiet-threshold', a['quiet-threshold'], 0),
    quietMaxWaitSeconds: num('quiet-max-wait', a['quiet-max-wait'], 0),
    maxMinutes: num('max-minutes', a['max-minutes'], 0.1),
    label: a.label.replace(/[^A-Za-z0-9_.-]/g, '-'),
    outDir: path.resolve(a['out-dir']),
  };
}
