// The SFU as the rooms domain sees it: start the worker pool, make a
// MediaRoom per room, report load.

import { EventEmitter } from 'node:events';
import { networkInterfaces } from 'node:os';
import type { Config } from '../server/config.js';
import type { Logger } from '../server/logger.js';
import { MediaRoom, type MediaRoomListener } from './mediaRoom.js';
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
  /** Issue 5: every MediaRoom made (recorders attach to it), mediasoup-style. */
  readonly observer = new EventEmitter<{ newroom: [MediaRoom] }>();

  private constructor(
    readonly pool: WorkerPool,
    private readonly config: Config['sfu'],
    private readonly log: Logger,
  ) {}

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
    });
    log.info({ listen_ip: config.listenIp, announced: announcedAddress }, 'sfu ready');
    return new Sfu(pool, config, log);
  }

  createRoom(name: string, listener: MediaRoomListener): MediaRoom {
    const room = new MediaRoom({
      name,
      pool: this.pool,
      routerConsumerBudget: this.config.routerConsumerBudget,
      plainListenIp: this.config.listenIp === '0.0.0.0' ? '127.0.0.1' : this.config.listenIp,
      listener,
      log: this.log,
    });
    this.observer.emit('newroom', room); // issue 5
    return room;
  }

  close(): void {
    this.pool.close();
  }
}
