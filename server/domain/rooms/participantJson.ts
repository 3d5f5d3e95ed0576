// How a participant's row (one stay in one call) is shown over REST: the same
// shape for `GET /calls/:id` and `GET /api/v1/rooms/:room/participants`.

import type { ParticipantRecord } from '../../storage/callStore.js';

/**
 * `duration_seconds` is for billing: seconds in the call, counted up to `now`
 * for someone still in it (`connected`), so it is never null.
 */
export function participantJson(p: ParticipantRecord, now: Date) {
  const end = p.left_at ?? now;
  return {
    participant_id: p.id,
    user_id: p.user_id,
    display_name: p.display_name,
    role: p.role,
    joined_at: p.joined_at,
    left_at: p.left_at,
    leave_reason: p.leave_reason,
    duration_seconds: Math.max(0, Math.round((end.getTime() - p.joined_at.getTime()) / 1000)),
    connected: p.left_at === null,
    client_ip: p.client_ip,
  };
}
