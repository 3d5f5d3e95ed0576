// Where a room's media lives: its primary router (every producer) and, once
// the primary is past its consumer budget, secondary routers on other
// workers that receive producers piped from the primary.

import { AppError } from '../server/kernel/errors.js';
import type { Logger } from '../server/kernel/logger.js';
import { MEDIA_CODECS } from './codecs.js';
import { RouterSlot } from './routerSlot.js';
import type { WorkerPool, WorkerSlot } from './workerPool.js';

export interface RoomRoutersOptions {
  name: string;
  pool: WorkerPool;
  routerConsumerBudget: number;
  log: Logger;
  isClosed: () => boolean;
  /** Readies a new primary (the speaking observers) before anyone uses it. */
  onPrimary: (slot: RouterSlot) => Promise<void>;
  /** The worker under one of the routers died. */
  onLost: (slot: RouterSlot) => void;
}

export class RoomRouters {
  private primary: RouterSlot | null = null;
  private opening: Promise<RouterSlot> | null = null;
  private readonly secondaries: RouterSlot[] = [];
  private readonly openingSecondaries = new Map<WorkerSlot, Promise<RouterSlot>>();

  constructor(private readonly opts: RoomRoutersOptions) {}

  get count(): number {
    return (this.primary ? 1 : 0) + this.secondaries.length;
  }

  isPrimary(slot: RouterSlot): boolean {
    return slot === this.primary;
  }

  /** Every router of the room that is still open. */
  openSlots(): RouterSlot[] {
    return [this.primary, ...this.secondaries].filter((s): s is RouterSlot => s !== null && !s.router.closed);
  }

  /** The router holding the room's producers, opened on first use. */
  primarySlot(): Promise<RouterSlot> {
    if (this.opts.isClosed()) return Promise.reject(new AppError('not_in_room', 'the room closed'));
    if (this.primary) return Promise.resolve(this.primary);
    this.opening ??= this.openRouter(this.opts.pool.leastLoaded()).then(
      async (slot) => {
        this.primary = slot;
        this.opening = null;
        slot.router.once('workerclose', () => this.opts.onLost(slot));
        try {
          await this.opts.onPrimary(slot);
        } catch (err) {
          // The room closed (or its worker went) while the observers were made: not a fault of the request.
          if (this.opts.isClosed() || slot.router.closed) throw new AppError('not_in_room', 'the room closed');
          throw err;
        }
        return slot;
      },
      (err) => {
        this.opening = null;
        throw err;
      },
    );
    return this.opening;
  }

  /** Where a new receiver goes: the primary while it has budget, else a router on another worker. */
  async recvSlot(expectedConsumers: number): Promise<RouterSlot> {
    const primary = await this.primarySlot();
    // Decide and reserve without awaiting in between, so concurrent joins see each other.
    if (primary.load < this.opts.routerConsumerBudget) {
      primary.reserve(expectedConsumers);
      return primary;
    }
    // Past the budget, every new receiver goes to the least loaded worker, on
    // this room's router there (opened and piped on first use).
    const worker = this.opts.pool.leastLoaded();
    const existing = [primary, ...this.secondaries].find((s) => s.worker === worker && !s.router.closed);
    if (existing) {
      existing.reserve(expectedConsumers);
      return existing;
    }
    let opening = this.openingSecondaries.get(worker);
    if (!opening) {
      opening = this.openSecondary(worker).finally(() => this.openingSecondaries.delete(worker));
      this.openingSecondaries.set(worker, opening);
    }
    const slot = await opening;
    slot.reserve(expectedConsumers);
    return slot;
  }

  /** The id under which a (data) producer can be consumed on `slot` (piped there from the primary once). */
  pipedId(slot: RouterSlot, what: 'producer' | 'dataProducer', id: string): Promise<string> {
    if (!this.primary) return Promise.reject(new AppError('internal_error', `no primary router to pipe ${what} ${id} from`));
    return slot.pipedFrom(this.primary, what, id);
  }

  /** The primary is gone with its worker: the secondaries (fed by its pipes) close too. */
  dropPrimary(): void {
    this.primary = null;
    for (const s of this.secondaries.splice(0)) s.router.close();
  }

  close(): void {
    for (const slot of [...this.secondaries, this.primary]) {
      try {
        slot?.router.close();
      } catch (err) {
        // A worker whose request builder broke throws here after the router is
        // marked closed; the health check replaces that worker.
        this.opts.log.warn({ err, room: this.opts.name }, 'closing a router threw');
      }
    }
  }

  private async openSecondary(worker: WorkerSlot): Promise<RouterSlot> {
    const slot = await this.openRouter(worker);
    this.secondaries.push(slot);
    slot.router.once('workerclose', () => this.opts.onLost(slot));
    slot.router.observer.once('close', () => {
      const i = this.secondaries.indexOf(slot);
      if (i >= 0) this.secondaries.splice(i, 1);
    });
    this.opts.log.info({ room: this.opts.name, worker: worker.index, routers: this.count }, 'room spread to another worker');
    return slot;
  }

  private async openRouter(worker: WorkerSlot): Promise<RouterSlot> {
    const router = await worker.worker.createRouter({ mediaCodecs: MEDIA_CODECS, appData: { room: this.opts.name } });
    if (this.opts.isClosed()) {
      router.close();
      throw new AppError('not_in_room', 'the room closed');
    }
    return new RouterSlot(router, worker);
  }
}
