// Small helpers of the SFU bench: the log (seconds since start), sleep, rounding and formatting.

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const t0 = Date.now();
export function log(msg: string): void {
  process.stderr.write(`[sfu-bench +${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${msg}\n`);
}
export const r1 = (x: number) => Math.round(x * 10) / 10;
export const r4 = (x: number) => Math.round(x * 1e4) / 1e4;
export const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
export const k = (x: number) => (x >= 1000 ? `${(x / 1000).toFixed(1)}k` : x.toFixed(0));
export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}
