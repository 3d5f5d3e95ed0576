// The SFU side of one room: its routers, every participant's transports,
// producers and consumers, the pipes between routers, and the observers that
// feed speaking indicators. The rooms domain calls it and listens to its
// typed events (mediaRoomEvents.ts); it knows no sockets, roles or wire format.

import type {
  ActiveSpeakerObserver,
  AudioLevelObserver,
  Consumer,
  DtlsParameters,
  IceParameters,
  PlainTransport,
  RtpCapabilities,
  RtpParameters,
  SctpStreamParameters,
  SrtpParameters,
  WebRtcTransport,
} from 'mediasoup/types';
import { EventEmitter } from 'node:events';
import { AppError } from '../server/kernel/errors.js';
import type { Logger } from '../server/kernel/logger.js';
import {
  SOURCE_KIND,
  type DataProducerInfo,
  type MediaKind,
  type ProducerInfo,
  type Quality,
  type Source,
} from '../server/kernel/media.js';
import { MEDIA_CODECS } from './codecs.js';
import type { Cascade, RoomCascade } from './cascade/cascade.js';
import type { RemoteRouter } from './cascade/remoteRouter.js';
import { METHOD, type CascadeEvent, type ConsumerParams, type DataConsumerParams, type TransportOptions } from './cascade/wire.js';
import { MediaPeer, type TransportEntry } from './mediaPeer.js';
import type { MediaRoomEvents } from './mediaRoomEvents.js';
import { RouterSlot } from './routerSlot.js';
import { nodeLoad, type WorkerPool, type WorkerSlot } from './workerPool.js';
import { bestEffort } from '../server/kernel/bestEffort.js';

export interface MediaRoomOptions {
  name: string;
  /** Address plain (RTP) transports listen on, for recorders and sinks on this host. */
  plainListenIp: string;
  pool: WorkerPool;
  routerConsumerBudget: number;
  log: Logger;
  /** Cluster mode: past nodeConsumerBudget, new viewers' recv sides go to other nodes. */
  cascade?: { cascade: Cascade; nodeConsumerBudget: number } | null;
}

const AUDIO_LEVEL_INTERVAL_MS = 500;

// Recording and live streaming: what recorders watch, mediasoup-style.
export interface MediaRoomObserverEvents {
  produceradd: [ProducerInfo];
  producerclose: [ProducerInfo];
  producerpause: [ProducerInfo];
  producerresume: [ProducerInfo];
  close: [];
  /** Live streaming: the dominant speaker changed (participant id), for a stream that follows it. */
  activespeaker: [string];
}

/** What mediasoup-client's `transport.consume` needs of a consumer (the cascade's agent sends the same, plus its score). */
export function consumerParams(consumer: Consumer, producerId: string): Omit<ConsumerParams, 'score'> {
  return {
    id: consumer.id,
    producerId,
    kind: consumer.kind,
    rtpParameters: consumer.rtpParameters,
    type: consumer.type,
    producerPaused: consumer.producerPaused,
  };
}

/**
 * Runs a mediasoup call made with client input. mediasoup rejects bad client
 * parameters with TypeError/UnsupportedError (the client's fault:
 * invalid_payload), wrong states with InvalidStateError (conflict), unknown
 * ids with NotFoundError (not_found). Anything else is unexpected: it goes to
 * `onUnexpected` (the worker gets a health check) and on as internal_error.
 */
export async function clientCall<T>(what: string, fn: () => Promise<T>, onUnexpected?: (err: unknown) => void): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof AppError) throw err;
    const name = (err as Error)?.name;
    // The flatbuffers builder throws TypeErrors too, but those say the worker's
    // request builder is broken (see workerPool.ts), not that the input was bad.
    const builderBroken = String((err as Error)?.message).startsWith('FlatBuffers:');
    if (!builderBroken && (err instanceof TypeError || name === 'UnsupportedError' || name === 'TypeError')) {
      throw new AppError('invalid_payload', `${what}: ${(err as Error).message}`);
    }
    if (name === 'InvalidStateError') throw new AppError('conflict', `${what}: ${(err as Error).message}`);
    if (name === 'NotFoundError') throw new AppError('not_found', `${what}: ${(err as Error).message}`);
    onUnexpected?.(err);
    throw err;
  }
}

/** Where plain-RTP consumers send: recorders (ffmpeg) and benchmark sinks. */
export interface PlainSubscriberOptions {
  ip: string;
  port: number;
  rtpCapabilities: RtpCapabilities;
  srtp?: SrtpParameters;
  paused?: boolean;
}

/** A consumer as mediasoup-client's `transport.consume` takes it. */
export type ConsumerOptions = Omit<ConsumerParams, 'score'>;

export class MediaRoom extends EventEmitter<MediaRoomEvents> {
  private primary: RouterSlot | null = null;
  private opening: Promise<RouterSlot> | null = null;
  private readonly secondaries: RouterSlot[] = [];
  private readonly openingSecondaries = new Map<WorkerSlot, Promise<RouterSlot>>();
  private readonly peers = new Map<string, MediaPeer>();
  private readonly producers = new Map<string, { peer: MediaPeer; info: ProducerInfo }>();
  private readonly dataProducers = new Map<string, { peer: MediaPeer; info: DataProducerInfo }>();
  private audioLevels: AudioLevelObserver | null = null;
  private activeSpeaker: ActiveSpeakerObserver | null = null;
  /** Set while the room resets or closes: the objects closing then are not news. */
  private quiet = false;
  closed = false;
  /** Producers appearing, pausing and closing, for recorders (never for signaling). */
  readonly observer = new EventEmitter<MediaRoomObserverEvents>();
  /** This room's routers on other nodes (cluster mode with cascading on). */
  readonly remote: RoomCascade | null;
  private overBudgetLoggedAt = 0;

