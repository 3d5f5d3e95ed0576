// The SFU side of one room, as the rooms domain sees it: one facade over its
// parts (routers and pipes, per-peer transports, publishing, subscribing,
// speaking observers, viewers on other nodes, plain subscribers). The domain
// calls it and listens to its typed events (mediaRoomEvents.ts); it knows no
// sockets, roles or wire format.

import type { Consumer, DtlsParameters, IceParameters, PlainTransport, RtpCapabilities } from 'mediasoup/types';
import { EventEmitter } from 'node:events';
import { AppError } from '../server/kernel/errors.js';
import type { Logger } from '../server/kernel/logger.js';
import type { DataProducerInfo, ProducerInfo, Quality, Source } from '../server/kernel/media.js';
import type { Cascade, RoomCascade } from './cascade/cascade.js';
import type { DataConsumerParams, TransportOptions } from './cascade/wire.js';
import type { ConsumerOptions } from './consumerParams.js';
import { Dynacast } from './dynacast.js';
import { MediaPeer } from './mediaPeer.js';
import type { MediaRoomEvents, MediaRoomObserverEvents } from './mediaRoomEvents.js';
import { connectLocal, connectOnce, openTransport } from './peerTransports.js';
import { createPlainSubscriber, type PlainSubscriberOptions } from './plainSubscribers.js';
import { Publishing, type ProduceDataRequest, type ProduceRequest } from './publishing.js';
import { RemoteViewers } from './remoteViewers.js';
import { RoomRouters } from './roomRouters.js';
import type { RouterSlot } from './routerSlot.js';
import { RoomState } from './roomState.js';
import { Speakers } from './speakers.js';
import { Subscribing } from './subscribing.js';
import type { WorkerPool } from './workerPool.js';

export { clientCall } from './clientMistakes.js';
export { consumerParams, type ConsumerOptions } from './consumerParams.js';
export type { MediaRoomObserverEvents } from './mediaRoomEvents.js';
export type { PlainSubscriberOptions } from './plainSubscribers.js';

export interface MediaRoomOptions {
  name: string;
  /** Address plain (RTP) transports listen on, for recorders and sinks on this host. */
  plainListenIp: string;
  pool: WorkerPool;
  routerConsumerBudget: number;
  log: Logger;
  /** Cluster mode: past nodeConsumerBudget, new viewers' recv sides go to other nodes. */
  cascade?: { cascade: Cascade; nodeConsumerBudget: number } | null;
  /** Dynacast on (sfu/dynacast.ts): lower demand reaches publishers after lowerDelayMs. Off when absent. */
  dynacast?: { lowerDelayMs: number } | null;
}

export class MediaRoom extends EventEmitter<MediaRoomEvents> {
  /** Producers appearing, pausing and closing, for recorders (never for signaling). */
  readonly observer = new EventEmitter<MediaRoomObserverEvents>();
  /** This room's routers on other nodes (cluster mode with cascading on). */
  readonly remote: RoomCascade | null;
  private readonly state: RoomState;
  private readonly routers: RoomRouters;
  private readonly speakers: Speakers;
  private readonly viewers: RemoteViewers;
  private readonly publishing: Publishing;
  private readonly subscribing: Subscribing;

  constructor(private readonly opts: MediaRoomOptions) {
    super();
    const dynacast = opts.dynacast
      ? new Dynacast({
          lowerDelayMs: opts.dynacast.lowerDelayMs,
          onChange: (producerId, layer) => {
            const entry = this.state.producers.get(producerId);
            if (entry && !this.state.quiet) this.emit('publisherlayers', entry.peer.id, producerId, layer);
          },
          onScored: (producerId) => this.publishing.rescore(producerId),
        })
      : null;
    const state = new RoomState({ name: opts.name, log: opts.log, pool: opts.pool, news: this, observer: this.observer, dynacast });
    this.state = state;
    this.speakers = new Speakers(this, this.observer, opts.log);
    this.routers = new RoomRouters({
      name: opts.name,
      pool: opts.pool,
      routerConsumerBudget: opts.routerConsumerBudget,
      log: opts.log,
      isClosed: () => state.closed,
      onPrimary: (slot) => this.speakers.observe(slot),
      onLost: (slot) => this.onRouterLost(slot),
    });
    this.viewers = new RemoteViewers(state, this.routers, { pool: opts.pool, cascade: opts.cascade ?? null });
    this.remote = this.viewers.remote;
    this.publishing = new Publishing(state, this.speakers, this.remote);
    this.subscribing = new Subscribing(state, this.routers);
  }

