// Prometheus gauges of this node's cascade: what an operator watches to see
// rooms spilling over to other nodes and what this node hosts for others.

import { Gauge, type Registry } from 'prom-client';
import type { Cascade } from './cascade.js';
import type { MediaAgent } from './mediaAgent.js';
import { nodeLoad, type WorkerPool } from '../workerPool.js';

export function registerCascadeMetrics(
  registry: Registry,
  parts: { owner: Cascade; agent: MediaAgent; pool: WorkerPool; nodeConsumerBudget: number },
): void {
  const gauge = (name: string, help: string, value: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(value());
      },
    });
  gauge(
    'switchboard_sfu_node_consumers',
    "Consumers placed or reserved on this node's workers (what SFU_NODE_CONSUMER_BUDGET limits)",
    () => nodeLoad(parts.pool),
  );
  gauge('switchboard_sfu_node_consumer_budget', 'SFU_NODE_CONSUMER_BUDGET of this node', () => parts.nodeConsumerBudget);
  gauge('switchboard_cascade_remote_routers', "Routers this node's rooms have on other nodes", () => parts.owner.remoteRouters.length);
  gauge('switchboard_cascade_hosted_routers', 'Routers this node hosts for rooms of other nodes', () => parts.agent.hosted.length);
  gauge('switchboard_cascade_hosted_consumers', "Consumers of other nodes' viewers on this node", () =>
    parts.agent.hosted.reduce((n, r) => n + r.consumers, 0),
  );
}
