// Switchboard browser SDK. Bundled by clients/browser/build.mjs into
// dist/browser/switchboard.js (ESM); see docs/sdk.md.

export {
  SwitchboardClient, CAMERA_SIMULCAST, CAMERA_SVC,
  type ClientOptions, type VideoCodec, type JoinOptions, type PublishOptions, type LocalTrack, type RemoteTrack,
  type SdkEvents, type ServerEvents, type SwitchboardEvents,
} from './client.js';
export {
  Signaling, SignalingError, signalingUrl,
  type ConnectionState, type ReconnectOptions, type Reply, type SignalingOptions, type StateChange, type TokenSource,
} from './signaling.js';
export { Emitter, type Listener } from './emitter.js';
export type {
  Identity, MediaKind, ParticipantInfo, ProducerInfo, Quality, RoomState, Role, Source, Track,
} from '../../../signaling/protocol.js';