  constructor(private readonly opts: MediaRoomOptions) {
    super();
    this.remote =
      opts.cascade?.cascade.room(opts.name, {
        primaryRouter: async () => (await this.primarySlot()).router,
        producerIds: () => [...this.producers.keys()],
        onEvent: (router, event) => this.onRemoteEvent(router, event),
        onLost: (router, reason) => this.onRemoteLost(router, reason),
      }) ?? null;
  }

  /** The room's name (recorders find the rooms-domain room by it). */
  get name(): string {
    return this.opts.name;
  }

  get routerCount(): number {
    return (this.primary ? 1 : 0) + this.secondaries.length;
  }

  /** The participant's last reported connection quality (null before any score). */
  qualityOf(peerId: string): Quality | null {
    return this.peers.get(peerId)?.quality ?? null;
  }

  producerList(): ProducerInfo[] {
    return [...this.producers.values()].map((p) => p.info);
  }

  dataProducerList(): DataProducerInfo[] {
    return [...this.dataProducers.values()].map((p) => p.info);
  }

  async rtpCapabilities(): Promise<RtpCapabilities> {
    return (await this.primarySlot()).router.rtpCapabilities;
  }

  async createTransport(peerId: string, direction: 'send' | 'recv', sctp: boolean, forceTcp = false): Promise<TransportOptions> {
    const peer = this.peer(peerId);
    if (peer.transportOf(direction) || (direction === 'recv' && peer.remoteTransports.size > 0)) {
      throw new AppError('conflict', `you already have a ${direction} transport; close it or restart ICE`);
    }
    // A receiver will consume about everything published now.
    const reserved = direction === 'recv' ? Math.max(1, this.producers.size) : 0;
    if (direction === 'recv' && this.nodeFull(reserved)) {
      const remote = await this.createRemoteRecvTransport(peer, reserved, sctp, forceTcp);
      if (remote) return remote;
    }
    const slot = direction === 'send' ? await this.primarySlot() : await this.recvSlot(reserved);
    let transport: WebRtcTransport;
    try {
      transport = await slot.router.createWebRtcTransport({
        webRtcServer: slot.worker.webRtcServer,
        enableUdp: !forceTcp, // for networks that block UDP: ICE over the worker's TCP port
        enableTcp: true,
        preferUdp: true,
        enableSctp: sctp,
        initialAvailableOutgoingBitrate: 1_000_000,
        appData: { peerId, direction },
      });
    } catch (err) {
      slot.release(reserved);
      throw err;
    }
    const entry: TransportEntry = {
      transport,
      direction,
      slot,
      reserved,
      connected: false,
      mids: new Set(),
      ssrcs: new Set(),
      rids: new Set(),
      streamIds: new Set(),
    };
    transport.observer.once('close', () => {
      peer.transports.delete(transport.id);
      slot.release(entry.reserved);
    });
    if (this.peers.get(peerId) !== peer || this.closed) {
      transport.close();
      throw new AppError('not_in_room', 'you left the room');
    }
    peer.transports.set(transport.id, entry);
    transport.on('dtlsstatechange', (state) => {
      if (state === 'failed' || state === 'closed')
        this.opts.log.warn({ room: this.opts.name, peer: peerId, direction, state }, 'transport dtls');
    });
    return {
      id: transport.id,
      iceParameters: transport.iceParameters,
      iceCandidates: transport.iceCandidates,
      dtlsParameters: transport.dtlsParameters,
      ...(transport.sctpParameters ? { sctpParameters: transport.sctpParameters } : {}),
    };
  }

  async connectTransport(peerId: string, transportId: string, dtlsParameters: DtlsParameters): Promise<void> {
    const remote = this.peer(peerId).remoteTransports.get(transportId);
    const entry = remote ?? this.transport(peerId, transportId);
    // DTLS connects once per transport; mediasoup would answer a second time with a plain Error.
    if (entry.connected)
      throw new AppError('conflict', 'this transport is already connected; create a new one or restart ICE', 'transport_id');
    entry.connected = true;
    try {
      if (remote) await remote.router.transportOp({ transportId, op: 'connect', dtlsParameters });
      else {
        const { transport, slot } = entry as TransportEntry;
        await clientCall(
          'connect-transport',
          () => transport.connect({ dtlsParameters }),
          (err) => this.suspect(slot, err),
        );
      }
    } catch (err) {
      entry.connected = false; // refused parameters: the client may try again
      throw err;
    }
  }

  async restartIce(peerId: string, transportId: string): Promise<IceParameters> {
    const remote = this.peer(peerId).remoteTransports.get(transportId);
    if (remote) return remote.router.transportOp({ transportId, op: 'restart-ice' });
    const { transport } = this.transport(peerId, transportId);
    return transport.restartIce();
  }

