/**
 * Token bucket per connection: `ratePerSecond` sustained with bursts up to
 * `burst`. Messages refused while empty count as strikes; a client that keeps
 * flooding after being told (strikes beyond `burst` within ten seconds) is
 * abusive and gets disconnected by the caller.
 */
export class RateLimiter {
  private tokens: number;
  private last: number;
  private strikes = 0;
  private strikeWindowStart = 0;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    now = performance.now(),
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /** True when the message may proceed. */
  take(now = performance.now()): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    if (now - this.strikeWindowStart > 10_000) {
      this.strikeWindowStart = now;
      this.strikes = 0;
    }
    this.strikes++;
    return false;
  }

  get abusive(): boolean {
    return this.strikes > this.burst;
  }
}
