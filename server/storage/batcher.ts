/**
 * Group commit: items added in the same turn of the event loop are written by
 * one `flush` call (one multi-row statement), and every caller's promise
 * settles when that write has. Writes stay awaited (nothing is acknowledged
 * before it is stored) while the per-row cost drops several-fold.
 */
export class Batcher<T> {
  private queue: Array<{ item: T; resolve: () => void; reject: (err: unknown) => void }> = [];
  private scheduled = false;
  private inFlight = 0;

  constructor(
    private readonly flush: (items: T[]) => Promise<void>,
    private readonly maxBatch = 500,
  ) {}

  add(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.drain());
      }
    });
  }

  private drain(): void {
    this.scheduled = false;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.inFlight++;
      this.flush(batch.map((b) => b.item))
        .then(
          () => batch.forEach((b) => b.resolve()),
          (err) => batch.forEach((b) => b.reject(err)),
        )
        .finally(() => this.inFlight--);
    }
  }

  get pending(): number {
    return this.queue.length + this.inFlight;
  }
}
