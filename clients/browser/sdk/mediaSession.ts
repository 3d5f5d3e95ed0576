// The media half of a client: what it publishes (producers, with simulcast or
// SVC layers) and receives (consumers, their pause and layer state), and
// rebuilding both after the SFU dropped them (`sfu-reset`) or a rejoin.

import type { Consumer, Device, RtpParameters } from 'mediasoup-client/types';
import type { ClientPayloads, MediaKind, Source, Track } from '../../../signaling/protocol/protocol.js';
import { cameraEncodings } from './encodings.js';
import { StaleError, withRetry } from './retry.js';
import type { RoomMirror } from './roomMirror.js';
import { SignalingError, type Signaling } from './signaling.js';
import { Transports } from './transports.js';
import type { ClientOptions, EmitSdkEvent, LocalTrack, RemoteTrack, ServerMessage } from './types.js';

/** A track received through the SFU: it always has its consumer. */
interface SfuTrack extends RemoteTrack {
  via: 'sfu';
  consumer: Consumer;
}

/** The local source a mute applies to. */
const MUTE_SOURCE: Record<Track, Source> = { audio: 'mic', video: 'camera' };

export class MediaSession {
  /** What this client publishes, by source. */
  readonly localTracks = new Map<Source, LocalTrack>();
  /** What this client receives, by producer id. */
  readonly remoteTracks = new Map<string, SfuTrack>();

  private readonly transports: Transports;
  private readonly subscribing = new Map<string, Promise<SfuTrack>>();
  /** Producers subscribed explicitly (consumed again after a reset without autoSubscribe). */
  private readonly wanted = new Set<string>();
  /** Producers the app paused (consumed paused; kept across resets until resumed or gone). */
  private readonly appPaused = new Set<string>();
  /** The simulcast layers the app prefers per producer (asked again after each consume). */
  private readonly preferred = new Map<string, { spatialLayer: number; temporalLayer?: number }>();
  /** Dynacast: the layers the server last asked each of our producers to send, and the producers being set so. */
  private readonly layersAsked = new Map<string, number | null>();
  private readonly layering = new Set<string>();

  constructor(
    private readonly signaling: Signaling,
    private readonly room: RoomMirror,
    private readonly opts: ClientOptions,
    private readonly emit: EmitSdkEvent,
  ) {
    this.transports = new Transports(signaling, opts, emit);
  }

  get device(): Device | null {
    return this.transports.device;
  }

  loadDevice(): Promise<Device> {
    return this.transports.loadDevice();
  }

  // ---- publishing -----------------------------------------------------------

  async publishTrack(track: MediaStreamTrack, source: Source, opts: { simulcast?: boolean } = {}): Promise<LocalTrack> {
    if (!this.room.name) throw new Error('join a room first');
    const kind = track.kind as MediaKind;
    if ((kind === 'audio') !== (source === 'mic' || source === 'screen-audio')) throw new Error(`a ${kind} track cannot be the ${source}`);
    if (this.localTracks.has(source)) throw new Error(`already publishing the ${source}`);
    const local: LocalTrack = {
      source,
      kind,
      track,
      producer: null,
      simulcast: source === 'camera' && (opts.simulcast ?? this.opts.simulcast ?? true),
    };
    this.localTracks.set(source, local);
    try {
      await this.produce(local);
    } catch (err) {
      if (this.localTracks.get(source) === local) this.localTracks.delete(source);
      throw err;
    }
    this.watchEnded(local, track);
    this.emit('local-track-added', local);
    return local;
  }

  /**
   * Sends `track` in place of the source's current one on the same producer
   * (RTCRtpSender.replaceTrack: no renegotiation, the producer id, its paused
   * state and every consumer stay). The previous track is stopped.
   */
  async replaceTrack(source: Source, track: MediaStreamTrack): Promise<LocalTrack> {
    const local = this.localTracks.get(source);
    if (!local) throw new Error(`not publishing the ${source}`);
    if (track.kind !== local.kind) throw new Error(`a ${track.kind} track cannot replace the ${source}`);
    const previous = local.track;
    track.enabled = previous.enabled; // muted stays muted
    const producer = local.producer;
    // Without a producer (being published again after a reset) the new track is the one published.
    if (producer && !producer.closed) await producer.replaceTrack({ track });
    if (this.localTracks.get(source) !== local) throw new Error(`the ${source} was unpublished meanwhile`);
    local.track = track;
    previous.stop();
    this.watchEnded(local, track);
    this.emit('local-track-replaced', local);
    return local;
  }

