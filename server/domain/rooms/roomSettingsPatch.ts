import type { Infer } from '../../../signaling/protocol/schema.js';
import type { roomSettingsPatch } from '../../../signaling/protocol/protocol.js';

/** A partial settings change (update-room, PATCH /api/v1/rooms/:room). */
export type RoomSettingsPatch = Infer<typeof roomSettingsPatch>;
