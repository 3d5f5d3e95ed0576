// Several processes per node: what each worker process of
// a node gets. Each is a full cluster member of its own: NODE_ID
// `<node>-p<i>`, its own internal HTTP port (node-to-node REST forwarding,
// HLS fetches, scraping), its own share of the node's mediasoup workers and
// RTC ports. The node's totals stay what was configured.

import type { Config } from '../../kernel/config.js';
import { processNodeId } from './processRouting.js';

export interface WorkerPlan {
  index: number;
  nodeId: string;
  /** 0: any free port (PORT=0, tests). */
  internalPort: number;
  rtcWorkers: number;
  rtcPort: number;
  env: Record<string, string>;
  execArgv: string[];
}

/** Splits `total` mediasoup workers over `processes` (the first ones take the rest); at least 1 each unless total is 0. */
export function splitRtcWorkers(total: number, processes: number): number[] {
  if (total === 0) return Array.from({ length: processes }, () => 0);
  const base = Math.floor(total / processes);
  return Array.from({ length: processes }, (_, i) => Math.max(1, base + (i < total % processes ? 1 : 0)));
}

/**
 * `--inspect[=[host:]port]` of the primary becomes `--inspect=host:<port + 1 + i>`
 * in worker i (one debugger port each); other node flags are passed on as they are.
 */
export function workerExecArgv(execArgv: string[], index: number): string[] {
  const out: string[] = [];
  for (const arg of execArgv) {
    const m = /^--inspect(-brk)?(?:=(?:(.+):)?(\d+))?$/.exec(arg);
    if (!m) {
      out.push(arg);
      continue;
    }
    const port = Number(m[3] ?? 9229);
    out.push(`--inspect=${m[2] ?? '127.0.0.1'}:${port === 0 ? 0 : port + 1 + index}`);
  }
  return out;
}

/** The URL other nodes reach worker i at: NODE_PUBLIC_URL with the worker's internal port (null: the worker derives it). */
function workerPublicUrl(publicUrl: string | null, port: number): string | null {
  if (!publicUrl || port === 0) return null;
  const url = new URL(publicUrl);
  url.port = String(port);
  return url.toString().replace(/\/$/, '');
}

export function planWorkers(config: Config, env: Record<string, string | undefined>, execArgv: string[]): WorkerPlan[] {
  const { count, internalPortBase } = config.processes;
  const rtc = splitRtcWorkers(config.sfu.workers, count);
  let rtcOffset = 0;
  return rtc.map((rtcWorkers, index) => {
    const internalPort = internalPortBase === 0 ? 0 : internalPortBase + index;
    const rtcPort = config.sfu.port === 0 ? 0 : config.sfu.port + rtcOffset;
    rtcOffset += rtcWorkers;
    const nodeId = processNodeId(config.nodeId, index);
    const publicUrl = workerPublicUrl(config.cluster.publicUrl, internalPort);
    const workerEnv: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) if (v !== undefined) workerEnv[k] = v;
    delete workerEnv['NODE_PUBLIC_URL'];
    Object.assign(workerEnv, {
      NODE_ID: nodeId,
      PORT: String(internalPort),
      RTC_WORKERS: String(rtcWorkers),
      RTC_PORT: String(rtcPort),
      SWITCHBOARD_PROCESS_INDEX: String(index),
      SWITCHBOARD_PROCESS_NODE_ID: config.nodeId,
      ...(publicUrl ? { NODE_PUBLIC_URL: publicUrl } : {}),
    });
    return { index, nodeId, internalPort, rtcWorkers, rtcPort, env: workerEnv, execArgv: workerExecArgv(execArgv, index) };
  });
}
