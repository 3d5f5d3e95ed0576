// Reactions are counted, not relayed: each one adds to the pending counts,
// and every interval the counts since the last flush go out as one message
// to the whole audience. With N viewers reacting once per interval that is N
// messages out per interval instead of N x N.

import type { LiveReaction, LiveReactionCounts } from '../../../signaling/protocol/protocol.js';

export class ReactionTally {
  private pending: LiveReactionCounts = {};
  private pendingAny = false;
  readonly totals: LiveReactionCounts;

  constructor(totals: LiveReactionCounts = {}) {
    this.totals = { ...totals };
  }

  add(reaction: LiveReaction): void {
    this.pending[reaction] = (this.pending[reaction] ?? 0) + 1;
    this.totals[reaction] = (this.totals[reaction] ?? 0) + 1;
    this.pendingAny = true;
  }

  /** The counts since the previous take (null when there were none). */
  take(): LiveReactionCounts | null {
    if (!this.pendingAny) return null;
    const counts = this.pending;
    this.pending = {};
    this.pendingAny = false;
    return counts;
  }
}
