// The SDK's public types: client options, the tracks it publishes and
// receives, and the events SwitchboardClient emits.

import type { BuiltinHandlerName, Consumer, ConnectionState as TransportConnectionState, Producer } from 'mediasoup-client/types';
import type {
  LiveChatMessage,
  LiveLayout,
  LiveReactionCounts,
  LiveStreamInfo,
  MediaKind,
  ParticipantInfo,
  RoomState,
  ServerPayloads,
  ServerType,
  Source,
} from '../../../signaling/protocol/protocol.js';
import type { Call } from './call.js';
import type { ReconnectOptions, StateChange } from './signaling.js';

export interface ClientOptions {
  /** Consume every producer of the room as it appears (default true). */
  autoSubscribe?: boolean;
  /** Publish the camera in three simulcast layers (default true); with VP9, three SVC spatial layers instead. */
  simulcast?: boolean;
  /** Video codec for camera and screen (default VP8). Must be one the browser and the SFU share. */
  videoCodec?: VideoCodec;
  reconnect?: ReconnectOptions;
  requestTimeoutMs?: number;
  heartbeatMs?: number;
  /** mediasoup-client handler; detected from the browser when absent (Chrome111 on Chromium >= 111). */
  handlerName?: BuiltinHandlerName;
  /** STUN/TURN servers for the transports (the SFU itself needs none on a reachable network). */
  iceServers?: RTCIceServer[];
  iceTransportPolicy?: RTCIceTransportPolicy;
  /** Ask the SFU for ICE over TCP only (networks that block UDP). */
  forceTcp?: boolean;
  /** How long a transport may stay `disconnected` before an ICE restart (default 2000 ms). */
  iceDisconnectedGraceMs?: number;
  /**
   * Calls: 1:1 calls go peer-to-peer first (default true); false sends every call through the SFU.
   */
  p2p?: boolean;
  /** Calls: how long a peer-to-peer connection may stay `disconnected` before the call moves to the SFU (default 3000 ms). */
  p2pDisconnectedGraceMs?: number;
  /** Calls: how long a peer-to-peer connection may take to connect before the call moves to the SFU (default 10000 ms). */
  p2pConnectTimeoutMs?: number;
  /**
   * Calls: how long received peer-to-peer media may stop (the other side not on hold)
   * before the call moves to the SFU (default 1500 ms; 0 = only ICE decides).
   */
  p2pStallMs?: number;
}

export type VideoCodec = 'VP8' | 'VP9' | 'H264';

export interface JoinOptions {
  displayName?: string;
  capabilities?: Record<string, unknown>;
  /** How long `join` may wait in a room's lobby for a moderator (default 10 minutes). */
  lobbyTimeoutMs?: number;
}

export interface PublishOptions {
  /** The microphone: true or getUserMedia audio constraints. */
  audio?: boolean | MediaTrackConstraints;
  /** The camera: true or getUserMedia video constraints (default ideal 1280x720). */
  video?: boolean | MediaTrackConstraints;
  /** The screen (and its audio when the user shares it): true or getDisplayMedia options. */
  screen?: boolean | DisplayMediaStreamOptions;
  /** Overrides ClientOptions.simulcast for this camera. */
  simulcast?: boolean;
}

/** Something this client publishes. The track belongs to the SDK until unpublished. */
export interface LocalTrack {
  source: Source;
  kind: MediaKind;
  track: MediaStreamTrack;
  /** Null while (re)publishing. */
  producer: Producer | null;
  simulcast: boolean;
  /**
   * Dynacast (`publisher-layers`): the producer encodes spatial layers
   * 0..maxSpatialLayer only; null: none (nobody receives it); undefined: every
   * layer (the server said nothing since this producer was made).
   */
  maxSpatialLayer?: number | null;
}

