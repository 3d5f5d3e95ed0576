// Switchboard browser SDK. Bundled by clients/browser/build.mjs into
// dist/browser/switchboard.js (ESM), and as a package by npm run build:sdk
// (dist/sdk/: switchboard.js, index.d.ts, package.json); see docs/sdk.md.

export { SwitchboardClient } from './client.js';
export { SDK_VERSION } from './version.js';
export { isLiveActive, LIVE_CHAT_MAX_CHARS, LIVE_REACTIONS } from './live.js';
export { CAMERA_SIMULCAST, CAMERA_SVC } from './encodings.js';
export { REACTIONS } from './reactions.js';
export { deviceConstraints, type DeviceChoice } from './capture.js';
export {
  Call,
  type AcceptOptions,
  type CallDirection,
  type CallEvents,
  type CallMediaMode,
  type CallOptions,
  type CallStatus,
  type DtmfOptions,
} from './call.js';
export type {
  ClientOptions,
  VideoCodec,
  JoinOptions,
  LiveStartOptions,
  LiveWatch,
  PublishOptions,
  LocalTrack,
  RemoteTrack,
  SdkEvents,
  ServerEvents,
  SwitchboardEvents,
} from './types.js';
export {
  Signaling,
  SignalingError,
  signalingUrl,
  type ConnectionState,
  type ReconnectOptions,
  type Reply,
  type SignalingOptions,
  type StateChange,
  type TokenSource,
} from './signaling.js';
export { Emitter, type Listener } from './emitter.js';
export type {
  CallDeclineReason,
  CallEndReason,
  CallMedia,
  CallParty,
  ChatMessage,
  Identity,
  LiveChatMessage,
  LiveLayout,
  LiveReaction,
  LiveReactionCounts,
  LiveStatus,
  LiveStreamInfo,
  LiveViewerCounts,
  LobbyEntry,
  MediaKind,
  ParticipantInfo,
  ProducerInfo,
  Quality,
  RaisedHand,
  RecordingState,
  RoomRecording,
  RoomRecordingFile,
  RoomSettings,
  RoomState,
  Role,
  Source,
  Track,
  WhiteboardStroke,
} from '../../../signaling/protocol/protocol.js';
