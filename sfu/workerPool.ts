// One mediasoup worker per core, each with a WebRtcServer so a node needs one
// UDP and one TCP port per worker. A worker that dies is replaced on the same
// ports; its routers close, and the rooms using them rebuild (sfu-reset).
//
// A worker can also stop answering while its process lives on: a request that
// throws while mediasoup builds it leaves the worker's shared request builder
// half-built, after which every request on that worker fails; or the process
// hangs. A health check (a cheap request on a timer, and at once after an
// unexpected mediasoup error) finds such a worker, and it is closed and
// replaced exactly like a dead one.

import { EventEmitter } from 'node:events';
import * as mediasoup from 'mediasoup';
import type { Router, WebRtcServer, Worker, WorkerLogLevel } from 'mediasoup/types';
import type { Logger } from '../server/kernel/logger.js';

export interface WorkerPoolOptions {
  workers: number;
  listenIp: string;
  announcedAddress: string | null;
  /** Worker i listens on port + i; 0 = a free port from the worker's range. */
  port: number;
  workerBin: string;
  logLevel: WorkerLogLevel;
  log: Logger;
  /** Milliseconds between health checks of each worker; 0 = no periodic check. */
  checkIntervalMs: number;
  /** A health check not answered within this many milliseconds fails. */
  checkTimeoutMs: number;
}

/** Consecutive failed health checks after which a worker is replaced. */
export const CHECK_FAILURES_TO_REPLACE = 2;
/** After a failed check, the next one runs this soon instead of a full interval later. */
const RECHECK_MS = 500;

export type ReplaceReason = 'died' | 'unhealthy';

export class WorkerSlot {
  /** Consumers on this worker's routers: the load that placement balances. */
  consumers = 0;
  /** Consumers reserved for receivers placed here that have not consumed yet. */
  pending = 0;
  readonly routers = new Set<Router>();
  /** Health checks failed in a row. */
  failedChecks = 0;
  /** A check is in flight (or queued): no second one is started. */
  checking = false;
  /** Why the worker went, once it is being replaced. */
  lost: ReplaceReason | null = null;

  constructor(
    readonly index: number,
    readonly worker: Worker,
    readonly webRtcServer: WebRtcServer,
  ) {}

  get pid(): number {
    return this.worker.pid;
  }
}

export class WorkerPool extends EventEmitter<{ 'worker-replaced': [slot: WorkerSlot] }> {
  readonly slots: WorkerSlot[] = [];
  /** Counters for the metrics endpoint. */
  readonly stats = { replaced: { died: 0, unhealthy: 0 } as Record<ReplaceReason, number>, failedChecks: 0 };
  private closed = false;
  private checkTimer: NodeJS.Timeout | null = null;

  private constructor(private readonly opts: WorkerPoolOptions) {
    super();
  }

  static async start(opts: WorkerPoolOptions): Promise<WorkerPool> {
    const pool = new WorkerPool(opts);
    try {
      for (let i = 0; i < opts.workers; i++) pool.slots.push(await pool.startWorker(i));
    } catch (err) {
      pool.close();
      throw err;
    }
    opts.log.info({ workers: opts.workers, pids: pool.slots.map((s) => s.pid), port: opts.port }, 'mediasoup workers started');
    if (opts.checkIntervalMs > 0) {
      pool.checkTimer = setInterval(() => {
        for (const slot of pool.slots) void pool.check(slot);
      }, opts.checkIntervalMs).unref();
    }
    return pool;
  }

  private async startWorker(index: number): Promise<WorkerSlot> {
    const { opts } = this;
    const worker = await mediasoup.createWorker({
      workerBin: opts.workerBin,
      logLevel: opts.logLevel,
      appData: { index },
    });
    const port = opts.port > 0 ? opts.port + index : undefined;
    const listen = (protocol: 'udp' | 'tcp') => ({
      protocol,
      ip: opts.listenIp,
      ...(opts.announcedAddress ? { announcedAddress: opts.announcedAddress } : {}),
      ...(port !== undefined ? { port } : {}),
      // Keyframe bursts to many subscribers overflow the default socket buffers.
      ...(protocol === 'udp' ? { recvBufferSize: 4 * 1024 * 1024, sendBufferSize: 4 * 1024 * 1024 } : {}),
    });
    let webRtcServer: WebRtcServer;
    try {
      webRtcServer = await worker.createWebRtcServer({ listenInfos: [listen('udp'), listen('tcp')] });
    } catch (err) {
      worker.close();
      throw err;
    }
    const slot = new WorkerSlot(index, worker, webRtcServer);
    worker.on('died', (err) => this.onDied(slot, err));
    return slot;
  }

  /**
   * An unexpected error came back from mediasoup on this worker: check it now
   * rather than at the next tick (a wedged worker fails every request).
   */
  suspect(slot: WorkerSlot, err: unknown): void {
    if (this.closed || slot.lost || slot.checking || this.slots[slot.index] !== slot) return;
    this.opts.log.warn({ err, worker: slot.index, pid: slot.pid }, 'unexpected mediasoup error: checking the worker');
    void this.check(slot);
  }

