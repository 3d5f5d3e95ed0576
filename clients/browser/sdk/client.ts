// SwitchboardClient: a thin layer over the Switchboard protocol and
// mediasoup-client for browsers. It mirrors clients/node/mediaBot.ts (the
// same requests in the same order) and adds what a real app needs: camera,
// mic and screen from the browser, simulcast, mute, auto-subscribe, and
// recovery (ICE restart, rebuilding media after `sfu-reset`, reconnecting the
// WebSocket and joining again).

import { Device } from 'mediasoup-client';
import type {
  BuiltinHandlerName, Consumer, ConnectionState as TransportConnectionState, IceParameters, Producer,
  RtpCapabilities, RtpEncodingParameters, RtpParameters, Transport, TransportOptions,
} from 'mediasoup-client/types';
import type {
  ClientPayloads, ClientType, Identity, MediaKind, ParticipantInfo, ProducerInfo, RoomState, ServerPayloads, ServerType, Source, Track,
  RaisedHand, Role, RoomSettings,
} from '../../../signaling/protocol.js';
import { Emitter } from './emitter.js';
import {
  Signaling, SignalingError, type ConnectionState, type ReconnectOptions, type Reply, type StateChange, type TokenSource,
} from './signaling.js';

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
}

/** Something another participant publishes, as this client receives it. */
export interface RemoteTrack {
  producerId: string;
  consumerId: string;
  participantId: string;
  kind: MediaKind;
  source: Source;
  track: MediaStreamTrack;
  consumer: Consumer;
  /** The publisher paused it (muted). */
  paused: boolean;
  /** The simulcast layer received now (null: none or not simulcast). */
  spatialLayer: number | null;
  temporalLayer: number | null;
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
  /** Mute or hold state changed (also for this client's own participant). */
  'participant-updated': ParticipantInfo;
  'track-added': RemoteTrack;
  'track-removed': RemoteTrack;
  /** Paused/resumed by its publisher, or its simulcast layer changed. */
  'track-updated': RemoteTrack;
  /** Published (again, after a media reset). */
  'local-track-added': LocalTrack;
  'local-track-removed': LocalTrack;
  /** Every transport, producer and consumer was dropped and is being rebuilt. */
  'media-reset': { reason: string };
  'transport-state': { direction: 'send' | 'recv'; state: TransportConnectionState };
  /** A background media operation failed (auto-subscribe, republish, ICE restart). */
  'media-error': { action: string; error: Error };
}

/** Server events other than replies, passed through unchanged after the SDK has handled them. */
export type ServerEvents = { [K in Exclude<ServerType, 'ack' | 'joined'>]: ServerPayloads[K] };

export type SwitchboardEvents = SdkEvents & ServerEvents;

/** Camera simulcast: quarter, half and full resolution; three temporal layers each. */
export const CAMERA_SIMULCAST: RtpEncodingParameters[] = [
  { rid: 'r0', scaleResolutionDownBy: 4, maxBitrate: 150_000, scalabilityMode: 'L1T3' },
  { rid: 'r1', scaleResolutionDownBy: 2, maxBitrate: 500_000, scalabilityMode: 'L1T3' },
  { rid: 'r2', scaleResolutionDownBy: 1, maxBitrate: 1_500_000, scalabilityMode: 'L1T3' },
];

/**
 * VP9 carries its layers in one stream (SVC, K-SVC as Chrome sends it): the
 * SFU still picks a spatial/temporal layer per subscriber, like simulcast.
 */
export const CAMERA_SVC: RtpEncodingParameters[] = [{ scalabilityMode: 'L3T3_KEY', maxBitrate: 1_500_000 }];
/** H264 simulcast without temporal-layer modes (not every H264 encoder has them). */
const CAMERA_SIMULCAST_H264: RtpEncodingParameters[] = CAMERA_SIMULCAST.map(({ scalabilityMode: _drop, ...e }) => e);

const DEFAULT_VIDEO: MediaTrackConstraints = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } };
const DEFAULT_AUDIO: MediaTrackConstraints = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

/** Thrown (internally) by media work that a reset or leave made pointless. */
class StaleError extends Error {
  constructor() {
    super('superseded by a media reset');
  }
}

const MUTE_SOURCE: Record<Track, Source> = { audio: 'mic', video: 'camera' };

