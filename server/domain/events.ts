// Room events the rest of the app reacts to (webhooks first of all). The
// rooms domain, the SFU side and recording emit them through this one small
// interface; the webhook outbox is one implementation, tests may add others.

export const EVENT_NAMES = [
  'room_started',
  'room_finished',
  'participant_joined',
  'participant_left',
  'track_published',
  'track_unpublished',
  'recording_started',
  'recording_finished',
  'live_stream_started',
  'live_stream_finished',
  'call_ringing',
  'call_missed',
] as const;
export type EventName = (typeof EVENT_NAMES)[number];

export interface RoomEvent {
  name: EventName;
  room: string;
  /** Event-specific fields (participant, track, recording...), JSON-serializable. */
  data: Record<string, unknown>;
}

export interface EventSink {
  /**
   * Records the event. Durable implementations resolve once it is stored, so
   * callers that await it know it will be delivered; fire-and-forget callers
   * must not let a rejection escape.
   */
  emit(event: RoomEvent): Promise<void>;
}

/** For nodes and tests without webhooks configured. */
export const noEvents: EventSink = { emit: async () => {} };
