// One mediasoup worker per core, each with a WebRtcServer so a node needs one
// UDP and one TCP port per worker. A worker that dies is replaced on the same
// ports; its routers close, and the rooms using them rebuild (sfu-reset).

import { EventEmitter } from 'node:events';
import * as mediasoup from 'mediasoup';
import type { Router, WebRtcServer, Worker, WorkerLogLevel } from 'mediasoup/types';
import type { Logger } from '../server/logger.js';

export interface WorkerPoolOptions {
  workers: number;
  listenIp: string;
  announcedAddress: string | null;
  /** Worker i listens on port + i; 0 = a free port from the worker's range. */
  port: number;
  workerBin: string;
  logLevel: WorkerLogLevel;
  log: Logger;
}

export class WorkerSlot {
  /** Consumers on this worker's routers: the load that placement balances. */
  consumers = 0;
  /** Consumers reserved for receivers placed here that have not consumed yet. */
  pending = 0;
  readonly routers = new Set<Router>();

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
  private closed = false;

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

  private onDied(slot: WorkerSlot, err: Error): void {
    if (this.closed) return;
    this.opts.log.error({ err, worker: slot.index, pid: slot.pid }, 'mediasoup worker died; replacing it');
    // Routers of a dead worker close themselves ('workerclose'); rooms rebuild from there.
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
        return { index: s.index, pid: s.pid, cpu_ms: u.ru_utime + u.ru_stime, rss_kb: u.ru_maxrss, routers: s.routers.size, consumers: s.consumers };
      }),
    );
  }

  close(): void {
    this.closed = true;
    for (const s of this.slots) s.worker.close();
  }
}