  /** The room's name (recorders find the rooms-domain room by it). */
  get name(): string {
    return this.opts.name;
  }

  get closed(): boolean {
    return this.state.closed;
  }

  get routerCount(): number {
    return this.routers.count;
  }

  /** The participant's last reported connection quality (null before any score). */
  qualityOf(peerId: string): Quality | null {
    return this.state.peers.get(peerId)?.quality ?? null;
  }

  producerList(): ProducerInfo[] {
    return [...this.state.producers.values()].map((p) => p.info);
  }

  dataProducerList(): DataProducerInfo[] {
    return [...this.state.dataProducers.values()].map((p) => p.info);
  }

  async rtpCapabilities(): Promise<RtpCapabilities> {
    return (await this.routers.primarySlot()).router.rtpCapabilities;
  }

  // ---- transports (here or, for viewers past the node budget, on another node)

  async createTransport(peerId: string, direction: 'send' | 'recv', sctp: boolean, forceTcp = false): Promise<TransportOptions> {
    const peer = this.state.peer(peerId);
    if (peer.transportOf(direction) || (direction === 'recv' && peer.remoteTransports.size > 0)) {
      throw new AppError('conflict', `you already have a ${direction} transport; close it or restart ICE`);
    }
    // A receiver will consume about everything published now.
    const reserved = direction === 'recv' ? Math.max(1, this.state.producers.size) : 0;
    if (direction === 'recv' && this.viewers.nodeFull(reserved)) {
      const remote = await this.viewers.createRecvTransport(peer, reserved, sctp, forceTcp);
      if (remote) return remote;
    }
    const slot = direction === 'send' ? await this.routers.primarySlot() : await this.routers.recvSlot(reserved);
    return openTransport(this.state, peer, slot, { direction, reserved, sctp, forceTcp });
  }

  async connectTransport(peerId: string, transportId: string, dtlsParameters: DtlsParameters): Promise<void> {
    const remote = this.state.peer(peerId).remoteTransports.get(transportId);
    if (remote) return connectOnce(remote, () => remote.router.transportOp({ transportId, op: 'connect', dtlsParameters }));
    const local = this.state.transport(peerId, transportId);
    return connectOnce(local, () => connectLocal(this.state, local, dtlsParameters));
  }

  async restartIce(peerId: string, transportId: string): Promise<IceParameters> {
    const remote = this.state.peer(peerId).remoteTransports.get(transportId);
    if (remote) return remote.router.transportOp({ transportId, op: 'restart-ice' });
    const { transport } = this.state.transport(peerId, transportId);
    return transport.restartIce();
  }

  // ---- publishing --------------------------------------------------------------

  async produce(peerId: string, req: ProduceRequest): Promise<string> {
    const peer = this.state.peer(peerId);
    return this.publishing.produce(peer, this.state.transport(peerId, req.transportId), req);
  }

  async setProducerPaused(peerId: string, producerId: string, paused: boolean): Promise<void> {
    const { producer } = this.state.ownProducer(peerId, producerId);
    await this.publishing.pause(producer.id, paused);
  }