export class SwitchboardClient extends Emitter<SwitchboardEvents> {
  readonly signaling: Signaling;
  identity: Identity | null = null;
  room: string | null = null;
  participantId: string | null = null;
  /** Everyone in the room, this client included. */
  readonly participants = new Map<string, ParticipantInfo>();
  /** Other participants' producers: what can be subscribed. */
  readonly producers = new Map<string, ProducerInfo>();
  /** What this client publishes, by source. */
  readonly localTracks = new Map<Source, LocalTrack>();
  /** What this client receives, by producer id. */
  readonly remoteTracks = new Map<string, RemoteTrack>();
  readonly muted: Record<Track, boolean> = { audio: false, video: false };
  device: Device | null = null;

  private readonly opts: ClientOptions;
  private joinOptions: JoinOptions = {};
  private deviceReady: Promise<Device> | null = null;
  private sendTransport: Promise<Transport> | null = null;
  private recvTransport: Promise<Transport> | null = null;
  private readonly transports = new Set<Transport>();
  private readonly subscribing = new Map<string, Promise<RemoteTrack>>();
  /** Producers subscribed explicitly (consumed again after a reset without autoSubscribe). */
  private readonly wanted = new Set<string>();
  private readonly iceRestarts = new Map<Transport, { attempts: number; timer?: ReturnType<typeof setTimeout> }>();
  /** Bumped whenever transports are dropped: work begun before then is stale. */
  private epoch = 0;

  constructor(opts: ClientOptions = {}) {
    super();
    this.opts = opts;
    this.signaling = new Signaling({
      ...(opts.reconnect ? { reconnect: opts.reconnect } : {}),
      ...(opts.requestTimeoutMs !== undefined ? { requestTimeoutMs: opts.requestTimeoutMs } : {}),
      ...(opts.heartbeatMs !== undefined ? { heartbeatMs: opts.heartbeatMs } : {}),
    });
    this.signaling.on('message', (m) => this.onServerMessage(m.type, m.payload));
    this.signaling.on('state', (change) => {
      this.emit('connection-state', change);
      // Closed for good (bad token, replaced by another tab, gave up): the room is gone too.
      if (change.state === 'closed' && this.room) {
        this.forgetRoom();
        this.emit('room-left', { reason: `connection closed${change.code ? ` (${change.code})` : ''}${change.reason ? `: ${change.reason}` : ''}` });
      }
    });
    this.signaling.on('reconnected', ({ identity }) => void this.onReconnected(identity));
  }

  get connectionState(): ConnectionState {
    return this.signaling.state;
  }

  /**
   * Connects and authenticates. `token` may be a function returning a fresh token (used on reconnects).
   * `opts.room`: the room about to be joined, when known (sent as `?room=`: a node of several
   * processes then hands the connection to that room's process; optional).
   */
  async connect(url: string, token: TokenSource, opts: { room?: string } = {}): Promise<Identity> {
    this.identity = await this.signaling.connect(url, token, opts);
    return this.identity;
  }

  /** Any protocol request, typed (for what the SDK has no method for: get-stats, hold, dtmf...). */
  request<K extends ClientType>(type: K, payload: ClientPayloads[K], timeoutMs?: number): Promise<Reply<K>> {
    return this.signaling.request(type, payload, timeoutMs);
  }

  /** Joins a room; with autoSubscribe, starts receiving what is already published. */
  async join(room: string, opts: JoinOptions = {}): Promise<ServerPayloads['joined']> {
    if (this.room) throw new Error(`already in room ${this.room}`);
    // A room with a lobby answers `join` only once a moderator admits us (`lobby-waiting` meanwhile).
    const joined = await this.signaling.request('join', joinPayload(room, opts), opts.lobbyTimeoutMs ?? 600_000);
    this.room = room;
    this.joinOptions = opts;
    this.applyRoomState(joined);
    await this.sendMuteState();
    this.emit('room-joined', { participantId: joined.participant_id, roomState: joined.room_state, rejoined: false });
    await this.loadDevice().catch((error: Error) => this.emit('media-error', { action: 'load-device', error }));
    this.subscribeAll();
    return joined;
  }

  /** Leaves the room: unpublishes (local tracks stop), drops every transport. */
  async leave(): Promise<void> {
    if (!this.room) return;
    this.forgetRoom();
    if (this.signaling.state === 'connected') await this.signaling.request('leave', {}).catch(() => {});
    this.emit('room-left', { reason: 'left' });
  }

  /** Local cleanup when out of the room (left, or the call ended). */
  private forgetRoom(): void {
    this.room = null;
    this.dropMedia();
    for (const local of this.localTracks.values()) {
      local.track.stop();
      this.emit('local-track-removed', local);
    }
    this.localTracks.clear();
    this.participants.clear();
    this.producers.clear();
    this.wanted.clear();
    this.participantId = null;
    this.muted.audio = this.muted.video = false;
  }