  async produce(
    peerId: string,
    req: { transportId: string; kind: MediaKind; rtpParameters: RtpParameters; source: Source; paused: boolean },
  ): Promise<string> {
    const peer = this.peer(peerId);
    const entry = this.transport(peerId, req.transportId);
    if (entry.direction !== 'send') throw new AppError('invalid_payload', 'produce needs a send transport', 'transport_id');
    if (SOURCE_KIND[req.source] !== req.kind) {
      throw new AppError('invalid_payload', `source ${req.source} carries ${SOURCE_KIND[req.source]}, not ${req.kind}`, 'source');
    }
    for (const p of peer.producers.values()) {
      if (p.source === req.source) throw new AppError('conflict', `you already publish a ${req.source} track; close it first`);
    }
    const release = this.claimRtpIds(entry, req.rtpParameters);
    let producer;
    try {
      producer = await clientCall(
        'produce',
        () =>
          entry.transport.produce({
            kind: req.kind,
            rtpParameters: req.rtpParameters,
            paused: req.paused,
            appData: { peerId, source: req.source },
          }),
        (err) => this.suspect(entry.slot, err),
      );
    } catch (err) {
      release();
      throw err;
    }
    producer.observer.once('close', release);
    const info: ProducerInfo = {
      producer_id: producer.id,
      participant_id: peerId,
      kind: req.kind,
      source: req.source,
      paused: producer.paused,
    };
    peer.producers.set(producer.id, { producer, source: req.source });
    this.producers.set(producer.id, { peer, info });
    producer.on('score', (scores) => {
      this.setScore(peer, producer.id, scores.length ? Math.min(...scores.map((s) => s.score)) : 10);
    });
    producer.observer.once('close', () => {
      peer.producers.delete(producer.id);
      peer.scores.delete(producer.id);
      this.producers.delete(producer.id);
      if (!this.quiet) this.emit('producerclose', info);
      this.observer.emit('producerclose', info);
    });
    if (req.source === 'mic') {
      // Speaking indicators only: a producer that closed meanwhile is simply not observed.
      if (this.audioLevels)
        void bestEffort(this.opts.log, 'observing audio levels', this.audioLevels.addProducer({ producerId: producer.id }));
      if (this.activeSpeaker)
        void bestEffort(this.opts.log, 'observing the active speaker', this.activeSpeaker.addProducer({ producerId: producer.id }));
    }
    this.remote?.producerAdded(producer.id);
    this.emit('newproducer', info);
    this.observer.emit('produceradd', info);
    return producer.id;
  }

  async setProducerPaused(peerId: string, producerId: string, paused: boolean): Promise<void> {
    const { producer } = this.ownProducer(peerId, producerId);
    await this.pause(producer.id, paused);
  }

  /** Server-side mute: pauses (or resumes) the peer's producers of these sources. */
  async setSourcesPaused(peerId: string, sources: Source[], paused: boolean): Promise<void> {
    const peer = this.peers.get(peerId);
    if (!peer) return;
    const ids = [...peer.producers.values()].filter((p) => sources.includes(p.source)).map((p) => p.producer.id);
    await Promise.all(ids.map((id) => this.pause(id, paused)));
  }

  closeProducer(peerId: string, producerId: string): void {
    this.ownProducer(peerId, producerId).producer.close();
  }

  async consume(
    peerId: string,
    req: { transportId: string; producerId: string; rtpCapabilities: RtpCapabilities },
  ): Promise<ConsumerOptions> {
    const peer = this.peer(peerId);
    const remote = peer.remoteTransports.get(req.transportId);
    if (remote) return this.consumeRemote(peer, remote.router, req);
    const entry = this.transport(peerId, req.transportId);
    if (entry.direction !== 'recv') throw new AppError('invalid_payload', 'consume needs a recv transport', 'transport_id');
    const source = this.producers.get(req.producerId);
    if (!source) throw new AppError('not_found', `no producer ${req.producerId} in this room`, 'producer_id');
    const localId = await this.pipedId(entry.slot, 'producer', req.producerId);
    const rtpCapabilities = req.rtpCapabilities;
    const canConsume = await clientCall('consume', async () => entry.slot.router.canConsume({ producerId: localId, rtpCapabilities }));
    if (!canConsume) throw new AppError('invalid_payload', 'your rtp_capabilities cannot receive this producer', 'rtp_capabilities');
    const consumer = await clientCall(
      'consume',
      () =>
        entry.transport.consume({ producerId: localId, rtpCapabilities, paused: true, appData: { peerId, producerId: req.producerId } }),
      (err) => this.suspect(entry.slot, err),
    );
    if (this.peers.get(peerId) !== peer) {
      consumer.close();
      throw new AppError('not_in_room', 'you left the room');
    }
    entry.slot.addConsumer();
    if (entry.reserved > 0) {
      entry.reserved--;
      entry.slot.release(1);
    }
    peer.consumers.set(consumer.id, { consumer, slot: entry.slot, producerId: req.producerId });
    // What happens to the consumer's producer is news for its peer (not while the room resets).
    const tell = (fn: () => void) => {
      if (!this.quiet) fn();
    };
    consumer.observer.once('close', () => {
      entry.slot.removeConsumer();
      peer.consumers.delete(consumer.id);
      peer.scores.delete(consumer.id);
    });
    consumer.on('producerclose', () => tell(() => this.emit('consumerclose', peerId, consumer.id, req.producerId)));
    consumer.on('producerpause', () => tell(() => this.emit('consumerpause', peerId, consumer.id)));
    consumer.on('producerresume', () => tell(() => this.emit('consumerresume', peerId, consumer.id)));
    consumer.on('layerschange', (layers) =>
      tell(() => this.emit('consumerlayerschange', peerId, consumer.id, layers?.spatialLayer ?? null, layers?.temporalLayer ?? null)),
    );
    consumer.on('score', ({ score }) => this.setScore(peer, consumer.id, score));
    return consumerParams(consumer, req.producerId);
  }

