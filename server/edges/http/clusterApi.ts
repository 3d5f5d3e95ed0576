// Cluster admin REST: the cluster's nodes with their load and rooms,
// drain, and a readiness probe for load balancers.

import { AppError } from '../../kernel/errors.js';
import type { ClusterNode } from '../cluster/clusterNode.js';
import { requireApiKey, type ApiCredentials } from './apiAuth.js';
import type { Router } from './router.js';
import { object, optional, string, ValidationError } from '../../../signaling/protocol/schema.js';

const drainRequest = object({ node: optional(string({ min: 1, max: 64 })) });

export function createClusterApi(router: Router, deps: { cluster: ClusterNode | null; credentials: ApiCredentials }): void {
  const { cluster } = deps;
  const needCluster = (): ClusterNode => {
    if (!cluster) throw new AppError('not_configured', 'this node runs alone: set REDIS_URL to form a cluster');
    return cluster;
  };

  router.add('GET', '/api/v1/cluster', async (req) => {
    requireApiKey(req, deps.credentials);
    const c = needCluster();
    try {
      return { status: 200, body: await c.view() };
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw new AppError('unavailable', 'the cluster registry (Redis) is unavailable');
    }
  });

  // Drains this node, or the one named in the body.
  router.add('POST', '/api/v1/cluster/drain', async (req) => {
    requireApiKey(req, deps.credentials);
    const c = needCluster();
    let body: { node?: string };
    try {
      body = drainRequest.parse(await req.body(), '');
    } catch (err) {
      if (err instanceof ValidationError) throw new AppError('invalid_payload', err.message, err.field);
      throw err;
    }
    const node = body.node ?? c.nodeId;
    await c.drainNode(node);
    return { status: 202, body: { node, draining: true } };
  });

  // For a load balancer's health check: 503 while draining, so new clients go elsewhere.
  router.add('GET', '/api/v1/cluster/ready', async () => {
    const draining = cluster?.isDraining ?? false;
    return { status: draining ? 503 : 200, body: { ready: !draining, draining, node_id: cluster?.nodeId ?? null } };
  });
}