  /** Server-side mute: pauses (or resumes) the peer's producers of these sources. */
  async setSourcesPaused(peerId: string, sources: Source[], paused: boolean): Promise<void> {
    const peer = this.state.peers.get(peerId);
    if (!peer) return;
    const ids = [...peer.producers.values()].filter((p) => sources.includes(p.source)).map((p) => p.producer.id);
    await Promise.all(ids.map((id) => this.publishing.pause(id, paused)));
  }

  closeProducer(peerId: string, producerId: string): void {
    this.state.ownProducer(peerId, producerId).producer.close();
  }

  async produceData(peerId: string, req: ProduceDataRequest): Promise<string> {
    const peer = this.state.peer(peerId);
    return this.publishing.produceData(peer, this.state.transport(peerId, req.transportId), req);
  }

  closeDataProducer(peerId: string, dataProducerId: string): void {
    const dp = this.state.peer(peerId).dataProducers.get(dataProducerId);
    if (!dp) throw new AppError('not_found', `you have no data producer ${dataProducerId}`, 'data_producer_id');
    dp.close();
  }

  // ---- subscribing (here or on another node) -------------------------------------

  async consume(
    peerId: string,
    req: { transportId: string; producerId: string; rtpCapabilities: RtpCapabilities },
  ): Promise<ConsumerOptions> {
    const peer = this.state.peer(peerId);
    const remote = peer.remoteTransports.get(req.transportId);
    if (remote) return this.viewers.consume(peer, remote.router, req);
    return this.subscribing.consume(peer, this.state.transport(peerId, req.transportId), req);
  }

  async setConsumerPaused(peerId: string, consumerId: string, paused: boolean): Promise<void> {
    const remote = this.state.peer(peerId).remoteConsumers.get(consumerId);
    if (remote) {
      await remote.router.consumerOp({ consumerId, op: paused ? 'pause' : 'resume' });
      remote.paused = paused;
      return this.state.dynacast?.refresh(remote.producerId);
    }
    const { consumer } = this.state.ownConsumer(peerId, consumerId);
    if (paused) await consumer.pause();
    else await consumer.resume();
  }

  async setConsumerLayers(peerId: string, consumerId: string, spatialLayer: number, temporalLayer?: number): Promise<void> {
    const remote = this.state.peer(peerId).remoteConsumers.get(consumerId);
    if (remote) return this.viewers.setConsumerLayers(remote, consumerId, spatialLayer, temporalLayer);
    await this.subscribing.setConsumerLayers(this.state.ownConsumer(peerId, consumerId), spatialLayer, temporalLayer);
  }

  async consumeData(peerId: string, transportId: string, dataProducerId: string): Promise<DataConsumerParams> {
    const peer = this.state.peer(peerId);
    const remote = peer.remoteTransports.get(transportId);
    if (remote) return this.viewers.consumeData(peer, remote.router, transportId, dataProducerId);
    return this.subscribing.consumeData(peer, this.state.transport(peerId, transportId), dataProducerId);
  }

  async stats(peerId: string, ids: { transportId?: string; producerId?: string; consumerId?: string }): Promise<unknown[]> {
    const peer = this.state.peer(peerId);
    const remoteTransport = ids.transportId ? peer.remoteTransports.get(ids.transportId) : undefined;
    if (remoteTransport && ids.transportId) return remoteTransport.router.transportOp({ transportId: ids.transportId, op: 'stats' });
    const remoteConsumer = ids.consumerId ? peer.remoteConsumers.get(ids.consumerId) : undefined;
    if (remoteConsumer && ids.consumerId) return remoteConsumer.router.consumerOp({ consumerId: ids.consumerId, op: 'stats' });
    if (ids.transportId) return this.state.transport(peerId, ids.transportId).transport.getStats();
    if (ids.producerId) return this.state.ownProducer(peerId, ids.producerId).producer.getStats();
    if (ids.consumerId) return this.state.ownConsumer(peerId, ids.consumerId).consumer.getStats();
    throw new AppError('invalid_payload', 'name one of transport_id, producer_id, consumer_id', 'payload');
  }

