// Writes that cannot be refused when the database is away for a moment: a
// participant who leaves or disconnects is gone whatever the database says,
// and the leave is acknowledged. Such a write is retried here, in order,
// backing off from 250 ms to 5 s, until it succeeds, so its row and its
// webhook event are stored once the database is back instead of being lost.
// (What a process still holds here when it stops is closed at the next start,
// as after a crash.)

import type { Logger } from '../../kernel/logger.js';

interface Deferred {
  what: string;
  run: () => Promise<void>;
}

export class DeferredWrites {
  private readonly queue: Deferred[] = [];
  private running = false;
  private timer: NodeJS.Timeout | null = null;
  private wake: (() => void) | null = null;
  private closed = false;

  constructor(
    private readonly log: Logger,
    private readonly backoff = { firstMs: 250, maxMs: 5000 },
  ) {}

  /** Queues `run`; it is tried at once (after those queued before it) and again until it succeeds. */
  add(what: string, run: () => Promise<void>): void {
    if (this.closed) return;
    this.queue.push({ what, run });
    if (!this.running) void this.drain();
  }

  get pending(): number {
    return this.queue.length;
  }

  private async drain(): Promise<void> {
    this.running = true;
    let delay = this.backoff.firstMs;
    while (this.queue.length > 0 && !this.closed) {
      const head = this.queue[0];
      try {
        await head.run();
        this.queue.shift();
        delay = this.backoff.firstMs;
      } catch (err) {
        this.log.warn({ err, what: head.what, pending: this.queue.length, retry_in_ms: delay }, 'deferred write failed; retrying');
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          this.timer = setTimeout(resolve, delay);
        });
        this.wake = null;
        delay = Math.min(this.backoff.maxMs, delay * 2);
      }
    }
    this.running = false;
  }

  /** Stops retrying (process shutdown); what is left is closed at the next start. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.wake?.();
    if (this.queue.length > 0) this.log.warn({ pending: this.queue.length }, 'deferred writes dropped at shutdown');
  }
}
