// Token buckets keyed by client address (REST writes): `ratePerSecond`
// sustained, bursts up to `burst`. Buckets that have refilled are forgotten,
// so memory follows the addresses active within the last burst/rate seconds.

/** Above this many tracked keys, full buckets are swept out before adding another. */
const SWEEP_ABOVE = 10_000;

interface Bucket {
  tokens: number;
  last: number;
}

export class AddressLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
  ) {}

  /** 0 when the request may proceed, else the seconds until it would (for Retry-After). */
  take(key: string, now = performance.now()): number {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= SWEEP_ABOVE) this.sweep(now);
      bucket = { tokens: this.burst, last: now };
      this.buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.last) / 1000) * this.ratePerSecond);
    bucket.last = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.ratePerSecond));
  }

  get size(): number {
    return this.buckets.size;
  }

  private sweep(now: number): void {
    for (const [key, b] of this.buckets) {
      if (b.tokens + ((now - b.last) / 1000) * this.ratePerSecond >= this.burst) this.buckets.delete(key);
    }
  }
}
