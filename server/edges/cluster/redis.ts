// One place that says how this project talks to Redis: connections that fail
// fast while Redis is away (no offline queue: a request that cannot be sent is
// an `unavailable` error, not a hidden backlog) and reconnect on their own.

import { Redis } from 'ioredis';

export function connectRedis(url: string, name: string, opts: { subscriber?: boolean; autoPipelining?: boolean } = {}): Redis {
  return new Redis(url, {
    // The bus publishes many small messages: those of one tick go out in one write.
    enableAutoPipelining: opts.autoPipelining ?? false,
    connectionName: name,
    lazyConnect: true,
    // A subscriber keeps its queue so its SUBSCRIBE is sent once connected; command connections fail fast.
    enableOfflineQueue: opts.subscriber ?? false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    // Back soon after an outage: at most 1 s between attempts, for ever.
    retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
  });
}

/** Connects (lazyConnect) and waits until the connection is ready. */
export async function ready(redis: Redis): Promise<void> {
  if (redis.status === 'ready') return;
  if (redis.status === 'wait') await redis.connect();
  if ((redis.status as string) !== 'ready') {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('redis did not become ready within 10 s')), 10_000);
      redis.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