  /** Leaves and closes the connection for good. */
  async disconnect(): Promise<void> {
    await this.leave();
    this.signaling.close();
  }

  // ---- publishing -----------------------------------------------------------

  /**
   * Captures and publishes: camera and mic by default, or what `opts` asks
   * for. Resolves with what was published; on failure, tracks captured and
   * not published are stopped.
   */
  async publish(opts: PublishOptions = { audio: true, video: true }): Promise<LocalTrack[]> {
    const captured: Array<{ track: MediaStreamTrack; source: Source }> = [];
    const published: LocalTrack[] = [];
    try {
      if (opts.audio || opts.video) {
        const stream = await navigator.mediaDevices.getUserMedia({
          audio: opts.audio ? (opts.audio === true ? DEFAULT_AUDIO : opts.audio) : false,
          video: opts.video ? (opts.video === true ? DEFAULT_VIDEO : opts.video) : false,
        });
        for (const track of stream.getAudioTracks()) captured.push({ track, source: 'mic' });
        for (const track of stream.getVideoTracks()) captured.push({ track, source: 'camera' });
      }
      if (opts.screen) {
        const stream = await navigator.mediaDevices.getDisplayMedia(opts.screen === true ? { video: true, audio: true } : opts.screen);
        for (const track of stream.getVideoTracks()) {
          track.contentHint = 'detail';
          captured.push({ track, source: 'screen' });
        }
        for (const track of stream.getAudioTracks()) captured.push({ track, source: 'screen-audio' });
      }
      for (const { track, source } of captured) {
        published.push(await this.publishTrack(track, source, opts.simulcast !== undefined ? { simulcast: opts.simulcast } : {}));
      }
      return published;
    } catch (err) {
      for (const { track } of captured) if (!published.some((p) => p.track === track)) track.stop();
      throw err;
    }
  }

  /** Publishes a track the app made itself (a canvas, a processed camera...). */
  async publishTrack(track: MediaStreamTrack, source: Source, opts: { simulcast?: boolean } = {}): Promise<LocalTrack> {
    if (!this.room) throw new Error('join a room first');
    const kind = track.kind as MediaKind;
    if ((kind === 'audio') !== (source === 'mic' || source === 'screen-audio')) throw new Error(`a ${kind} track cannot be the ${source}`);
    if (this.localTracks.has(source)) throw new Error(`already publishing the ${source}`);
    const local: LocalTrack = {
      source, kind, track, producer: null,
      simulcast: source === 'camera' && (opts.simulcast ?? this.opts.simulcast ?? true),
    };
    this.localTracks.set(source, local);
    try {
      await this.produce(local);
    } catch (err) {
      if (this.localTracks.get(source) === local) this.localTracks.delete(source);
      throw err;
    }
    // The user ended it (stopped screen sharing from the browser's bar, unplugged the camera).
    track.addEventListener('ended', () => {
      if (this.localTracks.get(source) === local) void this.unpublish(source);
    });
    this.emit('local-track-added', local);
    return local;
  }

  /** Stops publishing a source and stops its track. */
  async unpublish(source: Source): Promise<void> {
    const local = this.localTracks.get(source);
    if (!local) return;
    this.localTracks.delete(source);
    const producer = local.producer;
    local.producer = null;
    local.track.stop();
    if (producer && !producer.closed) {
      producer.close();
      await this.signaling.request('close-producer', { producer_id: producer.id }).catch(() => {});
    }
    this.emit('local-track-removed', local);
  }

  /** Mutes the mic (audio) or camera (video): the server pauses the producer, the track is disabled. */
  async mute(track: Track): Promise<void> {
    await this.setMuted(track, true);
  }

  async unmute(track: Track): Promise<void> {
    await this.setMuted(track, false);
  }

  private async setMuted(track: Track, muted: boolean): Promise<void> {
    this.muted[track] = muted;
    const local = this.localTracks.get(MUTE_SOURCE[track]);
    if (local) {
      if (muted) local.producer?.pause();
      else local.producer?.resume();
      local.track.enabled = !muted;
    }
    const self = this.participantId ? this.participants.get(this.participantId) : undefined;
    if (self) {
      self[track === 'audio' ? 'audio_muted' : 'video_muted'] = muted;
      this.emit('participant-updated', self);
    }
    // While reconnecting, the rejoin tells the server (see onReconnected).
    if (this.room && this.signaling.state === 'connected') await this.signaling.request(muted ? 'mute' : 'unmute', { track });
  }

