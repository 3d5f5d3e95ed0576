// Media work and resets: telling work that a reset made pointless from
// server trouble worth trying again.

import { SignalingError } from './signaling.js';

/** Thrown (internally) by media work that a reset or leave made pointless. */
export class StaleError extends Error {
  constructor() {
    super('superseded by a media reset');
  }
}

/** Server trouble that may pass: worth trying again. */
export function retryable(err: unknown): boolean {
  if (err instanceof SignalingError) return err.code === 'unavailable' || err.code === 'internal_error' || err.code === 'rate_limited';
  return err instanceof Error && err.message.startsWith('no reply to');
}

/**
 * Media work after a reset may meet a server that is still recovering (its
 * worker being replaced): try again a few times, backing off (0.5 s to 8 s),
 * as long as `current()` says no newer reset has happened.
 */
export async function withRetry<T>(work: () => Promise<T>, current: () => boolean, attempts = 5): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await work();
    } catch (err) {
      if (!current() || attempt >= attempts || !retryable(err)) throw err;
      await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** attempt));
      if (!current()) throw new StaleError();
    }
  }
}