  /** The user ended it (stopped screen sharing from the browser's bar, unplugged the camera): unpublish. */
  private watchEnded(local: LocalTrack, track: MediaStreamTrack): void {
    track.addEventListener('ended', () => {
      if (this.localTracks.get(local.source) === local && local.track === track) void this.unpublish(local.source);
    });
  }

  async unpublish(source: Source): Promise<void> {
    const local = this.localTracks.get(source);
    if (!local) return;
    this.localTracks.delete(source);
    const producer = local.producer;
    local.producer = null;
    local.track.stop();
    if (producer && !producer.closed) {
      producer.close();
      // The local track is gone either way; the server closes the producer with the transport if this is lost.
      await this.signaling.request('close-producer', { producer_id: producer.id }).catch(() => {});
    }
    this.emit('local-track-removed', local);
  }

  /** Pauses (or resumes) the mic's or camera's producer and disables (or enables) its track. */
  applyMute(track: Track, muted: boolean): void {
    const local = this.localTracks.get(MUTE_SOURCE[track]);
    if (!local) return;
    if (muted) local.producer?.pause();
    else local.producer?.resume();
    local.track.enabled = !muted;
  }

  private async produce(local: LocalTrack): Promise<void> {
    const generation = this.transports.generation;
    const transport = await this.transports.send();
    this.transports.checkGeneration(generation);
    const codec = local.kind === 'video' ? this.videoCodec() : undefined;
    const producer = await transport.produce({
      track: local.track,
      stopTracks: false, // the SDK owns the tracks: they outlive a media reset and are published again
      appData: { source: local.source },
      ...(codec ? { codec } : {}),
      ...(local.simulcast ? { encodings: cameraEncodings(this.opts.videoCodec), codecOptions: { videoGoogleStartBitrate: 1000 } } : {}),
      ...(local.kind === 'audio' ? { codecOptions: { opusFec: true, opusDtx: true } } : {}),
    });
    if (generation !== this.transports.generation || this.localTracks.get(local.source) !== local) {
      producer.close();
      throw new StaleError();
    }
    local.producer = producer;
    delete local.maxSpatialLayer; // a new producer sends every layer until the server says otherwise
    producer.observer.once('close', () => this.layersAsked.delete(producer.id));
    void this.applyLayers(producer.id); // publisher-layers may have come before produce's ack
    // Muted before publishing: the server publishes it paused, so pause here too.
    if ((local.source === 'mic' && this.room.muted.audio) || (local.source === 'camera' && this.room.muted.video)) {
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

  // ---- subscribing ----------------------------------------------------------

  async subscribe(producerId: string): Promise<MediaStreamTrack> {
    this.wanted.add(producerId);
    return (await this.consume(producerId)).track;
  }

  /** Remembers the choice; a consumer that exists is paused or resumed now, one still coming starts that way. */
  async setSubscriptionPaused(producerId: string, paused: boolean): Promise<void> {
    if (!this.room.producers.has(producerId) && !this.remoteTracks.has(producerId)) throw new Error(`no producer ${producerId}`);
    if (paused) this.appPaused.add(producerId);
    else this.appPaused.delete(producerId);
    const remote = this.remoteTracks.get(producerId);
    if (!remote || remote.subscriptionPaused === paused) return;
    remote.subscriptionPaused = paused;
    if (paused) remote.consumer.pause();
    else remote.consumer.resume();
    await this.signaling.request(paused ? 'pause-consumer' : 'resume-consumer', { consumer_id: remote.consumerId });
    this.emit('track-updated', remote);
  }

  async setPreferredLayers(producerId: string, spatialLayer: number, temporalLayer?: number): Promise<void> {
    if (!this.room.producers.has(producerId) && !this.remoteTracks.has(producerId)) throw new Error(`no producer ${producerId}`);
    this.preferred.set(producerId, { spatialLayer, ...(temporalLayer !== undefined ? { temporalLayer } : {}) });
    const remote = this.remoteTracks.get(producerId);
    if (!remote) return; // asked once consumed
    await this.signaling.request('set-consumer-layers', {
      consumer_id: remote.consumerId,
      spatial_layer: spatialLayer,
      ...(temporalLayer !== undefined ? { temporal_layer: temporalLayer } : {}),
    });
  }

  /** With autoSubscribe: everything known; without: what was subscribed explicitly. */
  subscribeAll(): void {
    for (const id of this.room.producers.keys()) {
      if (this.opts.autoSubscribe === false && !this.wanted.has(id)) continue;
      this.retrying(() => this.consume(id)).catch((error: Error) => {
        if (error instanceof StaleError) return;
        if (error instanceof SignalingError && error.code === 'not_found') {
          this.room.producers.delete(id); // gone without a producer-removed (closed by a worker's death)
          return;
        }
        this.emit('media-error', { action: `subscribe ${id}`, error });
      });
    }
  }

  private consume(producerId: string): Promise<SfuTrack> {
    const existing = this.remoteTracks.get(producerId);
    if (existing) return Promise.resolve(existing);
    let pending = this.subscribing.get(producerId);
    if (!pending) {
      pending = this.doConsume(producerId).finally(() => this.subscribing.delete(producerId));
      this.subscribing.set(producerId, pending);
    }
    return pending;
  }

  private async doConsume(producerId: string): Promise<SfuTrack> {
    const generation = this.transports.generation;
    const device = await this.transports.loadDevice();
    const transport = await this.transports.recv();
    this.transports.checkGeneration(generation);
    const { consumer: params } = await this.signaling.request('consume', {
      transport_id: transport.id,
      producer_id: producerId,
      rtp_capabilities: device.recvRtpCapabilities as unknown as ClientPayloads['consume']['rtp_capabilities'],
    });
    this.transports.checkGeneration(generation);
    const consumer = await transport.consume({
      id: params.id,
      producerId: params.producerId,
      kind: params.kind,
      rtpParameters: params.rtpParameters as RtpParameters,
    });
    const info = this.room.producers.get(producerId);
    if (generation !== this.transports.generation || !info) {
      // Reset meanwhile, or the producer went away (producer-removed came first).
      consumer.close();
      throw generation !== this.transports.generation ? new StaleError() : new Error(`producer ${producerId} is gone`);
    }
    const remote: SfuTrack = {
      producerId,
      consumerId: consumer.id,
      participantId: info.participant_id,
      kind: consumer.kind,
      source: info.source,
      track: consumer.track,
      via: 'sfu',
      consumer,
      receiver: consumer.rtpReceiver ?? null,
      paused: params.producerPaused,
      subscriptionPaused: this.appPaused.has(producerId),
      layered: params.type === 'simulcast' || params.type === 'svc',
      spatialLayer: null,
      temporalLayer: null,
    };
    this.remoteTracks.set(producerId, remote);
    // Consumers start paused on the server, so the first keyframe is not lost; one the app paused stays so.
    try {
      const layers = this.preferred.get(producerId);
      if (layers && remote.layered) {
        await this.signaling.request('set-consumer-layers', {
          consumer_id: consumer.id,
          spatial_layer: layers.spatialLayer,
          ...(layers.temporalLayer !== undefined ? { temporal_layer: layers.temporalLayer } : {}),
        });
      }
      if (remote.subscriptionPaused) consumer.pause();
      else await this.signaling.request('resume-consumer', { consumer_id: consumer.id });
    } catch (err) {
      if (this.remoteTracks.get(producerId) === remote) this.remoteTracks.delete(producerId);
      consumer.close();
      throw err;
    }
    if (this.remoteTracks.get(producerId) !== remote) throw new StaleError(); // removed meanwhile
    this.emit('track-added', remote);
    return remote;
  }

  private removeRemote(remote: SfuTrack): void {
    if (this.remoteTracks.get(remote.producerId) !== remote) return;
    this.remoteTracks.delete(remote.producerId);
    remote.consumer.close();
    this.emit('track-removed', remote);
  }

  private remoteByConsumer(consumerId: string): SfuTrack | undefined {
    for (const remote of this.remoteTracks.values()) if (remote.consumerId === consumerId) return remote;
    return undefined;
  }

  // ---- server events --------------------------------------------------------

  /** Follows one server event (after the room mirror has): new and gone producers, consumer state, resets. */
  apply(m: ServerMessage): void {
    switch (m.type) {
      case 'producer-added':
        if (this.room.name && this.opts.autoSubscribe !== false) {
          this.consume(m.payload.producer_id).catch((error: Error) => {
            if (!(error instanceof StaleError)) this.emit('media-error', { action: `subscribe ${m.payload.producer_id}`, error });
          });
        }
        break;
      case 'producer-removed': {
        this.wanted.delete(m.payload.producer_id);
        this.appPaused.delete(m.payload.producer_id);
        this.preferred.delete(m.payload.producer_id);
        const remote = this.remoteTracks.get(m.payload.producer_id);
        if (remote) this.removeRemote(remote);
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
      case 'publisher-layers':
        this.layersAsked.set(m.payload.producer_id, m.payload.max_spatial_layer);
        void this.applyLayers(m.payload.producer_id);
        break;
      case 'sfu-reset':
        if (this.room.name) this.rebuild(m.payload.reason);
        break;
      default:
        break;
    }
  }

  /**
   * Dynacast: makes the browser encode only the layers the server asked for
   * (RTCRtpEncodingParameters.active through mediasoup-client), one change at
   * a time per producer, the latest word winning. Null is layer -1 for
   * mediasoup-client: every encoding inactive.
   */
  private async applyLayers(producerId: string): Promise<void> {
    if (this.layering.has(producerId)) return; // the running loop picks up the latest word
    const local = [...this.localTracks.values()].find((l) => l.producer?.id === producerId);
    const producer = local?.producer;
    if (!local || !producer || producer.kind !== 'video') return;
    this.layering.add(producerId);
    try {
      for (;;) {
        const asked = this.layersAsked.get(producerId);
        if (asked === undefined || producer.closed || local.producer !== producer || asked === local.maxSpatialLayer) break;
        await producer.setMaxSpatialLayer(asked ?? -1);
        if (producer.closed || local.producer !== producer) break;
        local.maxSpatialLayer = asked;
        this.emit('local-track-layers', local);
      }
    } catch (error) {
      if (!producer.closed) this.emit('media-error', { action: `set layers of ${local.source}`, error: error as Error });
    } finally {
      this.layering.delete(producerId);
    }
  }

  // ---- resets -----------------------------------------------------------------

  /** Drops every transport, producer and consumer locally (the server's are gone or going); local tracks live on. */
  drop(): void {
    this.transports.nextGeneration();
    for (const remote of [...this.remoteTracks.values()]) this.removeRemote(remote);
    for (const local of this.localTracks.values()) {
      local.producer?.close(); // stopTracks: false, so the track lives on
      local.producer = null;
    }
    this.transports.closeAll();
  }

  /** Out of the room: drops the media and stops and forgets every local track. */
  close(): void {
    this.drop();
    for (const local of this.localTracks.values()) {
      local.track.stop();
      this.emit('local-track-removed', local);
    }
    this.localTracks.clear();
    this.wanted.clear();
    this.appPaused.clear();
    this.preferred.clear();
  }

  /** After `sfu-reset` or a rejoin: new transports, publish again, consume again. */
  rebuild(reason: string): void {
    this.drop();
    this.emit('media-reset', { reason });
    for (const local of [...this.localTracks.values()]) {
      if (local.track.readyState === 'ended') {
        this.localTracks.delete(local.source);
        this.emit('local-track-removed', local);
        continue;
      }
      this.retrying(() => this.produce(local)).then(
        () => this.emit('local-track-added', local),
        (error: Error) => {
          if (!(error instanceof StaleError)) this.emit('media-error', { action: `republish ${local.source}`, error });
        },
      );
    }
    this.subscribeAll();
  }

  /** withRetry for as long as no newer reset happens. */
  private retrying<T>(work: () => Promise<T>): Promise<T> {
    const generation = this.transports.generation;
    return withRetry(work, () => generation === this.transports.generation);
  }
}
