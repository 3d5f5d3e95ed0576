// Room types, their templates and the settings a room carries. The recording
// side asks `recordingAllowed(room)` before it starts.

import type { RoomSettings, RoomType } from '../../../signaling/protocol/protocol.js';
import type { StoredRoomSettings } from '../../storage/roomControlStore.js';

/** Templates: a new room of a type starts with these limits. */
export const ROOM_TEMPLATES: Record<RoomType, { max_participants: number }> = {
  individual: { max_participants: 2 },
  group: { max_participants: 25 },
  webinar: { max_participants: 100 },
  broadcast: { max_participants: 10_000 },
};

export function defaultSettings(type: RoomType, emptyTimeout: number): RoomSettings {
  return {
    type,
    max_participants: ROOM_TEMPLATES[type].max_participants,
    empty_timeout: emptyTimeout,
    lobby: false,
    recording_allowed: true,
    locked: false,
    metadata: {},
  };
}

export function resolveSettings(row: StoredRoomSettings, defaultEmptyTimeout: number): RoomSettings {
  const type = (row.type in ROOM_TEMPLATES ? row.type : 'group') as RoomType;
  return {
    type,
    max_participants: row.max_participants ?? ROOM_TEMPLATES[type].max_participants,
    empty_timeout: row.empty_timeout ?? defaultEmptyTimeout,
    lobby: row.lobby,
    recording_allowed: row.recording_allowed,
    locked: row.locked,
    metadata: row.metadata ?? {},
  };
}

/** For the recording branch: may this room be recorded? */
export function recordingAllowed(settings: Pick<RoomSettings, 'recording_allowed'>): boolean {
  return settings.recording_allowed;
}