  /**
   * One health check: a resource-usage request must be answered within the
   * timeout. CHECK_FAILURES_TO_REPLACE failures in a row (rechecked quickly
   * after the first) replace the worker. Resolves true when it answered.
   */
  async check(slot: WorkerSlot): Promise<boolean> {
    if (this.closed || slot.lost || slot.checking || slot.worker.closed) return true;
    slot.checking = true;
    let timer: NodeJS.Timeout | undefined;
    let error: unknown = null;
    try {
      await Promise.race([
        slot.worker.getResourceUsage(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${this.opts.checkTimeoutMs} ms`)), this.opts.checkTimeoutMs);
        }),
      ]);
    } catch (err) {
      error = err;
    } finally {
      clearTimeout(timer);
      slot.checking = false;
    }
    if (this.closed || slot.lost || slot.worker.closed) return error === null;
    if (error === null) {
      slot.failedChecks = 0;
      return true;
    }
    slot.failedChecks++;
    this.stats.failedChecks++;
    this.opts.log.warn(
      { err: error, worker: slot.index, pid: slot.pid, failed: slot.failedChecks },
      'mediasoup worker health check failed',
    );
    if (slot.failedChecks >= CHECK_FAILURES_TO_REPLACE) {
      this.replace(slot, 'unhealthy', error);
    } else {
      setTimeout(() => void this.check(slot), RECHECK_MS).unref();
    }
    return false;
  }

  /**
   * Closes a worker that no longer answers and starts another in its slot.
   * Closing it closes its routers ('workerclose'), as a death does, so the
   * rooms on it rebuild the same way.
   */
  private replace(slot: WorkerSlot, reason: 'unhealthy', err: unknown): void {
    if (slot.lost) return;
    slot.lost = reason;
    this.opts.log.error({ err, worker: slot.index, pid: slot.pid, reason }, 'mediasoup worker unhealthy; replacing it');
    const pid = slot.pid;
    try {
      slot.worker.close(); // closes its routers first, then tells the process
    } catch (closeErr) {
      // With a broken request builder even close()'s last notification throws;
      // the routers are closed by then, and the process goes below.
      this.opts.log.warn({ err: closeErr, worker: slot.index }, 'closing the unhealthy worker threw');
    }
    // A hung process may not act on close()'s SIGTERM. It is still our unreaped
    // child in this tick, so the pid cannot belong to anyone else yet.
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
    this.restart(slot, reason);
  }

  private onDied(slot: WorkerSlot, err: Error): void {
    if (this.closed || slot.lost) return;
    slot.lost = 'died';
    this.opts.log.error({ err, worker: slot.index, pid: slot.pid }, 'mediasoup worker died; replacing it');
    // Routers of a dead worker close themselves ('workerclose'); rooms rebuild from there.
    this.restart(slot, 'died');
  }

  private restart(slot: WorkerSlot, reason: ReplaceReason): void {
    this.stats.replaced[reason]++;
    const retry = (attempt: number) => {
      this.startWorker(slot.index).then(
        (fresh) => {
          if (this.closed) return fresh.worker.close();
          this.slots[slot.index] = fresh;
          this.opts.log.info({ worker: fresh.index, pid: fresh.pid }, 'mediasoup worker replaced');
          this.emit('worker-replaced', fresh);
        },
        (startErr) => {
          this.opts.log.error({ err: startErr, worker: slot.index, attempt }, 'could not replace mediasoup worker');
          if (attempt < 10) setTimeout(() => retry(attempt + 1), 1000 * attempt).unref();
        },
      );
    };
    retry(1);
  }

  /** The live worker with the fewest consumers, preferring ones not in `avoid`. */
  leastLoaded(avoid: Set<WorkerSlot> = new Set()): WorkerSlot {
    const live = this.slots.filter((s) => !s.worker.closed);
    if (live.length === 0) throw new Error('no mediasoup worker is running');
    const fresh = live.filter((s) => !avoid.has(s));
    const pool = fresh.length > 0 ? fresh : live;
    return pool.reduce((best, s) => (s.consumers + s.pending < best.consumers + best.pending ? s : best));
  }

  /** Per-worker CPU time (ms) and memory, from the workers' own resource usage. */
  async usage(): Promise<Array<{ index: number; pid: number; cpu_ms: number; rss_kb: number; routers: number; consumers: number }>> {
    return Promise.all(
      this.slots.map(async (s) => {
        const u = await s.worker.getResourceUsage();
        return {
          index: s.index,
          pid: s.pid,
          cpu_ms: u.ru_utime + u.ru_stime,
          rss_kb: u.ru_maxrss,
          routers: s.routers.size,
          consumers: s.consumers,
        };
      }),
    );
  }

  close(): void {
    this.closed = true;
    if (this.checkTimer) clearInterval(this.checkTimer);
    for (const s of this.slots) {
      try {
        s.worker.close();
      } catch {
        // A worker with a broken request builder throws from close() after
        // closing its routers: end its process directly (see replace()).
        try {
          process.kill(s.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  }
}

/** Consumers on this node's workers, placed or reserved: what the node budget limits. */
export function nodeLoad(pool: WorkerPool): number {
  return pool.slots.reduce((n, s) => n + s.consumers + s.pending, 0);
}
