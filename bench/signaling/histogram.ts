// Log-linear latency histogram in microseconds: exact below 1,024 us, then 64
// sub-buckets per power of two (~1.6% resolution). Fixed size, cheap to record,
// and mergeable across generator processes (sent over IPC as sparse pairs).

const LINEAR = 1024;
const SUB_BITS = 6;
const SUB = 1 << SUB_BITS;
const MAX_EXP = 30; // 2^31 us ~ 36 minutes: larger values are clamped
const BUCKETS = LINEAR + (MAX_EXP - 10 + 1) * SUB;
const MAX_VALUE = 2 ** 31 - 1;

export interface HistogramJson {
  n: number;
  max: number;
  sum: number;
  /** [bucket index, count] for non-empty buckets. */
  b: Array<[number, number]>;
}

export interface LatencySummaryMs {
  n: number;
  mean: number | null;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  p999: number | null;
  max: number | null;
}

function bucketOf(us: number): number {
  const v = us <= 0 ? 0 : us >= MAX_VALUE ? MAX_VALUE : Math.floor(us);
  if (v < LINEAR) return v;
  const e = 31 - Math.clz32(v); // 10..30
  return LINEAR + (e - 10) * SUB + ((v >>> (e - SUB_BITS)) - SUB);
}

/** Middle of a bucket (its exact value in the linear part). */
function valueOf(index: number): number {
  if (index < LINEAR) return index;
  const e = Math.floor((index - LINEAR) / SUB) + 10;
  const sub = (index - LINEAR) % SUB;
  const width = 2 ** (e - SUB_BITS);
  return (SUB + sub) * width + width / 2;
}

export class Histogram {
  private readonly counts = new Float64Array(BUCKETS);
  n = 0;
  max = 0;
  sum = 0;

  record(us: number): void {
    this.counts[bucketOf(us)] += 1;
    this.n++;
    this.sum += us;
    if (us > this.max) this.max = us;
  }

  merge(h: HistogramJson): void {
    for (const [i, c] of h.b) this.counts[i] += c;
    this.n += h.n;
    this.sum += h.sum;
    if (h.max > this.max) this.max = h.max;
  }

  /** Value (us) at quantile q in [0, 1]; never above the recorded maximum. */
  quantile(q: number): number | null {
    if (this.n === 0) return null;
    const rank = Math.max(1, Math.ceil(q * this.n));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(valueOf(i), this.max);
    }
    return this.max;
  }

  toJSON(): HistogramJson {
    const b: Array<[number, number]> = [];
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i] > 0) b.push([i, this.counts[i]]);
    return { n: this.n, max: this.max, sum: this.sum, b };
  }

  /** Percentiles in milliseconds, rounded to 0.01 ms. */
  summaryMs(): LatencySummaryMs {
    const ms = (us: number | null) => (us === null ? null : Math.round(us / 10) / 100);
    return {
      n: this.n,
      mean: this.n ? ms(this.sum / this.n) : null,
      p50: ms(this.quantile(0.5)),
      p90: ms(this.quantile(0.9)),
      p99: ms(this.quantile(0.99)),
      p999: ms(this.quantile(0.999)),
      max: this.n ? ms(this.max) : null,
    };
  }

  static fromJSON(h: HistogramJson): Histogram {
    const out = new Histogram();
    out.merge(h);
    return out;
  }
}
