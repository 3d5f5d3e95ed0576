import type { Infer } from '../../signaling/schema.js';
import type { roomSettingsPatch } from '../../signaling/protocol.js';

/** A partial settings change (update-room, PATCH /api/v1/rooms/:room). */
export type RoomSettingsPatch = Infer<typeof roomSettingsPatch>;
