// Prometheus counters of the mediasoup worker pool: workers replaced (dead or
// failing their health check) and health checks failed.

import { Counter, type Registry } from 'prom-client';
import type { ReplaceReason, WorkerPool } from './workerPool.js';

export function registerWorkerMetrics(registry: Registry, pool: WorkerPool): void {
  new Counter({
    name: 'switchboard_sfu_worker_replacements_total',
    help: 'mediasoup workers replaced, by reason: died (process exited) or unhealthy (failed its health check)',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const reason of Object.keys(pool.stats.replaced) as ReplaceReason[]) this.inc({ reason }, pool.stats.replaced[reason]);
    },
  });
  new Counter({
    name: 'switchboard_sfu_worker_check_failures_total',
    help: 'mediasoup worker health checks that failed or timed out',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(pool.stats.failedChecks);
    },
  });
}