  private async produce(local: LocalTrack): Promise<void> {
    const epoch = this.epoch;
    const transport = await this.send();
    this.checkEpoch(epoch);
    const codec = local.kind === 'video' ? this.videoCodec() : undefined;
    const producer = await transport.produce({
      track: local.track,
      stopTracks: false, // the SDK owns the tracks: they outlive a media reset and are published again
      appData: { source: local.source },
      ...(codec ? { codec } : {}),
      ...(local.simulcast ? { encodings: this.cameraEncodings(), codecOptions: { videoGoogleStartBitrate: 1000 } } : {}),
      ...(local.kind === 'audio' ? { codecOptions: { opusFec: true, opusDtx: true } } : {}),
    });
    if (epoch !== this.epoch || this.localTracks.get(local.source) !== local) {
      producer.close();
      throw new StaleError();
    }
    local.producer = producer;
    // Muted before publishing: the server publishes it paused, so pause here too.
    if ((local.source === 'mic' && this.muted.audio) || (local.source === 'camera' && this.muted.video)) {
      producer.pause();
      local.track.enabled = false;
    }
  }

  /** The device's codec for ClientOptions.videoCodec (undefined: mediasoup-client's default, VP8). */
  private videoCodec() {
    const wanted = this.opts.videoCodec;
    if (!wanted) return undefined;
    const codec = this.device?.rtpCapabilities.codecs?.find((c) => c.mimeType.toLowerCase() === `video/${wanted.toLowerCase()}`);
    if (!codec) throw new Error(`${wanted} is not supported by both this browser and the server`);
    return codec;
  }

  private cameraEncodings(): RtpEncodingParameters[] {
    if (this.opts.videoCodec === 'VP9') return CAMERA_SVC;
    if (this.opts.videoCodec === 'H264') return CAMERA_SIMULCAST_H264;
    return CAMERA_SIMULCAST;
  }

  // ---- subscribing ----------------------------------------------------------

  /** Receives another participant's producer; resolves with its track (also announced as `track-added`). */
  async subscribe(producerId: string): Promise<MediaStreamTrack> {
    this.wanted.add(producerId);
    return (await this.consume(producerId)).track;
  }

  /** Pauses (or resumes) receiving a producer without dropping the consumer. */
  async setSubscriptionPaused(producerId: string, paused: boolean): Promise<void> {
    const remote = this.remoteTracks.get(producerId);
    if (!remote) throw new Error(`not subscribed to ${producerId}`);
    if (paused) remote.consumer.pause();
    else remote.consumer.resume();
    await this.signaling.request(paused ? 'pause-consumer' : 'resume-consumer', { consumer_id: remote.consumerId });
  }

  /** Simulcast: the layer this client prefers for a producer (0 = lowest); the SFU still adapts to bandwidth. */
  async setPreferredLayers(producerId: string, spatialLayer: number, temporalLayer?: number): Promise<void> {
    const remote = this.remoteTracks.get(producerId);
    if (!remote) throw new Error(`not subscribed to ${producerId}`);
    await this.signaling.request('set-consumer-layers', {
      consumer_id: remote.consumerId,
      spatial_layer: spatialLayer,
      ...(temporalLayer !== undefined ? { temporal_layer: temporalLayer } : {}),
    });
  }

  private consume(producerId: string): Promise<RemoteTrack> {
    const existing = this.remoteTracks.get(producerId);
    if (existing) return Promise.resolve(existing);
    let pending = this.subscribing.get(producerId);
    if (!pending) {
      pending = this.doConsume(producerId).finally(() => this.subscribing.delete(producerId));
      this.subscribing.set(producerId, pending);
    }
    return pending;
  }

  private async doConsume(producerId: string): Promise<RemoteTrack> {
    const epoch = this.epoch;
    const device = await this.loadDevice();
    const transport = await this.recv();
    this.checkEpoch(epoch);
    const { consumer: params } = await this.signaling.request('consume', {
      transport_id: transport.id,
      producer_id: producerId,
      rtp_capabilities: device.recvRtpCapabilities as unknown as ClientPayloads['consume']['rtp_capabilities'],
    });
    this.checkEpoch(epoch);
    const consumer = await transport.consume({
      id: params.id,
      producerId: params.producerId,
      kind: params.kind,
      rtpParameters: params.rtpParameters as RtpParameters,
    });
    const info = this.producers.get(producerId);
    if (epoch !== this.epoch || !info) {
      // Reset meanwhile, or the producer went away (producer-removed came first).
      consumer.close();
      throw epoch !== this.epoch ? new StaleError() : new Error(`producer ${producerId} is gone`);
    }
    const remote: RemoteTrack = {
      producerId,
      consumerId: consumer.id,
      participantId: info.participant_id,
      kind: consumer.kind as MediaKind,
      source: info.source,
      track: consumer.track,
      consumer,
      paused: params.producerPaused,
      spatialLayer: null,
      temporalLayer: null,
    };
    this.remoteTracks.set(producerId, remote);
    // Consumers start paused on the server, so the first keyframe is not lost.
    try {
      await this.signaling.request('resume-consumer', { consumer_id: consumer.id });
    } catch (err) {
      if (this.remoteTracks.get(producerId) === remote) this.remoteTracks.delete(producerId);
      consumer.close();
      throw err;
    }
    if (this.remoteTracks.get(producerId) !== remote) throw new StaleError(); // removed meanwhile
    this.emit('track-added', remote);
    return remote;
  }

