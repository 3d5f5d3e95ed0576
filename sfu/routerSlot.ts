import type { EventEmitter } from 'node:events';
import type { Router } from 'mediasoup/types';
import { AppError } from '../server/kernel/errors.js';
import type { WorkerSlot } from './workerPool.js';

/**
 * A router of a room on one worker. The room's first router (primary) holds
 * every producer; further routers hold only consumers, fed by pipes from the
 * primary, so a big room uses every core.
 *
 * Load is consumers plus `pending`: consumers a new receiver is expected to
 * create, reserved when it is placed, so that joins placed at the same time
 * see each other instead of all picking the same router.
 */
export class RouterSlot {
  consumers = 0;
  pending = 0;
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
      worker.pending -= this.pending;
      this.consumers = 0;
      this.pending = 0;
    });
  }

  /**
   * The id under which a (data) producer of `source` can be consumed on this
   * router, piping it here once. keepId: false, since two routers of one
   * worker cannot hold the same id.
   */
  pipedFrom(source: RouterSlot, what: 'producer' | 'dataProducer', id: string): Promise<string> {
    if (source === this) return Promise.resolve(id);
    const cache = what === 'producer' ? this.piped : this.pipedData;
    let piped = cache.get(id);
    if (!piped) {
      const from = what === 'producer' ? { producerId: id } : { dataProducerId: id };
      piped = source.router.pipeToRouter({ ...from, router: this.router, keepId: false }).then((result) => {
        const copy = result.pipeProducer ?? result.pipeDataProducer;
        if (!copy) throw new AppError('internal_error', `piping ${what} ${id} to another router made no copy of it`);
        (copy.observer as EventEmitter).once('close', () => cache.delete(id));
        return copy.id;
      });
      piped.catch(() => cache.delete(id));
      cache.set(id, piped);
    }
    return piped;
  }

  get load(): number {
    return this.consumers + this.pending;
  }

  reserve(n: number): void {
    this.pending += n;
    this.worker.pending += n;
  }

  /** Gives back reservations that were not used (the receiver went away). */
  release(n: number): void {
    if (this.router.closed || n <= 0) return;
    this.pending -= n;
    this.worker.pending -= n;
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
