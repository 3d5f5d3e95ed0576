/**
 * Group commit: items are written by one `flush` call (one multi-row
 * statement), and every caller's promise settles when that write has. One
 * flush runs at a time; what arrives meanwhile waits and goes out together
 * when it ends, so batches grow with the load (at 1,300 joins/s a per-tick
 * batch held ~3 rows, one round trip per few joins) while an idle store still
 * writes at once. Writes stay awaited: nothing is acknowledged before it is
 * stored.
 *
 * `lingerMs`: under load (a flush ended less than BUSY_WINDOW_MS ago) a new
 * batch waits this long for company before it goes. Each statement wakes a
 * PostgreSQL backend, and that wake-up (inside the writev, ~150 µs on this
 * box) costs more than the rows: a few milliseconds of waiting buys batches
 * several times larger. An idle store still writes at once.
 */
const BUSY_WINDOW_MS = 20;

/** The linger of the hot writes (joins, leaves, webhook outbox rows). */
export const STORE_LINGER_MS = 4;

export interface BatcherOptions {
  /** Most items in one flush (default 500). */
  maxBatch?: number;
  /** Wait for company under load (default 0: never). */
  lingerMs?: number;
}

export class Batcher<T> {
  private queue: Array<{ item: T; resolve: () => void; reject: (err: unknown) => void }> = [];
  private scheduled = false;
  private flushing = false;
  private lastFlushEnd = -Infinity;
  private readonly maxBatch: number;
  private readonly lingerMs: number;

  constructor(
    private readonly flush: (items: T[]) => Promise<void>,
    opts: BatcherOptions = {},
  ) {
    this.maxBatch = opts.maxBatch ?? 500;
    this.lingerMs = opts.lingerMs ?? 0;
  }

  add(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.scheduled && !this.flushing) {
        this.scheduled = true;
        if (this.lingerMs > 0 && performance.now() - this.lastFlushEnd < BUSY_WINDOW_MS) setTimeout(() => this.drain(), this.lingerMs);
        else setImmediate(() => this.drain());
      }
    });
  }

  private drain(): void {
    this.scheduled = false;
    if (this.flushing || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.maxBatch);
    this.flushing = true;
    const settle = (failed: boolean, err?: unknown) => {
      // The store is free again before any caller hears back (a caller's next add sees it so).
      this.flushing = false;
      this.lastFlushEnd = performance.now();
      for (const b of batch) {
        if (failed) b.reject(err);
        else b.resolve();
      }
      // What queued while this flush ran goes out now, as one batch.
      if (this.queue.length > 0) this.drain();
    };
    this.flush(batch.map((b) => b.item)).then(
      () => settle(false),
      (err: unknown) => settle(true, err),
    );
  }

  get pending(): number {
    return this.queue.length + (this.flushing ? 1 : 0);
  }
}