  /** With autoSubscribe: everything known; without: what was subscribed explicitly. */
  private subscribeAll(): void {
    for (const id of this.producers.keys()) {
      if (this.opts.autoSubscribe === false && !this.wanted.has(id)) continue;
      this.withRetry(() => this.consume(id)).catch((error: Error) => {
        if (error instanceof StaleError) return;
        if (error instanceof SignalingError && error.code === 'not_found') {
          this.producers.delete(id); // gone without a producer-removed (closed by a worker's death)
          return;
        }
        this.emit('media-error', { action: `subscribe ${id}`, error });
      });
    }
  }

  private removeRemote(remote: RemoteTrack): void {
    if (this.remoteTracks.get(remote.producerId) !== remote) return;
    this.remoteTracks.delete(remote.producerId);
    remote.consumer.close();
    this.emit('track-removed', remote);
  }

  // ---- transports -----------------------------------------------------------

  private loadDevice(): Promise<Device> {
    this.deviceReady ??= (async () => {
      const device = await Device.factory(this.opts.handlerName ? { handlerName: this.opts.handlerName } : {});
      const { router_rtp_capabilities } = await this.signaling.request('sfu-capabilities', {});
      await device.load({ routerRtpCapabilities: router_rtp_capabilities as RtpCapabilities });
      this.device = device;
      return device;
    })();
    this.deviceReady.catch(() => (this.deviceReady = null)); // try again next time
    return this.deviceReady;
  }

  private send(): Promise<Transport> {
    this.sendTransport ??= this.createTransport('send');
    return this.sendTransport;
  }

  private recv(): Promise<Transport> {
    this.recvTransport ??= this.createTransport('recv');
    return this.recvTransport;
  }

