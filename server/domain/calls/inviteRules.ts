// What a new call's invitees must pass, the per-user invite limit, and how a
// ringing call ends when nobody rings any more. Used by CallService for
// call-invite and POST /api/v1/calls alike.

import type { CallEndReason } from '../../../signaling/protocol/protocol.js';
import { AppError } from '../../kernel/errors.js';
import { RateLimiter } from '../../kernel/rateLimiter.js';
import type { Invitee } from './call.js';

/** `CALL_INVITES_PER_MINUTE` per calling user, on this node (bursts of up to 10). */
export class InviteLimits {
  private readonly byUser = new Map<string, { limiter: RateLimiter; usedAt: number }>();
  private sweptAt = 0;

  constructor(private readonly perMinute: number) {}

  /** A limiter untouched for two minutes is full again: forgetting it changes nothing (bounded memory). */
  private sweep(now: number): void {
    if (now - this.sweptAt < 60_000) return;
    this.sweptAt = now;
    for (const [user, entry] of this.byUser) if (now - entry.usedAt > 120_000) this.byUser.delete(user);
  }

  /**
   * The distinct users `from` may ring now: not itself (`invalid_payload`,
   * field `to`), and within its invite limit (`rate_limited`).
   */
  check(from: string, to: string[]): string[] {
    const users = [...new Set(to)];
    if (users.includes(from)) throw new AppError('invalid_payload', 'you cannot call yourself', 'to');
    const now = performance.now();
    this.sweep(now);
    let entry = this.byUser.get(from);
    if (!entry) {
      entry = { limiter: new RateLimiter(this.perMinute / 60, Math.min(this.perMinute, 10), now), usedAt: now };
      this.byUser.set(from, entry);
    }
    entry.usedAt = now;
    if (!entry.limiter.take(now)) throw new AppError('rate_limited', `at most ${this.perMinute} call invites a minute`);
    return users;
  }
}

/**
 * How a ringing call ends once every invitee answered or stopped ringing:
 * null while one still rings; `busy` when all declined busy, `declined` when
 * any declined, else `missed`.
 */
export function ringingOutcome(invitees: Iterable<Invitee>): CallEndReason | null {
  const outcomes = [...invitees];
  if (outcomes.some((i) => i.status === 'ringing' || i.status === 'accepting' || i.status === 'invited')) return null;
  const declined = outcomes.filter((i) => i.status === 'declined');
  if (declined.length === 0) return 'missed';
  return declined.every((i) => i.declineReason === 'busy') && declined.length === outcomes.length ? 'busy' : 'declined';
}