  async setConsumerPaused(peerId: string, consumerId: string, paused: boolean): Promise<void> {
    const remote = this.peer(peerId).remoteConsumers.get(consumerId);
    if (remote) return void (await remote.router.consumerOp({ consumerId, op: paused ? 'pause' : 'resume' }));
    const { consumer } = this.ownConsumer(peerId, consumerId);
    if (paused) await consumer.pause();
    else await consumer.resume();
  }

  async setConsumerLayers(peerId: string, consumerId: string, spatialLayer: number, temporalLayer?: number): Promise<void> {
    const remote = this.peer(peerId).remoteConsumers.get(consumerId);
    if (remote) {
      if (remote.type !== 'simulcast' && remote.type !== 'svc')
        throw new AppError('invalid_payload', `a ${remote.type} consumer has no layers`, 'consumer_id');
      return void (await remote.router.consumerOp({
        consumerId,
        op: 'layers',
        spatialLayer,
        ...(temporalLayer !== undefined ? { temporalLayer } : {}),
      }));
    }
    const { consumer } = this.ownConsumer(peerId, consumerId);
    if (consumer.type !== 'simulcast' && consumer.type !== 'svc') {
      throw new AppError('invalid_payload', `a ${consumer.type} consumer has no layers`, 'consumer_id');
    }
    const { slot } = this.ownConsumer(peerId, consumerId);
    await clientCall(
      'set-consumer-layers',
      () => consumer.setPreferredLayers({ spatialLayer, ...(temporalLayer !== undefined ? { temporalLayer } : {}) }),
      (err) => this.suspect(slot, err),
    );
  }

  async produceData(
    peerId: string,
    req: { transportId: string; sctpStreamParameters: SctpStreamParameters; label: string; protocol: string },
  ): Promise<string> {
    const peer = this.peer(peerId);
    const entry = this.transport(peerId, req.transportId);
    if (entry.direction !== 'send') throw new AppError('invalid_payload', 'produce-data needs a send transport', 'transport_id');
    if (!entry.transport.sctpParameters) {
      throw new AppError('invalid_payload', 'this transport has no data channels: create it with sctp: true', 'transport_id');
    }
    const { streamId, maxPacketLifeTime, maxRetransmits } = req.sctpStreamParameters;
    if (maxPacketLifeTime !== undefined && maxRetransmits !== undefined) {
      throw new AppError('invalid_payload', 'give maxPacketLifeTime or maxRetransmits, not both', 'sctp_stream_parameters');
    }
    if (entry.streamIds.has(streamId)) {
      throw new AppError('conflict', `SCTP stream ${streamId} is already used on this transport`, 'sctp_stream_parameters.streamId');
    }
    entry.streamIds.add(streamId);
    let dataProducer;
    try {
      dataProducer = await clientCall(
        'produce-data',
        () =>
          entry.transport.produceData({
            sctpStreamParameters: req.sctpStreamParameters,
            label: req.label,
            protocol: req.protocol,
            appData: { peerId },
          }),
        (err) => this.suspect(entry.slot, err),
      );
    } catch (err) {
      entry.streamIds.delete(streamId);
      throw err;
    }
    dataProducer.observer.once('close', () => entry.streamIds.delete(streamId));
    const info: DataProducerInfo = { data_producer_id: dataProducer.id, participant_id: peerId, label: req.label, protocol: req.protocol };
    peer.dataProducers.set(dataProducer.id, dataProducer);
    this.dataProducers.set(dataProducer.id, { peer, info });
    dataProducer.observer.once('close', () => {
      peer.dataProducers.delete(dataProducer.id);
      this.dataProducers.delete(dataProducer.id);
      if (!this.quiet) this.emit('dataproducerclose', info);
    });
    this.emit('newdataproducer', info);
    return dataProducer.id;
  }

  async consumeData(peerId: string, transportId: string, dataProducerId: string): Promise<DataConsumerParams> {
    const peer = this.peer(peerId);
    const remote = peer.remoteTransports.get(transportId);
    if (remote) return this.consumeDataRemote(peer, remote.router, transportId, dataProducerId);
    const entry = this.transport(peerId, transportId);
    if (entry.direction !== 'recv') throw new AppError('invalid_payload', 'consume-data needs a recv transport', 'transport_id');
    if (!entry.transport.sctpParameters) {
      throw new AppError('invalid_payload', 'this transport has no data channels: create it with sctp: true', 'transport_id');
    }
    if (!this.dataProducers.has(dataProducerId)) throw new AppError('not_found', `no data producer ${dataProducerId}`, 'data_producer_id');
    const localId = await this.pipedId(entry.slot, 'dataProducer', dataProducerId);
    const dataConsumer = await clientCall(
      'consume-data',
      () => entry.transport.consumeData({ dataProducerId: localId, appData: { peerId, dataProducerId } }),
      (err) => this.suspect(entry.slot, err),
    );
    peer.dataConsumers.set(dataConsumer.id, dataConsumer);
    dataConsumer.observer.once('close', () => peer.dataConsumers.delete(dataConsumer.id));
    dataConsumer.on('dataproducerclose', () => {
      if (!this.quiet) this.emit('dataconsumerclose', peerId, dataConsumer.id);
    });
    return {
      id: dataConsumer.id,
      dataProducerId,
      sctpStreamParameters: dataConsumer.sctpStreamParameters,
      label: dataConsumer.label,
      protocol: dataConsumer.protocol,
    };
  }

