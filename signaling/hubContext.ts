import type { Config } from '../server/config.js';
import type { Logger } from '../server/logger.js';
import type { Metrics } from '../server/metrics.js';
import type { MediaService } from '../server/rooms/mediaService.js';
import type { RoomService } from '../server/rooms/roomService.js';
import type { RoomControl } from '../server/rooms/roomControl.js';
import type { TokenVerifier } from './auth.js';
import type { RecordingService } from '../recording/recordingService.js';
import type { LiveService } from '../server/live/liveService.js';
import type { ClusterRelay } from './clusterRelay.js';

/** What message handlers may use: the layers below signaling, nothing of the socket. */
export interface HubContext {
  config: Pick<Config, 'limits' | 'trustProxyHops'>;
  verifier: TokenVerifier;
  rooms: RoomService;
  media: MediaService;
  /** Room control: roles, hands, moderation, lobby, data, whiteboard. */
  control: RoomControl;
  metrics: Metrics;
  /** Live streaming: go live, watchers, stream chat and reactions (absent in signaling-only tests). */
  live?: LiveService;
  /** Cluster: joins of rooms that run on another node go through it (absent on a single node). */
  cluster?: ClusterRelay;
  log: Logger;
  /** Recording: start/stop by hosts and moderators; absent without an SFU. */
  recording?: RecordingService;
}