/** Something another participant publishes, as this client receives it (through the SFU, or peer-to-peer in a 1:1 call). */
export interface RemoteTrack {
  /** The SFU producer's id; on a peer-to-peer call `p2p-<participant id>-<kind>`. */
  producerId: string;
  /** The SFU consumer's id; on a peer-to-peer call the same as producerId. */
  consumerId: string;
  participantId: string;
  kind: MediaKind;
  source: Source;
  track: MediaStreamTrack;
  /** How it arrives: `sfu` (a mediasoup consumer) or `p2p` (an RTCPeerConnection to the participant). */
  via: 'sfu' | 'p2p';
  /** The mediasoup-client consumer (null on a peer-to-peer call). */
  consumer: Consumer | null;
  /** The RTCRtpReceiver it arrives on (getStats); null when the browser does not say. */
  receiver: RTCRtpReceiver | null;
  /** The publisher paused it (muted). */
  paused: boolean;
  /** This client paused receiving it (setSubscriptionPaused): no media flows until resumed. */
  subscriptionPaused: boolean;
  /** It comes in layers (simulcast or SVC): setPreferredLayers applies (a single-layer consumer refuses it). */
  layered: boolean;
  /** The simulcast layer received now (null: none or not simulcast). */
  spatialLayer: number | null;
  temporalLayer: number | null;
}

export interface LiveStartOptions {
  /** `speaker` (default: one participant), `active-speaker` (follows who speaks) or `grid` (everyone). */
  layout?: LiveLayout;
  /** Whom a speaker layout shows first (must publish something); default: the first host/moderator/speaker with a camera. */
  participantId?: string;
}

/** What `watchLive` learns about a room's stream (also the payload of the `live-watching` event). */
export interface LiveWatch {
  room: string;
  /** The stream while it is preparing or live (or just ended); null when the room is not live. */
  stream: LiveStreamInfo | null;
  /** The HLS playlist as an absolute URL (signed for this user unless streams are public); null while not playable. */
  playlistUrl: string | null;
  /** The latest chat messages, oldest first. */
  chat: LiveChatMessage[];
  pinned: LiveChatMessage | null;
  /** Reaction totals so far. */
  reactions: LiveReactionCounts;
  /** True when the SDK watched again by itself after a reconnect. */
  rewatched: boolean;
}

/** Events the SDK adds to the server's own. */
export interface SdkEvents {
  'connection-state': StateChange;
  /** Joined (rejoined: again, after a reconnect, with a new participant id). */
  'room-joined': { participantId: string; roomState: RoomState; rejoined: boolean };
  /** Not in the room anymore: left, the call ended, or joining again after a reconnect failed. */
  'room-left': { reason: string };
  'participant-joined': ParticipantInfo;
  'participant-left': { participant_id: string; reason: string };
  /** Mute, hold or deafen state changed (also for this client's own participant). */
  'participant-updated': ParticipantInfo;
  'track-added': RemoteTrack;
  'track-removed': RemoteTrack;
  /** Paused/resumed by its publisher or by this client (setSubscriptionPaused), or its simulcast layer changed. */
  'track-updated': RemoteTrack;
  /** Published (again, after a media reset). */
  'local-track-added': LocalTrack;
  'local-track-removed': LocalTrack;
  /** The same producer sends another device's track now (switchDevice): show `track` where the old one was. */
  'local-track-replaced': LocalTrack;
  /** Dynacast: the local track's producer now encodes only `maxSpatialLayer` and below (null: nothing). */
  'local-track-layers': LocalTrack;
  /** Every transport, producer and consumer was dropped and is being rebuilt. */
  'media-reset': { reason: string };
  'transport-state': { direction: 'send' | 'recv'; state: TransportConnectionState };
  /** A background media operation failed (auto-subscribe, republish, ICE restart). */
  'media-error': { action: string; error: Error };
  /** Someone calls this user (every device of the user rings). Answer with call.accept() or call.decline(). */
  'incoming-call': Call;
  /** A call's media moved: `p2p` (a direct connection to the other person) or `sfu` (through the server). */
  'call-media': { call: Call; mode: 'p2p' | 'sfu'; reason: string };
  /** This connection watches a room's stream: after watchLive(), and again by itself after a reconnect (rewatched). */
  'live-watching': LiveWatch;
}

/** Server events other than replies, passed through unchanged after the SDK has handled them. */
export type ServerEvents = { [K in Exclude<ServerType, 'ack' | 'joined'>]: ServerPayloads[K] };

export type SwitchboardEvents = SdkEvents & ServerEvents;

/** How the client's parts announce SDK events through the client (internal; not exported by index.ts). */
export type EmitSdkEvent = <K extends keyof SdkEvents>(type: K, payload: SwitchboardEvents[K]) => void;

/** A server event with its type and payload tied together, so a switch on `type` narrows `payload`. */
export type ServerMessage = { [T in ServerType]: { type: T; payload: ServerPayloads[T] } }[ServerType];
