// A call as CallService keeps it while it rings or runs: its room, type,
// media, caller, state and each invitee's side (docs/calls.md).

import type { CallDeclineReason, CallMedia, CallParty, CallType, InviteeStatus } from '../../../signaling/protocol/protocol.js';

export interface CallsConfig {
  ringSeconds: number;
  invitesPerMinute: number;
}

/** An invitee's side while the call lives; `accepting` while its join runs. */
export interface Invitee {
  userId: string;
  status: InviteeStatus | 'accepting';
  timer: NodeJS.Timeout | null;
  expiresAt: number;
  declineReason: CallDeclineReason | null;
}

/** A call this node rings or runs; it is forgotten when it ends. */
export interface Call {
  id: string;
  room: string;
  type: CallType;
  media: CallMedia;
  from: CallParty;
  state: 'ringing' | 'active' | 'ended';
  invitees: Map<string, Invitee>;
}

/** A new call, stored and ready for its caller to enter its room. */
export interface OpenedCall {
  callId: string;
  room: string;
  invited: string[];
}

/** POST /api/v1/calls: the app's backend rings `to` on `from`'s behalf. */
export interface ApiCallRequest {
  from: CallParty;
  to: string[];
  media: CallMedia;
  metadata?: Record<string, unknown>;
}

/** Call rooms are named after their call. */
export function callRoomName(callId: string): string {
  return `call-${callId}`;
}

/** An invitee not rung yet. */
export function newInvitee(userId: string): Invitee {
  return { userId, status: 'invited', timer: null, expiresAt: 0, declineReason: null };
}
