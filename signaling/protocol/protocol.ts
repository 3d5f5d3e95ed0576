// The wire protocol in one place: every client request and every server
// message, as schemas (validation) and as a discriminated union (types).
// docs/protocol.md is written for client authors from this file.

import {
  array,
  boolean,
  integer,
  jsonObject,
  jsonValue,
  nullable,
  object,
  oneOf,
  optional,
  string,
  type Infer,
  type Schema,
} from './schema.js';
import { dtlsParameters, rtpCapabilities, rtpParameters, sctpStreamParameters } from './mediasoupSchemas.js';
import { ERROR_CODES, type ErrorCode } from '../../server/kernel/errors.js';
import {
  KINDS,
  LIVE_LAYOUTS,
  SOURCES,
  SOURCE_KIND,
  type DataProducerInfo,
  type LiveLayout,
  type MediaKind,
  type ProducerInfo,
  type Quality,
  type Source,
} from '../../server/kernel/media.js';

// The kernel's words are the catalog's words too.
export { ERROR_CODES, KINDS, LIVE_LAYOUTS, SOURCES, SOURCE_KIND };
export type { DataProducerInfo, ErrorCode, LiveLayout, MediaKind, ProducerInfo, Quality, Source };

export const ROLES = ['host', 'moderator', 'speaker', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export const TRACKS = ['audio', 'video'] as const;
export type Track = (typeof TRACKS)[number];

/** A room's call: pending (nobody talks yet), ringing (a call-invite rings its invitees), active, ended. */
export type CallState = 'pending' | 'ringing' | 'active' | 'ended';

export type LeaveReason =
  | 'left'
  | 'disconnected'
  | 'replaced'
  | 'call-ended'
  | 'server-shutdown'
  // Removed by a moderator (kick) or by the app's backend (REST leave).
  | 'kicked'
  | 'removed'
  // The room moved to another node (drain), or the node that ran it died.
  | 'migrated'
  | 'node-failure';

/** WebSocket close codes the server uses (4000-4999 are application codes). */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001, // server shutting down
  messageTooBig: 1009, // ws enforces the size limit itself
  tryAgainLater: 1013, // MAX_CONNECTIONS reached
  unauthorized: 4001, // bad token, token for another room, or no auth in time
  rateLimited: 4008, // sustained flooding after rate_limited errors
  replaced: 4009, // same user joined the same room from another connection
  // Reconnect (through the load balancer) and join again; a `reconnect` event says why.
  reconnect: 4012,
} as const;

const ID = string({ min: 1, max: 64 });

