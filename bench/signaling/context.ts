// What one bench run shares between its scenarios: options, keys, the
// database and Redis (when the bench started them), and how to stop the
// running scenario's processes on the way out.

import type { PostgresServer as BenchPostgres } from '../../test/support/postgres.js';
import type { RedisServer } from '../../test/support/redis.js';
import type { Options } from './args.js';
import type { Keys } from './server.js';

export interface Ctx {
  opts: Options;
  tmp: string;
  keys: Keys;
  databaseUrl: string | null;
  pg: BenchPostgres | null;
  redisUrl: string | null;
  redis: RedisServer | null;
  cpus: number;
  /** Stops the running scenario's server and generators (null between scenarios). */
  activeStop: (() => Promise<void>) | null;
}
