import type { Config } from '../server/kernel/config.js';
import type { Logger } from '../server/kernel/logger.js';
import type { Metrics } from '../server/kernel/metrics.js';
import type { MediaService } from '../server/domain/rooms/mediaService.js';
import type { RoomService } from '../server/domain/rooms/roomService.js';
import type { RoomControl } from '../server/domain/rooms/roomControl.js';
import type { TokenVerifier } from '../server/edges/auth/auth.js';
import type { IceServers } from '../server/edges/auth/turnCredentials.js';
import type { RecordingService } from '../server/domain/recordings/recordingService.js';
import type { RoomRecordings } from '../server/domain/recordings/roomRecordings.js';
import type { LiveService } from '../server/domain/live/liveService.js';
import type { CallService } from '../server/domain/calls/callService.js';
import type { CallDeclineReason, CallParty, ClientPayloads } from './protocol/protocol.js';
import type { Client } from './client.js';

/**
 * Cluster: what handlers use of the relay (ClusterRelay implements it). Typed
 * by this interface, not the class: clusterRelay.ts imports session.ts.
 */
export interface JoinRouter {
  /** Handles a join whose room runs on another node (true), or leaves it to the local rooms domain (false). */
  joinElsewhere(client: Client, payload: ClientPayloads['join'], id: string | undefined): Promise<boolean>;
}

/** Cluster: answers to calls that ring from another node go to that node (the cluster edge implements it). */
export interface CallRouter {
  /** Relays the accept (and so the call's room) to the call's node (true), or leaves it to this node (false). */
  acceptElsewhere(client: Client, payload: ClientPayloads['call-accept'], id: string | undefined): Promise<boolean>;
  /** Passes the decline to the call's node (true), or leaves it to this node (false). */
  declineElsewhere(callId: string, by: CallParty, reason: CallDeclineReason): Promise<boolean>;
}

/** What message handlers may use: the layers below signaling, nothing of the socket. */
export interface HubContext {
  config: Pick<Config, 'limits' | 'trustProxyHops'>;
  verifier: TokenVerifier;
  /** STUN/TURN servers (with TURN credentials) the `auth` ack hands out; absent: none (signaling-only tests). */
  ice?: IceServers;
  rooms: RoomService;
  media: MediaService;
  /** Room control: roles, hands, moderation, lobby, data, whiteboard. */
  control: RoomControl;
  metrics: Metrics;
  /** Live streaming: go live, watchers, stream chat and reactions (absent in signaling-only tests). */
  live?: LiveService;
  /** Cluster: joins of rooms that run on another node go through it (absent on a single node). */
  cluster?: JoinRouter;
  log: Logger;
  /** Calls: ringing users (absent in signaling-only tests). */
  calls?: CallService;
  /** Cluster: calls of other nodes (absent on a single node). */
  callRouter?: CallRouter;
  /** Recording: start/stop by hosts and moderators; absent without an SFU. */
  recording?: RecordingService;
  /** Recording: the room's recordings with download links, for its staff (absent in signaling-only tests). */
  roomRecordings?: RoomRecordings;
}
