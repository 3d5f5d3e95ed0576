import type { Router } from 'mediasoup/types';
import type { WorkerSlot } from './workerPool.js';

/**
 * A router of a room on one worker. The room's first router (primary) holds
 * every producer; further routers hold only consumers, fed by pipes from the
 * primary, so a big room uses every core.
 */
export class RouterSlot {
  consumers = 0;
  /** Publisher's producer id -> id of its piped copy on this router. */
  readonly piped = new Map<string, Promise<string>>();
  readonly pipedData = new Map<string, Promise<string>>();

  constructor(
    readonly router: Router,
    readonly worker: WorkerSlot,
  ) {
    worker.routers.add(router);
    router.observer.once('close', () => {
      worker.routers.delete(router);
      worker.consumers -= this.consumers;
      this.consumers = 0;
    });
  }

  addConsumer(): void {
    this.consumers++;
    this.worker.consumers++;
  }

  removeConsumer(): void {
    if (this.router.closed) return; // counted down on close already
    this.consumers--;
    this.worker.consumers--;
  }
}