  closeDataProducer(peerId: string, dataProducerId: string): void {
    const dp = this.peer(peerId).dataProducers.get(dataProducerId);
    if (!dp) throw new AppError('not_found', `you have no data producer ${dataProducerId}`, 'data_producer_id');
    dp.close();
  }

  async stats(peerId: string, ids: { transportId?: string; producerId?: string; consumerId?: string }): Promise<unknown[]> {
    const peer = this.peer(peerId);
    const remoteTransport = ids.transportId ? peer.remoteTransports.get(ids.transportId) : undefined;
    if (remoteTransport && ids.transportId) return remoteTransport.router.transportOp({ transportId: ids.transportId, op: 'stats' });
    const remoteConsumer = ids.consumerId ? peer.remoteConsumers.get(ids.consumerId) : undefined;
    if (remoteConsumer && ids.consumerId) return remoteConsumer.router.consumerOp({ consumerId: ids.consumerId, op: 'stats' });
    if (ids.transportId) return this.transport(peerId, ids.transportId).transport.getStats();
    if (ids.producerId) return this.ownProducer(peerId, ids.producerId).producer.getStats();
    if (ids.consumerId) return this.ownConsumer(peerId, ids.consumerId).consumer.getStats();
    throw new AppError('invalid_payload', 'name one of transport_id, producer_id, consumer_id', 'payload');
  }

  /**
   * Sends one producer as plain RTP (optionally SRTP) to ip:port: for
   * recorders (ffmpeg) and benchmark sinks. Placed like a subscriber, so it
   * counts against router budgets and lands on piped routers when needed.
   */
  async createPlainConsumer(producerId: string, opts: PlainSubscriberOptions): Promise<{ transport: PlainTransport; consumer: Consumer }> {
    const { transport, consumers } = await this.createPlainSubscriber([producerId], opts);
    return { transport, consumer: consumers[0] };
  }

  /**
   * Sends several producers over ONE plain transport to ip:port (each stream
   * keeps its own SSRC), like a subscriber's single receive transport: one
   * socket, one set of RTCP and congestion-control timers for all its streams.
   */
  async createPlainSubscriber(
    producerIds: string[],
    opts: PlainSubscriberOptions,
  ): Promise<{ transport: PlainTransport; consumers: Consumer[] }> {
    if (producerIds.length === 0) throw new AppError('invalid_payload', 'name at least one producer', 'producer_ids');
    for (const id of producerIds) {
      if (!this.producers.has(id)) throw new AppError('not_found', `no producer ${id} in this room`);
    }
    const slot = await this.recvSlot(producerIds.length);
    let reserved = producerIds.length;
    const settle = () => {
      slot.release(reserved);
      reserved = 0;
    };
    let localIds: string[];
    try {
      localIds = await Promise.all(producerIds.map((id) => this.pipedId(slot, 'producer', id)));
    } catch (err) {
      settle();
      throw err;
    }
    const transport = await slot.router
      .createPlainTransport({
        listenInfo: { protocol: 'udp', ip: this.opts.plainListenIp },
        rtcpMux: true,
        comedia: false,
        enableSrtp: Boolean(opts.srtp),
        ...(opts.srtp ? { srtpCryptoSuite: opts.srtp.cryptoSuite } : {}),
      })
      .catch((err) => {
        settle();
        throw err;
      });
    const consumers: Consumer[] = [];
    try {
      await transport.connect({ ip: opts.ip, port: opts.port, ...(opts.srtp ? { srtpParameters: opts.srtp } : {}) });
      for (const localId of localIds) {
        const consumer = await transport.consume({
          producerId: localId,
          rtpCapabilities: opts.rtpCapabilities,
          paused: opts.paused ?? false,
        });
        slot.addConsumer();
        consumer.observer.once('close', () => slot.removeConsumer());
        // The transport lives for its streams: it goes with the last of them.
        consumer.on('producerclose', () => {
          if (consumers.every((c) => c.closed)) transport.close();
        });
        consumers.push(consumer);
      }
      settle();
      return { transport, consumers };
    } catch (err) {
      settle();
      transport.close();
      throw err;
    }
  }

  /** A participant joined the room (media state is made lazily). */
  addPeer(peerId: string): void {
    if (!this.peers.has(peerId)) this.peers.set(peerId, new MediaPeer(peerId));
  }