  private async createTransport(direction: 'send' | 'recv'): Promise<Transport> {
    const epoch = this.epoch;
    try {
      const device = await this.loadDevice();
      const { transport: remote } = await this.signaling.request('create-transport', {
        direction, ...(this.opts.forceTcp ? { force_tcp: true } : {}),
      });
      this.checkEpoch(epoch);
      const options: TransportOptions = {
        ...(remote as unknown as TransportOptions),
        ...(this.opts.iceServers ? { iceServers: this.opts.iceServers } : {}),
        ...(this.opts.iceTransportPolicy ? { iceTransportPolicy: this.opts.iceTransportPolicy } : {}),
      };
      const transport = direction === 'send' ? device.createSendTransport(options) : device.createRecvTransport(options);
      transport.on('connect', ({ dtlsParameters }, callback, errback) => {
        this.signaling.request('connect-transport', { transport_id: transport.id, dtls_parameters: dtlsParameters as unknown as ClientPayloads['connect-transport']['dtls_parameters'] })
          .then(() => callback(), errback);
      });
      if (direction === 'send') {
        transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
          this.signaling.request('produce', {
            transport_id: transport.id,
            kind,
            rtp_parameters: rtpParameters as unknown as ClientPayloads['produce']['rtp_parameters'],
            source: (appData['source'] as Source | undefined) ?? (kind === 'audio' ? 'mic' : 'camera'),
          }).then(({ producer_id }) => callback({ id: producer_id }), errback);
        });
      }
      transport.on('connectionstatechange', (state) => this.onTransportState(transport, state));
      this.transports.add(transport);
      return transport;
    } catch (err) {
      // Let the next publish/subscribe try again (unless a reset already did).
      if (epoch === this.epoch) {
        if (direction === 'send') this.sendTransport = null;
        else this.recvTransport = null;
      }
      throw err;
    }
  }

  /** ICE restart when a transport fails, or stays disconnected past the grace period. */
  private onTransportState(transport: Transport, state: TransportConnectionState): void {
    this.emit('transport-state', { direction: transport.direction, state });
    const entry = this.iceRestarts.get(transport) ?? { attempts: 0 };
    this.iceRestarts.set(transport, entry);
    clearTimeout(entry.timer);
    if (state === 'connected') {
      entry.attempts = 0;
    } else if (state === 'failed' || state === 'disconnected') {
      // First restart right away on failure (after a grace period on disconnected), then backing off.
      const delay = state === 'failed' && entry.attempts === 0
        ? 0
        : Math.max(this.opts.iceDisconnectedGraceMs ?? 2000, Math.min(30_000, 1000 * 2 ** entry.attempts));
      entry.timer = setTimeout(() => void this.restartIce(transport, entry), delay);
    }
  }

  private async restartIce(transport: Transport, entry: { attempts: number }): Promise<void> {
    if (transport.closed || !this.transports.has(transport) || this.signaling.state !== 'connected') return;
    if (transport.connectionState === 'connected' || transport.connectionState === 'new') return;
    entry.attempts++;
    try {
      const { ice_parameters } = await this.signaling.request('restart-ice', { transport_id: transport.id });
      if (!transport.closed) await transport.restartIce({ iceParameters: ice_parameters as IceParameters });
    } catch (error) {
      if (!transport.closed) this.emit('media-error', { action: 'restart-ice', error: error as Error });
    }
  }

  /** Drops every transport, producer and consumer locally (the server's are gone or going). */
  private dropMedia(): void {
    this.epoch++;
    for (const remote of [...this.remoteTracks.values()]) this.removeRemote(remote);
    for (const local of this.localTracks.values()) {
      local.producer?.close(); // stopTracks: false, so the track lives on
      local.producer = null;
    }
    for (const transport of this.transports) {
      clearTimeout(this.iceRestarts.get(transport)?.timer);
      transport.close();
    }
    this.transports.clear();
    this.iceRestarts.clear();
    this.sendTransport = null;
    this.recvTransport = null;
  }

  /** After `sfu-reset` or a rejoin: new transports, publish again, consume again. */
  private rebuildMedia(reason: string): void {
    this.dropMedia();
    this.emit('media-reset', { reason });
    for (const local of [...this.localTracks.values()]) {
      if (local.track.readyState === 'ended') {
        this.localTracks.delete(local.source);
        this.emit('local-track-removed', local);
        continue;
      }
      this.withRetry(() => this.produce(local)).then(
        () => this.emit('local-track-added', local),
        (error: Error) => {
          if (!(error instanceof StaleError)) this.emit('media-error', { action: `republish ${local.source}`, error });
        },
      );
    }
    this.subscribeAll();
  }

  /**
   * Media work after a reset may meet a server that is still recovering (its
   * worker being replaced): try again a few times, backing off (0.5 s to 8 s).
   */
  private async withRetry<T>(work: () => Promise<T>, attempts = 5): Promise<T> {
    const epoch = this.epoch;
    for (let attempt = 0; ; attempt++) {
      try {
        return await work();
      } catch (err) {
        if (epoch !== this.epoch || attempt >= attempts || !retryable(err)) throw err;
        await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** attempt));
        this.checkEpoch(epoch);
      }
    }
  }

  private checkEpoch(epoch: number): void {
    if (epoch !== this.epoch) throw new StaleError();
  }

  // ---- room state -----------------------------------------------------------

  private applyRoomState(joined: ServerPayloads['joined']): void {
    this.participantId = joined.participant_id;
    this.participants.clear();
    for (const p of joined.room_state.participants) this.participants.set(p.participant_id, p);
    this.producers.clear();
    for (const p of joined.room_state.producers ?? []) {
      if (p.participant_id !== this.participantId) this.producers.set(p.producer_id, p);
    }
  }

  /** Mute state lives with the participant on the server: say it after every join, before publishing. */
  private async sendMuteState(): Promise<void> {
    for (const track of ['audio', 'video'] as const) {
      if (!this.muted[track]) continue;
      await this.signaling.request('mute', { track });
      const self = this.participantId ? this.participants.get(this.participantId) : undefined;
      if (self) self[track === 'audio' ? 'audio_muted' : 'video_muted'] = true;
    }
  }

  /** The WebSocket came back: the server dropped us from the room, so join again and rebuild media. */
  private async onReconnected(identity: Identity): Promise<void> {
    this.identity = identity;
    const room = this.room;
    if (!room) return;
    this.dropMedia();
    try {
      const joined = await this.rejoin(room);
      if (this.room !== room) return; // left meanwhile
      this.applyRoomState(joined);
      await this.sendMuteState();
      this.emit('room-joined', { participantId: joined.participant_id, roomState: joined.room_state, rejoined: true });
      this.rebuildMedia('reconnected');
    } catch (error) {
      if (this.room !== room) return;
      if (this.signaling.state !== 'connected') return; // lost again: the next reconnect tries again
      this.room = null;
      this.emit('media-error', { action: 'rejoin', error: error as Error });
      this.emit('room-left', { reason: 'rejoin-failed' });
    }
  }

  /**
   * Cluster: right after a node died or drained, its rooms are being
   * placed again for a few seconds and a join may answer `unavailable`: try
   * again (0.5 s to 4 s apart, about 15 s in all) while the connection holds.
   */
  private async rejoin(room: string): Promise<ServerPayloads['joined']> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.signaling.request('join', joinPayload(room, this.joinOptions));
      } catch (err) {
        const again = err instanceof SignalingError && err.code === 'unavailable' && attempt < 6;
        if (!again || this.room !== room || this.signaling.state !== 'connected') throw err;
        await new Promise((resolve) => setTimeout(resolve, Math.min(4000, 500 * 2 ** attempt)));
      }
    }
  }

  private onServerMessage<K extends ServerType>(type: K, payload: ServerPayloads[K]): void {
    const m = { type, payload } as { [T in ServerType]: { type: T; payload: ServerPayloads[T] } }[ServerType];
    switch (m.type) {
      case 'peer-joined':
        this.participants.set(m.payload.participant.participant_id, m.payload.participant);
        this.emit('participant-joined', m.payload.participant);
        break;
      case 'peer-left':
        this.participants.delete(m.payload.participant_id);
        this.emit('participant-left', m.payload);
        break;
      case 'mute':
      case 'unmute': {
        const p = this.participants.get(m.payload.from);
        if (p) {
          p[m.payload.track === 'audio' ? 'audio_muted' : 'video_muted'] = m.type === 'mute';
          this.emit('participant-updated', p);
        }
        break;
      }
      case 'hold':
      case 'unhold': {
        const p = this.participants.get(m.payload.from);
        if (p) {
          p.on_hold = m.type === 'hold';
          this.emit('participant-updated', p);
        }
        break;
      }
      case 'producer-added':
        if (!this.room) break;
        this.producers.set(m.payload.producer_id, m.payload);
        if (this.opts.autoSubscribe !== false) {
          this.consume(m.payload.producer_id).catch((error: Error) => {
            if (!(error instanceof StaleError)) this.emit('media-error', { action: `subscribe ${m.payload.producer_id}`, error });
          });
        }
        break;
      case 'producer-removed': {
        this.producers.delete(m.payload.producer_id);
        this.wanted.delete(m.payload.producer_id);
        const remote = this.remoteTracks.get(m.payload.producer_id);
        if (remote) this.removeRemote(remote);
        break;
      }
      case 'producer-paused':
      case 'producer-resumed': {
        const info = this.producers.get(m.payload.producer_id);
        if (info) info.paused = m.type === 'producer-paused';
        break;
      }
      case 'consumer-closed': {
        const remote = this.remoteByConsumer(m.payload.consumer_id);
        if (remote) this.removeRemote(remote);
        break;
      }
      case 'consumer-paused':
      case 'consumer-resumed': {
        const remote = this.remoteByConsumer(m.payload.consumer_id);
        if (remote) {
          remote.paused = m.type === 'consumer-paused';
          this.emit('track-updated', remote);
        }
        break;
      }
      case 'consumer-layers-changed': {
        const remote = this.remoteByConsumer(m.payload.consumer_id);
        if (remote) {
          remote.spatialLayer = m.payload.spatial_layer;
          remote.temporalLayer = m.payload.temporal_layer;
          this.emit('track-updated', remote);
        }
        break;
      }
      case 'call-state-changed':
        // An ended call removes everyone from the room (the connection stays).
        if (m.payload.state === 'ended' && this.room) {
          this.forgetRoom();
          this.emit('room-left', { reason: m.payload.reason ?? 'call-ended' });
        }
        break;
      case 'role-changed':
      case 'participant-muted': {
        // Room control: keep the participant list current (role, moderator mute).
        const p = this.participants.get(m.payload.participant_id);
        if (p) {
          if (m.type === 'role-changed') p.role = m.payload.role;
          else if (m.payload.track === 'audio') p.audio_muted = true;
          else p.video_muted = true;
          if (m.type === 'participant-muted' && p.participant_id === this.participantId) this.muted[m.payload.track] = true;
          this.emit('participant-updated', p);
        }
        break;
      }
      case 'kicked':
        // Room control: removed by a moderator (the connection stays).
        if (this.room) {
          this.forgetRoom();
          this.emit('room-left', { reason: `kicked: ${m.payload.reason}` });
        }
        break;
      case 'sfu-reset':
        if (this.room) this.rebuildMedia(m.payload.reason);
        break;
      default:
        break;
    }
    if (m.type !== 'ack' && m.type !== 'joined') this.emit(m.type, m.payload as never);
  }

  // ---- Room control: roles, hands, moderation, lobby, data, whiteboard ----
  // Each is one request; the server checks the caller's role (`forbidden` otherwise).
  // Listen for the events with on('hand-queue' | 'role-changed' | 'participant-muted' | 'data' | ...).

  raiseHand(): Promise<{ position: number }> {
    return this.signaling.request('raise-hand', {});
  }

  async lowerHand(userId?: string): Promise<void> {
    await this.signaling.request('lower-hand', userId !== undefined ? { user_id: userId } : {});
  }

  /** Takes the head of the queue (or userId's hand); `promote` makes a viewer a speaker. */
  acknowledgeHand(opts: { userId?: string; promote?: boolean } = {}): Promise<{ hand: RaisedHand }> {
    return this.signaling.request('acknowledge-hand', {
      ...(opts.userId !== undefined ? { user_id: opts.userId } : {}), ...(opts.promote !== undefined ? { promote: opts.promote } : {}),
    });
  }

  async setRole(participantId: string, role: Role): Promise<void> {
    await this.signaling.request('set-role', { participant_id: participantId, role });
  }

  async muteParticipant(participantId: string, track: Track = 'audio'): Promise<void> {
    await this.signaling.request('mute-participant', { participant_id: participantId, track });
  }

  muteAll(track: Track = 'audio'): Promise<{ muted: number }> {
    return this.signaling.request('mute-all', { track });
  }

  async kick(participantId: string, reason?: string): Promise<void> {
    await this.signaling.request('kick', { participant_id: participantId, ...(reason !== undefined ? { reason } : {}) });
  }

  async lockRoom(locked = true): Promise<void> {
    await this.signaling.request(locked ? 'lock-room' : 'unlock-room', {});
  }

  updateRoom(settings: ClientPayloads['update-room']): Promise<{ settings: RoomSettings }> {
    return this.signaling.request('update-room', settings);
  }

  async admit(userId: string): Promise<void> {
    await this.signaling.request('admit', { user_id: userId });
  }

  async deny(userId: string, reason?: string): Promise<void> {
    await this.signaling.request('deny', { user_id: userId, ...(reason !== undefined ? { reason } : {}) });
  }

  /** A reliable message on a topic to everyone else in the room, or to one participant. */
  async sendData(topic: string, data: unknown, to?: string): Promise<void> {
    await this.signaling.request('send-data', { topic, data, ...(to !== undefined ? { to } : {}) });
  }

  drawStroke(stroke: Record<string, unknown>): Promise<{ stroke_id: string }> {
    return this.signaling.request('whiteboard-draw', { stroke });
  }

  async clearWhiteboard(): Promise<void> {
    await this.signaling.request('whiteboard-clear', {});
  }

  // ---- Recording: hosts and moderators; everyone hears on('recording-started' | 'recording-finished') ----

  startRecording(mode?: 'tracks' | 'composite'): Promise<Reply<'start-recording'>> {
    return this.signaling.request('start-recording', mode ? { mode } : {});
  }

  /** Resolves once the files are finalized (ffmpeg flushes and probes them first). */
  stopRecording(): Promise<Reply<'stop-recording'>> {
    return this.signaling.request('stop-recording', {}, 30_000);
  }

  private remoteByConsumer(consumerId: string): RemoteTrack | undefined {
    for (const remote of this.remoteTracks.values()) if (remote.consumerId === consumerId) return remote;
    return undefined;
  }
}

/** Server trouble that may pass: worth trying again. */
function retryable(err: unknown): boolean {
  if (err instanceof SignalingError) return err.code === 'unavailable' || err.code === 'internal_error' || err.code === 'rate_limited';
  return err instanceof Error && err.message.startsWith('no reply to');
}

function joinPayload(room: string, opts: JoinOptions) {
  return {
    room,
    ...(opts.displayName ? { display_name: opts.displayName } : {}),
    ...(opts.capabilities ? { capabilities: opts.capabilities } : {}),
  };
}
