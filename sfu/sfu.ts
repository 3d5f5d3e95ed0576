// The SFU as the rooms domain sees it: start the worker pool, make a
// MediaRoom per room, report load.

import { EventEmitter } from 'node:events';
import { networkInterfaces } from 'node:os';
import type { Config } from '../server/kernel/config.js';
import type { Logger } from '../server/kernel/logger.js';
import { Cascade } from './cascade/cascade.js';
import { MediaAgent } from './cascade/mediaAgent.js';
import type { CascadeBus, CascadeNodes } from './cascade/wire.js';
import { MediaRoom } from './mediaRoom.js';
import { resolveWorkerBin } from './workerBinary.js';
import { WorkerPool } from './workerPool.js';

/** With RTC_LISTEN_IP 0.0.0.0 and no RTC_ANNOUNCED_IP, announce the first external IPv4 (or loopback). */
function defaultAnnouncedAddress(listenIp: string): string | null {
  if (listenIp !== '0.0.0.0' && listenIp !== '::') return null;
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

export class Sfu {
  /** Every MediaRoom made (recorders attach to it), mediasoup-style. */
  readonly observer = new EventEmitter<{ newroom: [MediaRoom] }>();
  /** Cluster mode: this node's side of cascading (owner of rooms, host of others' viewers). */
  cascade: { owner: Cascade; agent: MediaAgent; nodeConsumerBudget: number } | null = null;

  private constructor(
    readonly pool: WorkerPool,
    private readonly config: Config['sfu'],
    private readonly log: Logger,
    private readonly announcedAddress: string | null,
  ) {}

  /**
   * Joins this node to the cluster's media cascade: it hosts other owners'
   * viewers and, past its budget, sends its rooms' viewers to other nodes.
   */
  enableCascade(bus: CascadeBus, nodes: CascadeNodes, config: Config['cascade']): void {
    if (this.cascade || !config.enabled) return;
    const opts = {
      listenIp: this.config.listenIp,
      announcedAddress: config.address ?? this.announcedAddress,
      nodeConsumerBudget: config.nodeConsumerBudget,
      routerConsumerBudget: this.config.routerConsumerBudget,
      pingIntervalMs: config.pingIntervalMs,
      pingMisses: config.pingMisses,
      requestTimeoutMs: 10_000,
      portRange: config.portRange,
      idleRouterMs: config.idleSeconds * 1000,
    };
    this.cascade = {
      owner: new Cascade(bus, nodes, opts, this.log),
      agent: new MediaAgent(this.pool, bus, opts, this.log, nodes),
      nodeConsumerBudget: config.nodeConsumerBudget,
    };
    this.log.info({ node_budget: config.nodeConsumerBudget }, 'sfu cascade on');
  }

  /** Before the bus closes: owners of rooms hosted here hear that their viewers must move. */
  async closeCascade(): Promise<void> {
    if (!this.cascade) return;
    this.cascade.owner.close();
    await this.cascade.agent.close();
  }

  /** Starts the workers; null when RTC_WORKERS is 0 (signaling only). */
  static async start(config: Config['sfu'], log: Logger): Promise<Sfu | null> {
    if (config.workers === 0) return null;
    const announcedAddress = config.announcedAddress ?? defaultAnnouncedAddress(config.listenIp);
    const pool = await WorkerPool.start({
      workers: config.workers,
      listenIp: config.listenIp,
      announcedAddress,
      port: config.port,
      workerBin: resolveWorkerBin(config.workerBin),
      logLevel: config.logLevel,
      log,
      checkIntervalMs: config.workerCheckIntervalMs,
      checkTimeoutMs: config.workerCheckTimeoutMs,
    });
    log.info({ listen_ip: config.listenIp, announced: announcedAddress }, 'sfu ready');
    return new Sfu(pool, config, log, announcedAddress);
  }

  createRoom(name: string): MediaRoom {
    const room = new MediaRoom({
      name,
      pool: this.pool,
      routerConsumerBudget: this.config.routerConsumerBudget,
      plainListenIp: this.config.listenIp === '0.0.0.0' ? '127.0.0.1' : this.config.listenIp,
      log: this.log,
      cascade: this.cascade ? { cascade: this.cascade.owner, nodeConsumerBudget: this.cascade.nodeConsumerBudget } : null,
      dynacast: this.config.dynacast,
    });
    this.observer.emit('newroom', room);
    return room;
  }

  close(): void {
    this.cascade?.owner.close();
    this.pool.close();
  }
}
