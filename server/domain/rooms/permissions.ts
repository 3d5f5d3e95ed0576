// Who may do what in a room: the one table both the WebSocket handlers and
// the REST API check against (REST acts with host rights: it is the app's
// own backend). Every room-control action asks `assertAllowed` first, so a
// `forbidden` request never reaches persistence or memory.

import type { Role, RoomType } from '../../../signaling/protocol/protocol.js';
import { AppError } from '../../kernel/errors.js';

export const ACTIONS = [
  'publish',
  'set-role',
  'raise-hand',
  'lower-other-hand',
  'acknowledge-hand',
  'mute-participant',
  'mute-all',
  'kick',
  'lock-room',
  'update-room',
  'admit',
  'send-data',
  'whiteboard-draw',
  'whiteboard-clear',
  'chat', // in-call chat: send
  'moderate-chat', // in-call chat: delete others' messages
  'end-call',
  'record', // recording: start and stop
] as const;
export type Action = (typeof ACTIONS)[number];

const STAFF: readonly Role[] = ['host', 'moderator'];

/** The issue's role table: host everything; moderator moderates; speaker publishes; viewer watches, raises a hand, chats. */
export const ALLOWED: Record<Action, readonly Role[]> = {
  publish: ['host', 'moderator', 'speaker'],
  'set-role': STAFF, // moderators only between viewer and speaker (see roleChangeAllowed)
  'raise-hand': ['moderator', 'speaker', 'viewer'],
  'lower-other-hand': STAFF,
  'acknowledge-hand': STAFF,
  'mute-participant': STAFF,
  'mute-all': STAFF,
  kick: STAFF,
  'lock-room': STAFF,
  'update-room': ['host'],
  admit: STAFF,
  'send-data': ['host', 'moderator', 'speaker', 'viewer'],
  'whiteboard-draw': ['host', 'moderator', 'speaker'],
  'whiteboard-clear': STAFF,
  chat: ['host', 'moderator', 'speaker', 'viewer'],
  'moderate-chat': STAFF,
  'end-call': ['host'],
  record: STAFF,
};

/**
 * Room types narrow the table: in a webinar only hosts and speakers publish
 * (moderators run the Q&A); in a broadcast viewers cannot even ask to speak.
 */
export function isAllowed(role: Role, action: Action, roomType: RoomType): boolean {
  if (action === 'publish' && roomType === 'webinar' && role === 'moderator') return false;
  if (action === 'raise-hand' && roomType === 'broadcast' && role === 'viewer') return false;
  return ALLOWED[action].includes(role);
}

export function assertAllowed(role: Role, action: Action, roomType: RoomType): void {
  if (!isAllowed(role, action, roomType)) {
    throw new AppError(
      'forbidden',
      `a ${role} may not ${action.replace(/-/g, ' ')}${roomType !== 'group' ? ` in a ${roomType} room` : ''}`,
    );
  }
}

/** Hosts change anyone's role; moderators only move non-staff between viewer and speaker. */
export function roleChangeAllowed(actor: Role, targetRole: Role, newRole: Role): boolean {
  if (actor === 'host') return true;
  if (actor === 'moderator') return !STAFF.includes(targetRole) && !STAFF.includes(newRole);
  return false;
}

/** Moderators act on non-staff; hosts on anyone but other hosts' removal is host-only. */
export function mayActOn(actor: Role, target: Role): boolean {
  if (actor === 'host') return true;
  return actor === 'moderator' && !STAFF.includes(target);
}

export function isStaff(role: Role): boolean {
  return STAFF.includes(role);
}