export const DIRECTIONS = ['send', 'recv'] as const;
export const ROOM_NAME = string({
  min: 1,
  max: 128,
  pattern: /^[A-Za-z0-9_.:@-]+$/,
  hint: 'may contain only letters, digits and _ . : @ -',
});
const SDP = string({ min: 1, max: 32_768 });
// DTMF as in RTCDTMFSender.insertDTMF: tones 0-9 A-D * #, ',' is a 2 s pause.
const DTMF_TONES = string({
  min: 1,
  max: 64,
  pattern: /^[0-9A-Da-d*#,]+$/,
  hint: 'may contain only 0-9, A-D, *, # and , (pause)',
});

// ---- Room control: room types, limits and requests (roles, hands, moderation, settings, lobby, data, whiteboard) ----

export const ROOM_TYPES = ['individual', 'group', 'webinar', 'broadcast'] as const;
export type RoomType = (typeof ROOM_TYPES)[number];
/** Largest `data` of a `send-data` message (serialized JSON). */
export const DATA_MESSAGE_MAX_BYTES = 16 * 1024;
/** Largest whiteboard stroke (serialized JSON). */
export const WHITEBOARD_STROKE_MAX_BYTES = 8 * 1024;
const TOPIC = string({ min: 1, max: 64, pattern: /^[A-Za-z0-9_.:/-]+$/, hint: 'may contain only letters, digits and _ . : / -' });
export const USER_ID = string({ min: 1, max: 128 });

/** Settings a host (or REST) may change; absent fields stay as they are. */
export const roomSettingsPatch = object({
  type: optional(oneOf(ROOM_TYPES)),
  max_participants: optional(integer({ min: 1, max: 100_000 })),
  empty_timeout: optional(integer({ min: 0, max: 7 * 86400 })),
  lobby: optional(boolean()),
  recording_allowed: optional(boolean()),
  metadata: optional(jsonObject({ maxBytes: 16 * 1024 })),
});

const roomControlSchemas = {
  'set-role': object({ participant_id: ID, role: oneOf(ROLES) }),
  'raise-hand': object({}),
  'lower-hand': object({ user_id: optional(USER_ID) }),
  'acknowledge-hand': object({ user_id: optional(USER_ID), promote: optional(boolean()) }),
  'mute-participant': object({ participant_id: ID, track: oneOf(TRACKS) }),
  'mute-all': object({ track: optional(oneOf(TRACKS)) }),
  kick: object({ participant_id: ID, reason: optional(string({ max: 256 })) }),
  'lock-room': object({}),
  'unlock-room': object({}),
  'update-room': roomSettingsPatch,
  admit: object({ user_id: USER_ID }),
  deny: object({ user_id: USER_ID, reason: optional(string({ max: 256 })) }),
  'send-data': object({ topic: TOPIC, data: jsonValue({ maxBytes: DATA_MESSAGE_MAX_BYTES }), to: optional(ID) }),
  'whiteboard-draw': object({ stroke: jsonObject({ maxBytes: WHITEBOARD_STROKE_MAX_BYTES }) }),
  'whiteboard-clear': object({}),
} satisfies Record<string, Schema<unknown>>;

// ---- In-call chat: requests (everyone in the room writes; authors and hosts/moderators delete) ----

/** Longest in-call chat message (characters). */
export const CHAT_MAX_CHARS = 2000;
/** How many of the call's latest messages `joined` carries (oldest first). */
export const CHAT_HISTORY = 100;
const ROOM_CHAT_MESSAGE_ID = string({ min: 1, max: 18, pattern: /^[0-9]+$/, hint: 'is a message id (digits)' });

const chatSchemas = {
  'chat-send': object({ text: string({ min: 1, max: CHAT_MAX_CHARS }), reply_to: optional(ROOM_CHAT_MESSAGE_ID) }),
  'chat-delete': object({ message_id: ROOM_CHAT_MESSAGE_ID }),
} satisfies Record<string, Schema<unknown>>;

// ---- Recording: modes and requests (start/stop by hosts and moderators) ----

export const RECORDING_MODES = ['tracks', 'composite'] as const;
const recordingSchemas = {
  'start-recording': object({ mode: optional(oneOf(RECORDING_MODES)) }),
  'stop-recording': object({}),
  'list-recordings': object({ limit: optional(integer({ min: 1, max: 100 })) }),
} satisfies Record<string, Schema<unknown>>;

// ---- Live streaming: layouts, reactions, limits and requests (go live over HLS, stream chat, reactions) ----

export const LIVE_REACTIONS = ['heart', 'like', 'fire', 'clap', 'laugh', 'wow', 'sad', 'angry'] as const;
export type LiveReaction = (typeof LIVE_REACTIONS)[number];
/**
 * What the stream shows: one participant's camera (or screen) and microphone;
 * `speaker` keeps that participant until changed, `active-speaker` follows
 * the room's dominant speaker. `grid`: everyone's video tiled, all audio mixed.
 */
export const LIVE_CHAT_MAX_CHARS = 500;
const CHAT_MESSAGE_ID = string({ min: 1, max: 20, pattern: /^[0-9]+$/, hint: 'is a message id (digits)' });

const liveSchemas = {
  'live-start': object({ layout: optional(oneOf(LIVE_LAYOUTS)), participant_id: optional(ID) }),
  'live-stop': object({}),
  'live-show': object({ participant_id: ID }),
  'live-watch': object({ room: ROOM_NAME }),
  'live-unwatch': object({}),
  'live-chat': object({ text: string({ min: 1, max: LIVE_CHAT_MAX_CHARS }) }),
  'live-chat-delete': object({ message_id: CHAT_MESSAGE_ID }),
  'live-chat-pin': object({ message_id: CHAT_MESSAGE_ID }),
  'live-chat-unpin': object({}),
  'live-react': object({ reaction: oneOf(LIVE_REACTIONS) }),
} satisfies Record<string, Schema<unknown>>;

// ---- Calls: ringing users (docs/calls.md) ----

export const CALL_MEDIA = ['audio', 'video'] as const;
export type CallMedia = (typeof CALL_MEDIA)[number];
/** How many users one call-invite may ring. */
export const CALL_MAX_INVITEES = 99;
/** Longest `may_call` claim (the users a token may ring). */
export const MAY_CALL_MAX = 1000;
export const CALL_DECLINE_REASONS = ['declined', 'busy'] as const;
export type CallDeclineReason = (typeof CALL_DECLINE_REASONS)[number];
/** Why a call ended: completed (people talked), or its ringing ended without anyone answering. */
export const CALL_END_REASONS = ['completed', 'declined', 'cancelled', 'missed', 'busy', 'failed'] as const;
export type CallEndReason = (typeof CALL_END_REASONS)[number];
/** One invitee's side of a call, kept apart from the call's end reason. */
export type InviteeStatus = 'invited' | 'ringing' | 'accepted' | 'declined' | 'missed' | 'cancelled';
export type CallType = 'direct' | 'group';
const CALL_ID = string({ min: 36, max: 36, pattern: /^[0-9a-f-]{36}$/, hint: 'is a call id (a UUID)' });

const callSchemas = {
  'call-invite': object({
    to: array(USER_ID, { min: 1, max: CALL_MAX_INVITEES }),
    media: oneOf(CALL_MEDIA),
    /** Invite more people into the running call this connection is in. */
    call_id: optional(CALL_ID),
    display_name: optional(string({ max: 128 })),
    metadata: optional(jsonObject({ maxBytes: 4096 })),
  }),
  'call-accept': object({ call_id: CALL_ID, display_name: optional(string({ max: 128 })) }),
  'call-decline': object({ call_id: CALL_ID, reason: optional(oneOf(CALL_DECLINE_REASONS)) }),
  'call-cancel': object({ call_id: CALL_ID }),
};

// ---- Client requests: every request and its payload schema ----

export const clientSchemas = {
  auth: object({ token: string({ min: 1, max: 8192 }) }),
  join: object({
    room: ROOM_NAME,
    display_name: optional(string({ max: 128 })),
    capabilities: optional(jsonObject({ maxBytes: 4096 })),
  }),
  leave: object({}),
  offer: object({ to: ID, sdp: SDP }),
  answer: object({ to: ID, sdp: SDP }),
  'ice-candidate': object({
    to: ID,
    candidate: string({ max: 1024 }), // '' is the end-of-candidates marker
    sdpMid: optional(nullable(string({ max: 64 }))),
    sdpMLineIndex: optional(nullable(integer({ min: 0, max: 1024 }))),
  }),
  mute: object({ track: oneOf(TRACKS) }),
  unmute: object({ track: oneOf(TRACKS) }),
  hold: object({}),
  unhold: object({}),
  /** Stops hearing the room (shown to the others; what this participant publishes still plays). */
  deafen: object({}),
  undeafen: object({}),
  /** A floating emoji over the sender's tile for everyone in the room; rate limited, never stored. */
  react: object({ reaction: oneOf(LIVE_REACTIONS) }),
  dtmf: object({
    tones: DTMF_TONES,
    to: optional(ID),
    duration: optional(integer({ min: 40, max: 6000 })),
    gap: optional(integer({ min: 30, max: 6000 })),
  }),
  'end-call': object({}),
  ping: object({ t: optional(integer({ min: 0, max: Number.MAX_SAFE_INTEGER })) }),

  // SFU (group calls). mediasoup objects (rtp_parameters, dtls_parameters, ...)
  // travel as mediasoup defines them (camelCase inside), checked field by field
  // by our own schemas (mediasoupSchemas.ts) before mediasoup sees them.
  'sfu-capabilities': object({}),
  'create-transport': object({ direction: oneOf(DIRECTIONS), sctp: optional(boolean()), force_tcp: optional(boolean()) }),
  'connect-transport': object({ transport_id: ID, dtls_parameters: dtlsParameters }),
  'restart-ice': object({ transport_id: ID }),
  produce: object({
    transport_id: ID,
    kind: oneOf(KINDS),
    rtp_parameters: rtpParameters,
    source: oneOf(SOURCES),
    paused: optional(boolean()),
  }),
  'pause-producer': object({ producer_id: ID }),
  'resume-producer': object({ producer_id: ID }),
  'close-producer': object({ producer_id: ID }),
  consume: object({ transport_id: ID, producer_id: ID, rtp_capabilities: rtpCapabilities }),
  'pause-consumer': object({ consumer_id: ID }),
  'resume-consumer': object({ consumer_id: ID }),
  'set-consumer-layers': object({
    consumer_id: ID,
    spatial_layer: integer({ min: 0, max: 3 }),
    temporal_layer: optional(integer({ min: 0, max: 3 })),
  }),
  'produce-data': object({
    transport_id: ID,
    sctp_stream_parameters: sctpStreamParameters,
    label: optional(string({ max: 128 })),
    protocol: optional(string({ max: 128 })),
  }),
  'consume-data': object({ transport_id: ID, data_producer_id: ID }),
  'close-data-producer': object({ data_producer_id: ID }),
  'get-stats': object({ transport_id: optional(ID), producer_id: optional(ID), consumer_id: optional(ID) }),

  ...roomControlSchemas,
  ...chatSchemas,
  ...recordingSchemas,
  ...liveSchemas,
  ...callSchemas,
} satisfies Record<string, Schema<unknown>>;

export type ClientPayloads = { [K in keyof typeof clientSchemas]: Infer<(typeof clientSchemas)[K]> };
export type ClientType = keyof ClientPayloads;
export type ClientMessage = {
  [K in ClientType]: { type: K; id?: string; payload: ClientPayloads[K] };
}[ClientType];

// ---- Shared state: identity, participants, calls, media ----

export interface Identity {
  user_id: string;
  name: string;
  role: Role;
  /** The only room this token may join, when the token restricts it. */
  room: string | null;
  expires_at: number; // unix seconds
  /** The users this token may ring (its `may_call` claim); absent: anyone. */
  may_call?: string[];
}

/**
 * What `auth` acks and `authenticated` carries: the identity plus the STUN/TURN
 * servers for this user, as the browser's RTCConfiguration.iceServers takes them
 * (absent when the node hands out none: no ICE_SERVERS, or only TURN ones without TURN_SECRET).
 */
export interface AuthResult extends Identity {
  ice_servers?: IceServer[];
}

/** An RTCIceServer: STUN entries carry no credentials; TURN ones carry a short-lived TURN REST API credential. */
export interface IceServer {
  urls: string[];
  /** `<expiry unix seconds>:<user_id>` (TURN only). */
  username?: string;
  /** base64(HMAC-SHA1(TURN_SECRET, username)) (TURN only). */
  credential?: string;
}

export interface ParticipantInfo {
  participant_id: string;
  user_id: string;
  display_name: string;
  role: Role;
  audio_muted: boolean;
  video_muted: boolean;
  on_hold: boolean;
  /** Hears nobody (the participant's own choice, see `deafen`); still audible to the others when publishing. */
  deafened: boolean;
  /** From SFU scores; null until the participant sends or receives SFU media. */
  connection_quality: Quality | null;
  joined_at: string; // ISO 8601
}

export interface CallInfo {
  call_id: string;
  state: CallState;
}

/** A transport as mediasoup-client's createSendTransport/createRecvTransport take it. */
export interface TransportOptions {
  id: string;
  iceParameters: unknown;
  iceCandidates: unknown[];
  dtlsParameters: unknown;
  sctpParameters?: unknown;
}

/** Who a call event is about. */
export interface CallParty {
  user_id: string;
  display_name: string;
}

// ---- Shared state: room control ----

export interface RoomSettings {
  type: RoomType;
  max_participants: number;
  /** Seconds a room with nobody in it stays open before its call ends. */
  empty_timeout: number;
  lobby: boolean;
  recording_allowed: boolean;
  locked: boolean;
  metadata: Record<string, unknown>;
}

export interface RaisedHand {
  user_id: string;
  participant_id: string | null;
  display_name: string;
  raised_at: string; // ISO 8601
}

export interface LobbyEntry {
  user_id: string;
  display_name: string;
  role: Role;
  waiting_since: string; // ISO 8601
}

export interface WhiteboardStroke {
  stroke_id: string;
  participant_id: string;
  user_id: string;
  stroke: Record<string, unknown>;
}

// ---- Shared state: in-call chat ----

/** A message of the room's call chat (the sender's name as it was when sent). */
export interface ChatMessage {
  message_id: string;
  participant_id: string;
  user_id: string;
  display_name: string;
  text: string;
  /** The message this one answers (its id), or null. */
  reply_to: string | null;
  sent_at: string; // ISO 8601
}

// ---- Shared state: recording ----

export type RecordingModeName = (typeof RECORDING_MODES)[number];

/** A recording in progress, as participants see it. */
export interface RecordingState {
  recording_id: string;
  mode: RecordingModeName;
  started_at: string; // ISO 8601
  /** User id of the host/moderator who started it, 'api' (REST) or 'auto' (room settings). */
  started_by: string;
}

/** A file of a recording, as the room's staff see it (`list-recordings`). */
export interface RoomRecordingFile {
  file_id: string;
  name: string;
  /** Whose media it holds (null: the composite file). */
  user_id: string | null;
  content_type: string;
  size_bytes: number;
  duration_seconds: number | null;
  status: RecordingStatusName;
  /** A signed link that downloads it until `urls_expire_at` (a path on this server, or an S3 URL); null while recording. */
  download_url: string | null;
}

export type RecordingStatusName = 'recording' | 'processing' | 'ready' | 'failed';

/** A recording of the room, as its staff see it (`list-recordings`). */
export interface RoomRecording {
  recording_id: string;
  mode: RecordingModeName;
  status: RecordingStatusName;
  started_by: string | null;
  started_at: string; // ISO 8601
  ended_at: string | null;
  end_reason: string | null;
  duration_seconds: number | null;
  size_bytes: number;
  files: RoomRecordingFile[];
}

// ---- Shared state: live streaming ----

export type LiveStatus = 'preparing' | 'live' | 'ended' | 'failed';

export interface LiveViewerCounts {
  /** Distinct viewers now: WebSocket watchers plus HLS players seen within LIVE_VIEWER_TIMEOUT_SECONDS. */
  current: number;
  peak: number;
  /** Distinct viewers since the stream started. */
  total: number;
}

export interface LiveStreamInfo {
  stream_id: string;
  room: string;
  call_id: string | null;
  status: LiveStatus;
  layout: LiveLayout;
  /** Whose media the stream shows (null for a grid). */
  participant_id: string | null;
  started_by: string | null;
  created_at: string; // ISO 8601
  live_at: string | null;
  ended_at: string | null;
  /** `stopped`, `room-closed`, `source-left`, `ffmpeg-failed`, `server-shutdown`, `server-restart`. */
  end_reason: string | null;
  error: string | null;
  viewers: LiveViewerCounts;
}

export interface LiveChatMessage {
  message_id: string;
  user_id: string;
  display_name: string;
  text: string;
  sent_at: string; // ISO 8601
}

export type LiveReactionCounts = Partial<Record<LiveReaction, number>>;

// ---- Shared state: cluster ----

/** Why the server asks a client to reconnect: its node drains, the room moved, or the node running the room died. */
export type ReconnectReason = 'node-draining' | 'room-moved' | 'node-failure';

// ---- Room state: what a joiner is told about the room (in `joined`) ----

export interface RoomState {
  // Calls and SFU
  room: string;
  call: CallInfo;
  participants: ParticipantInfo[];
  /** Media published through the SFU that the joiner may consume. */
  producers: ProducerInfo[];
  data_producers: DataProducerInfo[];
  // Room control
  settings?: RoomSettings;
  hands?: RaisedHand[];
  whiteboard?: WhiteboardStroke[];
  // In-call chat
  /** The call's latest messages (at most CHAT_HISTORY), oldest first. */
  chat?: ChatMessage[];
  // Recording
  /** The recording in progress, null when the room is not being recorded. */
  recording?: RecordingState | null;
  // Live streaming
  /** The room's stream while it is preparing or live, else null. */
  live?: LiveStreamInfo | null;
}

// ---- Replies: what `ack` carries per request ----

/** Requests answered with `joined` (the room state) instead of `ack`. */
export type JoinedReply = 'join' | 'call-accept';

/** What `ack` carries for each request that succeeds (the JoinedReply ones answer with `joined` instead). */
export interface AckResults {
  // Calls, signaling and SFU
  auth: AuthResult;
  leave: Record<string, never>;
  offer: Record<string, never>;
  answer: Record<string, never>;
  'ice-candidate': Record<string, never>;
  mute: Record<string, never>;
  unmute: Record<string, never>;
  hold: Record<string, never>;
  unhold: Record<string, never>;
  deafen: Record<string, never>;
  undeafen: Record<string, never>;
  react: Record<string, never>;
  dtmf: Record<string, never>;
  'end-call': Record<string, never>;
  ping: { t?: number; server_time: number };
  'sfu-capabilities': { router_rtp_capabilities: unknown };
  'create-transport': { transport: TransportOptions };
  'connect-transport': Record<string, never>;
  'restart-ice': { ice_parameters: unknown };
  produce: { producer_id: string };
  'pause-producer': Record<string, never>;
  'resume-producer': Record<string, never>;
  'close-producer': Record<string, never>;
  /** As mediasoup-client's recvTransport.consume takes it; the consumer starts paused. */
  consume: { consumer: { id: string; producerId: string; kind: MediaKind; rtpParameters: unknown; type: string; producerPaused: boolean } };
  'pause-consumer': Record<string, never>;
  'resume-consumer': Record<string, never>;
  'set-consumer-layers': Record<string, never>;
  'produce-data': { data_producer_id: string };
  'consume-data': { data_consumer: { id: string; dataProducerId: string; sctpStreamParameters: unknown; label: string; protocol: string } };
  'close-data-producer': Record<string, never>;
  'get-stats': { stats: unknown[] };
  // Room control
  'set-role': Record<string, never>;
  'raise-hand': { position: number };
  'lower-hand': Record<string, never>;
  'acknowledge-hand': { hand: RaisedHand };
  'mute-participant': Record<string, never>;
  'mute-all': { muted: number };
  kick: Record<string, never>;
  'lock-room': Record<string, never>;
  'unlock-room': Record<string, never>;
  'update-room': { settings: RoomSettings };
  admit: Record<string, never>;
  deny: Record<string, never>;
  'send-data': Record<string, never>;
  'whiteboard-draw': { stroke_id: string };
  'whiteboard-clear': Record<string, never>;
  // In-call chat
  'chat-send': { message: ChatMessage };
  'chat-delete': Record<string, never>;
  // Recording
  'start-recording': { recording: RecordingState };
  'stop-recording': { recording_id: string; status: 'ready' | 'failed' };
  'list-recordings': { recordings: RoomRecording[]; urls_expire_at: string };
  // Live streaming
  'live-start': { stream: LiveStreamInfo };
  'live-stop': { stream: LiveStreamInfo };
  'live-show': { stream: LiveStreamInfo };
  'live-watch': {
    stream: LiveStreamInfo | null;
    playlist_url: string | null;
    chat: LiveChatMessage[];
    pinned: LiveChatMessage | null;
    reactions: LiveReactionCounts;
  };
  'live-unwatch': Record<string, never>;
  'live-chat': { message: LiveChatMessage };
  'live-chat-delete': Record<string, never>;
  'live-chat-pin': { message: LiveChatMessage };
  'live-chat-unpin': Record<string, never>;
  'live-react': Record<string, never>;
  // Calls (call-accept answers with `joined`, like join)
  /** `participant_id` and `room_state` when this invite started the call (the caller is now in its room). */
  'call-invite': { call_id: string; room: string; invited: string[]; participant_id?: string; room_state?: RoomState };
  'call-decline': Record<string, never>;
  'call-cancel': Record<string, never>;
}

// ---- Server messages: every message type and its payload ----

export interface ServerPayloads {
  // Calls, signaling and SFU
  authenticated: AuthResult;
  ack: AckResults[keyof AckResults];
  error: { code: ErrorCode; message: string; field?: string };
  joined: { participant_id: string; room_state: RoomState };
  'peer-joined': { participant: ParticipantInfo };
  'peer-left': { participant_id: string; reason: LeaveReason };
  offer: ClientPayloads['offer'] & { from: string };
  answer: ClientPayloads['answer'] & { from: string };
  'ice-candidate': ClientPayloads['ice-candidate'] & { from: string };
  mute: { from: string; track: Track };
  unmute: { from: string; track: Track };
  hold: { from: string };
  unhold: { from: string };
  deafen: { from: string };
  undeafen: { from: string };
  /** To everyone in the room, the sender included. */
  reaction: { participant_id: string; reaction: LiveReaction };
  dtmf: { from: string; tones: string; duration: number; gap: number };
  'call-state-changed': CallInfo & { reason?: string };
  'producer-added': ProducerInfo;
  'producer-removed': { producer_id: string; participant_id: string };
  'producer-paused': { producer_id: string; participant_id: string };
  'producer-resumed': { producer_id: string; participant_id: string };
  'consumer-closed': { consumer_id: string; producer_id: string };
  'consumer-paused': { consumer_id: string };
  'consumer-resumed': { consumer_id: string };
  'consumer-layers-changed': { consumer_id: string; spatial_layer: number | null; temporal_layer: number | null };
  /** Dynacast, to the publisher only: send spatial layers 0..max_spatial_layer of this producer (null: none). */
  'publisher-layers': { producer_id: string; max_spatial_layer: number | null };
  'data-producer-added': DataProducerInfo;
  'data-producer-removed': { data_producer_id: string; participant_id: string };
  'data-consumer-closed': { data_consumer_id: string };
  'active-speaker': { participant_id: string | null };
  'audio-levels': { levels: Array<{ participant_id: string; volume: number }> };
  'connection-quality': { participant_id: string; quality: Quality; score: number };
  'sfu-reset': { reason: string };
  // Room control
  'role-changed': { participant_id: string; role: Role; by: string | null };
  'hand-queue': { hands: RaisedHand[] };
  'hand-acknowledged': { user_id: string; participant_id: string | null; by: string | null };
  'participant-muted': { participant_id: string; track: Track; by: string | null };
  kicked: { reason: string; by: string | null; ban_seconds: number };
  'room-updated': { settings: RoomSettings };
  'lobby-waiting': { room: string };
  'lobby-updated': { waiting: LobbyEntry[] };
  data: { from: string | null; topic: string; data: unknown; to?: string };
  'whiteboard-stroke': WhiteboardStroke;
  'whiteboard-cleared': { by: string | null };
  // In-call chat
  'chat-message': { message: ChatMessage };
  'chat-deleted': { message_id: string; by: string | null };
  // Recording
  'recording-started': RecordingState;
  'recording-finished': {
    recording_id: string;
    status: 'ready' | 'failed';
    /** stopped, room-ended, failed, disk-full, server-shutdown, not-allowed */
    reason: string;
    error: string | null;
    duration_seconds: number;
  };
  // Live streaming
  'live-stream-updated': { stream: LiveStreamInfo };
  'live-chat-message': { stream_id: string; message: LiveChatMessage };
  'live-chat-deleted': { stream_id: string; message_id: string; by: string | null };
  'live-chat-pinned': { stream_id: string; message: LiveChatMessage | null; by: string | null };
  'live-reactions': { stream_id: string; counts: LiveReactionCounts; totals: LiveReactionCounts; interval_ms: number };
  'live-viewers': { stream_id: string; current: number; peak: number; total: number };
  // Calls: to every device of each invitee, and to the call's room
  /** `busy`: the invitee is in another call now (call waiting). `expires_at`: unix ms when the ringing stops. */
  'call-incoming': {
    call_id: string;
    room: string;
    from: CallParty;
    media: CallMedia;
    invited: string[];
    expires_at: number;
    busy: boolean;
    /** STUN/TURN servers with fresh credentials for answering (when the server has any). */
    ice_servers?: IceServer[];
  };
  'call-accepted': { call_id: string; by: CallParty };
  'call-declined': { call_id: string; by: CallParty; reason: CallDeclineReason };
  'call-cancelled': { call_id: string };
  'call-missed': { call_id: string; user_id: string };
  'call-answered-elsewhere': { call_id: string };
  'call-ended': { call_id: string; reason: CallEndReason };
  // Cluster: a node asks its clients to reconnect elsewhere
  /** Sent just before the server closes the socket with CloseCode.reconnect (4012): connect again and rejoin. */
  reconnect: { reason: ReconnectReason; room: string | null; retry_after_ms: number };
}
export type ServerType = keyof ServerPayloads;
export type ServerMessage = {
  [K in ServerType]: { type: K; id?: string; payload: ServerPayloads[K] };
}[ServerType];

export const DTMF_DEFAULT_DURATION_MS = 100;
export const DTMF_DEFAULT_GAP_MS = 70;

export function isClientType(type: string): type is ClientType {
  return Object.hasOwn(clientSchemas, type);
}

/** Serializes a server message; the one place outgoing JSON is made. */
export function encode(message: ServerMessage): string {
  return JSON.stringify(message);
}
