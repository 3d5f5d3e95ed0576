// The waiting room: a joiner of a room with the lobby on waits here (its
// `join` stays unanswered) until a host or moderator admits or denies it, or
// its connection goes away.

import type { LobbyEntry, Role } from '../../../signaling/protocol/protocol.js';
import { AppError } from '../../kernel/errors.js';

export type LobbyOutcome = { admitted: true } | { admitted: false; error: AppError };

export class LobbyWaiter {
  readonly since = new Date();
  readonly outcome: Promise<LobbyOutcome>;
  private settle!: (o: LobbyOutcome) => void;
  settled = false;

  constructor(
    readonly userId: string,
    readonly displayName: string,
    readonly role: Role,
  ) {
    this.outcome = new Promise((resolve) => {
      this.settle = resolve;
    });
  }

  admit(): void {
    this.finish({ admitted: true });
  }

  deny(reason: string): void {
    this.finish({ admitted: false, error: new AppError('lobby_denied', reason) });
  }

  /** The joiner gave up (socket closed) or was replaced by a newer join of the same user. */
  cancel(message: string): void {
    this.finish({ admitted: false, error: new AppError('not_in_room', message) });
  }

  private finish(o: LobbyOutcome): void {
    if (this.settled) return;
    this.settled = true;
    this.settle(o);
  }

  entry(): LobbyEntry {
    return { user_id: this.userId, display_name: this.displayName, role: this.role, waiting_since: this.since.toISOString() };
  }
}
