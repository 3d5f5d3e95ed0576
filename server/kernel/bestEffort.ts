// Work whose failure changes nothing for anyone: cleanup on the way out, a
// write a later step repeats, a hint to a peer. Its error is logged at debug
// level, saying what was tried, instead of vanishing.

import type { Logger } from './logger.js';

export function bestEffort(log: Logger, what: string, work: Promise<unknown>): Promise<void> {
  return work.then(
    () => undefined,
    (err: unknown) => log.debug({ err: err instanceof Error ? err.message : String(err) }, `${what} failed (best effort)`),
  );
}