  /** The participant left: its transports close, and with them everything it published. */
  removePeer(peerId: string): void {
    const peer = this.peers.get(peerId);
    if (!peer) return;
    this.peers.delete(peerId);
    peer.closeAll();
    // Normally closing the transports closed everything on them (the close
    // handlers emptied these maps). On a worker whose request builder broke,
    // mediasoup's close() throws before telling anyone: forget what is left.
    for (const [id, entry] of this.producers) {
      if (entry.peer !== peer) continue;
      this.producers.delete(id);
      this.emit('producerclose', entry.info);
      this.observer.emit('producerclose', entry.info);
    }
    for (const [id, entry] of this.dataProducers) {
      if (entry.peer !== peer) continue;
      this.dataProducers.delete(id);
      this.emit('dataproducerclose', entry.info);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.quiet = true;
    for (const peer of this.peers.values()) peer.closeAll();
    this.peers.clear();
    this.remote?.close();
    for (const slot of [...this.secondaries, this.primary]) {
      try {
        slot?.router.close();
      } catch (err) {
        // A worker whose request builder broke throws here after the router is
        // marked closed; the health check replaces that worker.
        this.opts.log.warn({ err, room: this.opts.name }, 'closing a router threw');
      }
    }
    this.observer.emit('close');
  }

  // ---- routers -------------------------------------------------------------

  private primarySlot(): Promise<RouterSlot> {
    if (this.closed) return Promise.reject(new AppError('not_in_room', 'the room closed'));
    if (this.primary) return Promise.resolve(this.primary);
    this.opening ??= this.openRouter(this.opts.pool.leastLoaded()).then(
      async (slot) => {
        this.primary = slot;
        this.opening = null;
        slot.router.once('workerclose', () => this.onRouterLost(slot));
        try {
          await this.observeSpeakers(slot);
        } catch (err) {
          // The room closed (or its worker went) while the observers were made: not a fault of the request.
          if (this.closed || slot.router.closed) throw new AppError('not_in_room', 'the room closed');
          throw err;
        }
        return slot;
      },
      (err) => {
        this.opening = null;
        throw err;
      },
    );
    return this.opening;
  }

  /** Audio levels and the active speaker of the room, observed on its primary router. */
  private async observeSpeakers(slot: RouterSlot): Promise<void> {
    this.audioLevels = await slot.router.createAudioLevelObserver({ maxEntries: 8, threshold: -70, interval: AUDIO_LEVEL_INTERVAL_MS });
    this.audioLevels.on('volumes', (volumes) =>
      this.emit(
        'audiolevels',
        volumes.map((v) => ({ peerId: String(v.producer.appData['peerId']), volume: v.volume })),
      ),
    );
    this.audioLevels.on('silence', () => this.emit('audiolevels', []));
    this.activeSpeaker = await slot.router.createActiveSpeakerObserver();
    this.activeSpeaker.on('dominantspeaker', ({ producer }) => {
      this.emit('activespeaker', String(producer.appData['peerId']));
      this.observer.emit('activespeaker', String(producer.appData['peerId'])); // live streams follow the speaker
    });
  }

  private async openRouter(worker: WorkerSlot): Promise<RouterSlot> {
    const router = await worker.worker.createRouter({ mediaCodecs: MEDIA_CODECS, appData: { room: this.opts.name } });
    if (this.closed) {
      router.close();
      throw new AppError('not_in_room', 'the room closed');
    }
    return new RouterSlot(router, worker);
  }

  /** Where a new receiver goes: the primary while it has budget, else a router on another worker. */
  private async recvSlot(expectedConsumers: number): Promise<RouterSlot> {
    const primary = await this.primarySlot();
    // Decide and reserve without awaiting in between, so concurrent joins see each other.
    if (primary.load < this.opts.routerConsumerBudget) {
      primary.reserve(expectedConsumers);
      return primary;
    }
    // Past the budget, every new receiver goes to the least loaded worker, on
    // this room's router there (opened and piped on first use).
    const worker = this.opts.pool.leastLoaded();
    const existing = [primary, ...this.secondaries].find((s) => s.worker === worker && !s.router.closed);
    if (existing) {
      existing.reserve(expectedConsumers);
      return existing;
    }
    let opening = this.openingSecondaries.get(worker);
    if (!opening) {
      opening = this.openSecondary(worker).finally(() => this.openingSecondaries.delete(worker));
      this.openingSecondaries.set(worker, opening);
    }
    const slot = await opening;
    slot.reserve(expectedConsumers);
    return slot;
  }

  private async openSecondary(worker: WorkerSlot): Promise<RouterSlot> {
    const slot = await this.openRouter(worker);
    this.secondaries.push(slot);
    slot.router.once('workerclose', () => this.onRouterLost(slot));
    slot.router.observer.once('close', () => {
      const i = this.secondaries.indexOf(slot);
      if (i >= 0) this.secondaries.splice(i, 1);
    });
    this.opts.log.info({ room: this.opts.name, worker: worker.index, routers: this.routerCount }, 'room spread to another worker');
    return slot;
  }

  /** The id under which a (data) producer can be consumed on `slot` (piped there from the primary once). */
  private pipedId(slot: RouterSlot, what: 'producer' | 'dataProducer', id: string): Promise<string> {
    if (!this.primary) return Promise.reject(new AppError('internal_error', `no primary router to pipe ${what} ${id} from`));
    return slot.pipedFrom(this.primary, what, id);
  }

  /**
   * A worker died under one of our routers. Losing the primary loses every
   * producer: everyone rebuilds. Losing a secondary: only its receivers do.
   */
  private onRouterLost(slot: RouterSlot): void {
    if (this.closed) return;
    const affected =
      slot === this.primary ? [...this.peers.values()] : [...this.peers.values()].filter((p) => p.transportOf('recv')?.slot === slot);
    this.opts.log.warn(
      { room: this.opts.name, worker: slot.worker.index, peers: affected.length, primary: slot === this.primary },
      'router lost with its worker',
    );
    this.quiet = true;
    if (slot === this.primary) {
      this.primary = null;
      this.audioLevels = null;
      this.activeSpeaker = null;
      for (const s of this.secondaries.splice(0)) s.router.close();
      this.remote?.close(); // their pipes started on the primary
    }
    for (const peer of affected) peer.closeAll();
    this.quiet = false;
    // 'worker-unhealthy': the worker stopped answering (health check) and was replaced.
    const reason = slot.worker.lost === 'unhealthy' ? 'worker-unhealthy' : 'worker-died';
    for (const peer of affected) this.emit('reset', peer.id, reason);
  }

  // ---- cascade: viewers on other nodes --------------------------------------

  /** True when this node's consumers (all rooms) would pass the node budget and other nodes may help. */
  private nodeFull(expectedConsumers: number): boolean {
    if (!this.remote || !this.opts.cascade) return false;
    return nodeLoad(this.opts.pool) + expectedConsumers > this.opts.cascade.nodeConsumerBudget;
  }

  private async createRemoteRecvTransport(
    peer: MediaPeer,
    reserve: number,
    sctp: boolean,
    forceTcp: boolean,
  ): Promise<TransportOptions | null> {
    if (!this.remote) return null; // no cascade: the viewer stays here (nodeFull() says so already)
    const placed = await this.remote.createRecvTransport(peer.id, { reserve, sctp, forceTcp });
    if (!placed) {
      // Once a minute per room: a big room would say it for every viewer.
      if (Date.now() - this.overBudgetLoggedAt > 60_000) {
        this.overBudgetLoggedAt = Date.now();
        this.opts.log.warn(
          { room: this.opts.name, peer: peer.id },
          'node over its consumer budget and no other node takes viewers: keeping them here',
        );
      }
      return null;
    }
    const { router, options } = placed;
    if (this.peers.get(peer.id) !== peer || this.closed || router.closed) {
      router.tell(METHOD.transportOp, { transportId: options.id, op: 'close' });
      throw new AppError('not_in_room', 'you left the room');
    }
    peer.remoteTransports.set(options.id, { id: options.id, router, connected: false });
    return options;
  }

  private async consumeRemote(
    peer: MediaPeer,
    router: RemoteRouter,
    req: { transportId: string; producerId: string; rtpCapabilities: RtpCapabilities },
  ): Promise<ConsumerOptions> {
    if (!this.producers.has(req.producerId)) throw new AppError('not_found', `no producer ${req.producerId} in this room`, 'producer_id');
    await router.pipeProducer(req.producerId);
    const params = await router.call(METHOD.consume, {
      transportId: req.transportId,
      peerId: peer.id,
      producerId: req.producerId,
      rtpCapabilities: req.rtpCapabilities,
    });
    if (this.peers.get(peer.id) !== peer || router.closed) {
      router.tell(METHOD.consumerOp, { consumerId: params.id, op: 'close' });
      throw new AppError('not_in_room', 'you left the room');
    }
    const { score, ...consumer } = params;
    peer.remoteConsumers.set(params.id, { router, producerId: req.producerId, type: params.type });
    if (score !== undefined) this.setScore(peer, params.id, score);
    return consumer;
  }

  private async consumeDataRemote(
    peer: MediaPeer,
    router: RemoteRouter,
    transportId: string,
    dataProducerId: string,
  ): Promise<DataConsumerParams> {
    if (!this.dataProducers.has(dataProducerId)) throw new AppError('not_found', `no data producer ${dataProducerId}`, 'data_producer_id');
    await router.pipeDataProducer(dataProducerId);
    const dc = await router.call(METHOD.consumeData, { transportId, peerId: peer.id, dataProducerId });
    peer.remoteDataConsumers.set(dc.id, router);
    return dc;
  }

  /** What an agent reports about a viewer's consumer reaches the viewer as if it were local. */
  private onRemoteEvent(router: RemoteRouter, event: CascadeEvent): void {
    if (event.type === 'router-lost' || this.quiet) return;
    if (event.type === 'consumer-scores') {
      for (const [peerId, consumerId, score] of event.scores) {
        const peer = this.peers.get(peerId);
        if (peer?.remoteConsumers.get(consumerId)?.router === router) this.setScore(peer, consumerId, score);
      }
      return;
    }
    const peer = this.peers.get(event.peerId);
    if (!peer) return;
    if (event.type === 'data-consumer-producer-closed') {
      if (peer.remoteDataConsumers.delete(event.dataConsumerId)) this.emit('dataconsumerclose', peer.id, event.dataConsumerId);
      return;
    }
    const consumer = peer.remoteConsumers.get(event.consumerId);
    if (!consumer || consumer.router !== router) return;
    const consumerId = event.consumerId;
    switch (event.type) {
      case 'consumer-producer-closed':
        peer.remoteConsumers.delete(consumerId);
        peer.scores.delete(consumerId);
        return void this.emit('consumerclose', peer.id, consumerId, consumer.producerId);
      case 'consumer-paused':
        return void this.emit('consumerpause', peer.id, consumerId);
      case 'consumer-resumed':
        return void this.emit('consumerresume', peer.id, consumerId);
      case 'consumer-layers':
        return void this.emit('consumerlayerschange', peer.id, consumerId, event.spatialLayer, event.temporalLayer);
    }
  }

  /**
   * A remote router is gone: its viewers hear sfu-reset and rebuild (landing
   * wherever there is room). As for a lost worker, all of such a peer's media
   * state goes, since sfu-reset tells the client to rebuild all of it.
   */
  private onRemoteLost(router: RemoteRouter, reason: string): void {
    if (this.closed) return;
    const affected = [...this.peers.values()].filter((p) => [...p.remoteTransports.values()].some((t) => t.router === router));
    this.opts.log.warn(
      { room: this.opts.name, node: router.node, peers: affected.length, reason },
      'viewers on another node lost their media',
    );
    this.quiet = true;
    for (const peer of affected) {
      peer.dropRemote(router);
      peer.closeAll();
    }
    this.quiet = false;
    for (const peer of affected) this.emit('reset', peer.id, reason);
  }

  // ---- client mistakes mediasoup would only report as plain errors ----------

  /**
   * Takes the transport-unique ids of new RTP parameters (mid; SSRCs of
   * encodings and RTX; RIDs when there is no mid), refusing ones another
   * producer on the transport holds. Returns what gives them back.
   */
  private claimRtpIds(entry: TransportEntry, rtp: RtpParameters): () => void {
    const ssrcs = new Set<number>();
    for (const e of rtp.encodings ?? []) {
      if (e.ssrc) ssrcs.add(e.ssrc);
      if (e.rtx?.ssrc) ssrcs.add(e.rtx.ssrc);
    }
    const rids = rtp.mid ? [] : (rtp.encodings ?? []).flatMap((e) => (e.rid ? [e.rid] : []));
    if (rtp.mid !== undefined && entry.mids.has(rtp.mid)) {
      throw new AppError('conflict', `mid ${rtp.mid} is already used on this transport`, 'rtp_parameters.mid');
    }
    for (const ssrc of ssrcs) {
      if (entry.ssrcs.has(ssrc))
        throw new AppError('conflict', `SSRC ${ssrc} is already used on this transport`, 'rtp_parameters.encodings');
    }
    for (const rid of rids) {
      if (entry.rids.has(rid))
        throw new AppError('conflict', `RID ${rid} is already used on this transport (give a mid)`, 'rtp_parameters.encodings');
    }
    if (rtp.mid !== undefined) entry.mids.add(rtp.mid);
    for (const ssrc of ssrcs) entry.ssrcs.add(ssrc);
    for (const rid of rids) entry.rids.add(rid);
    return () => {
      if (rtp.mid !== undefined) entry.mids.delete(rtp.mid);
      for (const ssrc of ssrcs) entry.ssrcs.delete(ssrc);
      for (const rid of rids) entry.rids.delete(rid);
    };
  }

  /** A mediasoup call failed in a way no client causes: the worker gets a health check now. */
  private suspect(slot: RouterSlot, err: unknown): void {
    this.opts.pool.suspect(slot.worker, err);
  }

  /** Health-checks every worker this room has a router on (an unexpected error, place unknown). */
  suspectWorkers(err: unknown): void {
    for (const slot of [this.primary, ...this.secondaries]) if (slot && !slot.router.closed) this.suspect(slot, err);
  }

  // ---- lookups ---------------------------------------------------------------

  private peer(peerId: string): MediaPeer {
    const peer = this.peers.get(peerId);
    if (!peer) throw new AppError('not_in_room', 'you are not in this room');
    return peer;
  }

  private transport(peerId: string, transportId: string) {
    const entry = this.peer(peerId).transports.get(transportId);
    if (!entry) throw new AppError('not_found', `you have no transport ${transportId}`, 'transport_id');
    return entry;
  }

  private ownProducer(peerId: string, producerId: string) {
    const entry = this.peer(peerId).producers.get(producerId);
    if (!entry) throw new AppError('not_found', `you have no producer ${producerId}`, 'producer_id');
    return entry;
  }

  private ownConsumer(peerId: string, consumerId: string) {
    const entry = this.peer(peerId).consumers.get(consumerId);
    if (!entry) throw new AppError('not_found', `you have no consumer ${consumerId}`, 'consumer_id');
    return entry;
  }

  private async pause(producerId: string, paused: boolean): Promise<void> {
    const entry = this.producers.get(producerId);
    if (!entry) return;
    const producer = entry.peer.producers.get(producerId)?.producer;
    if (!producer || producer.paused === paused) return;
    if (paused) await producer.pause();
    else await producer.resume();
    entry.info.paused = paused;
    this.emit(paused ? 'producerpause' : 'producerresume', entry.info);
    this.observer.emit(paused ? 'producerpause' : 'producerresume', entry.info);
  }

  private setScore(peer: MediaPeer, id: string, score: number): void {
    peer.scores.set(id, score);
    const current = peer.currentQuality();
    if (!current || current.quality === peer.quality) return;
    peer.quality = current.quality;
    this.emit('quality', peer.id, current.quality, current.score);
  }
}
