// Rung calls as the REST API shows them (docs/rest.md, "Calls — /api/v1/calls"):
// a user's call history, newest first, and one call with what each invitee
// did and who was in its room for how long.

import { storageFailure } from '../../storage/queryError.js';
import type { CallRecords, RingStore, RungCallRow } from '../../storage/ringStore.js';
import type { Logger } from '../../kernel/logger.js';

/** At most this many calls on one page of history. */
export const HISTORY_MAX_LIMIT = 100;

function seconds(from: Date, to: Date): number {
  return Math.max(0, Math.round((to.getTime() - from.getTime()) / 1000));
}

/** Seconds the call was active: to its end, or to `now` while it is; null if it never was. */
function callDuration(call: RungCallRow, now: Date): number | null {
  if (!call.started_at) return null;
  if (call.ended_at) return seconds(call.started_at, call.ended_at);
  return call.status === 'active' ? seconds(call.started_at, now) : null;
}

export type CallJson = ReturnType<typeof shape>[number];

function shape(records: CallRecords, now: Date) {
  return records.calls.map((call) => ({
    call_id: call.id,
    room: call.room,
    call_type: call.call_type,
    media: call.media,
    status: call.status,
    end_reason: call.end_reason,
    initiator_id: call.initiator_id,
    created_at: call.created_at,
    started_at: call.started_at,
    ended_at: call.ended_at,
    duration_seconds: callDuration(call, now),
    invitees: records.invitees
      .filter((i) => i.call_id === call.id)
      .map((i) => ({ user_id: i.user_id, status: i.status, invited_at: i.invited_at, answered_at: i.answered_at, ended_at: i.ended_at })),
    participants: records.stays
      .filter((s) => s.call_id === call.id)
      .map((s) => ({
        user_id: s.user_id,
        joined_at: s.joined_at,
        left_at: s.left_at,
        duration_seconds: seconds(s.joined_at, s.left_at ?? now),
      })),
  }));
}

export interface HistoryPage {
  calls: CallJson[];
  /** Pass as `before` for the next page; null on the last one. */
  next_before: string | null;
}

export class CallHistory {
  constructor(
    private readonly store: RingStore,
    private readonly log: Logger,
  ) {}

  async history(userId: string, limit: number, before: string | null): Promise<HistoryPage> {
    const records = await this.store.history(userId, limit, before).catch((err: unknown) => {
      throw storageFailure(err, this.log, 'call history storage error');
    });
    const calls = shape(records, new Date());
    const last = records.calls.at(-1);
    return { calls, next_before: calls.length === limit && last ? last.cursor : null };
  }

  /** One rung call; null when there is none with that id. */
  async call(callId: string): Promise<CallJson | null> {
    const records = await this.store.record(callId).catch((err: unknown) => {
      throw storageFailure(err, this.log, 'call history storage error');
    });
    return records ? (shape(records, new Date())[0] ?? null) : null;
  }
}