  // ---- plain (RTP) subscribers: recorders and benchmark sinks -------------------

  /** Sends one producer as plain RTP (optionally SRTP) to ip:port (see plainSubscribers.ts). */
  async createPlainConsumer(producerId: string, opts: PlainSubscriberOptions): Promise<{ transport: PlainTransport; consumer: Consumer }> {
    const { transport, consumers } = await this.createPlainSubscriber([producerId], opts);
    return { transport, consumer: consumers[0] };
  }

  /** Sends several producers over ONE plain transport to ip:port (see plainSubscribers.ts). */
  createPlainSubscriber(
    producerIds: string[],
    opts: PlainSubscriberOptions,
  ): Promise<{ transport: PlainTransport; consumers: Consumer[] }> {
    const room = {
      routers: this.routers,
      hasProducer: (id: string) => this.state.producers.has(id),
      listenIp: this.opts.plainListenIp,
      // Recorders and sinks take the top layer (unless they ask otherwise) while not paused.
      watch: (producerId: string, consumer: Consumer) => this.state.dynacast?.watchConsumer(producerId, consumer),
    };
    return createPlainSubscriber(room, producerIds, opts);
  }

  // ---- participants, workers, closing ----------------------------------------------

  /** A participant joined the room (media state is made lazily). */
  addPeer(peerId: string): void {
    if (!this.state.peers.has(peerId)) this.state.peers.set(peerId, new MediaPeer(peerId));
  }

  /** The participant left: its transports close, and with them everything it published. */
  removePeer(peerId: string): void {
    const { state } = this;
    const peer = state.peers.get(peerId);
    if (!peer) return;
    state.peers.delete(peerId);
    peer.closeAll();
    // Normally closing the transports closed everything on them (the close
    // handlers emptied these maps). On a worker whose request builder broke,
    // mediasoup's close() throws before telling anyone: forget what is left.
    for (const [id, entry] of state.producers) {
      if (entry.peer !== peer) continue;
      state.producers.delete(id);
      state.dynacast?.removeProducer(id);
      this.emit('producerclose', entry.info);
      this.observer.emit('producerclose', entry.info);
    }
    for (const [id, entry] of state.dataProducers) {
      if (entry.peer !== peer) continue;
      state.dataProducers.delete(id);
      this.emit('dataproducerclose', entry.info);
    }
  }

  /** Health-checks every worker this room has a router on (an unexpected error, place unknown). */
  suspectWorkers(err: unknown): void {
    for (const slot of this.routers.openSlots()) this.state.suspect(slot, err);
  }

  close(): void {
    const { state } = this;
    if (state.closed) return;
    state.closed = true;
    state.quiet = true;
    for (const peer of state.peers.values()) peer.closeAll();
    state.peers.clear();
    state.dynacast?.close();
    this.remote?.close();
    this.routers.close();
    this.observer.emit('close');
  }

  /**
   * A worker died under one of our routers. Losing the primary loses every
   * producer: everyone rebuilds. Losing a secondary: only its receivers do.
   */
  private onRouterLost(slot: RouterSlot): void {
    const { state } = this;
    if (state.closed) return;
    const primary = this.routers.isPrimary(slot);
    const peers = [...state.peers.values()];
    const affected = primary ? peers : peers.filter((p) => p.transportOf('recv')?.slot === slot);
    state.log.warn({ room: state.name, worker: slot.worker.index, peers: affected.length, primary }, 'router lost with its worker');
    // 'worker-unhealthy': the worker stopped answering (health check) and was replaced.
    const reason = slot.worker.lost === 'unhealthy' ? 'worker-unhealthy' : 'worker-died';
    state.resetPeers(affected, reason, () => {
      if (!primary) return;
      this.routers.dropPrimary();
      this.speakers.forget();
      this.remote?.close(); // their pipes started on the primary
    });
  }
}
