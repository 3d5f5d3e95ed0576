// The cascade side of a room: past this node's consumer budget, new viewers'
// recv transports, consumers and data consumers live on routers of other
// nodes (RemoteRouter); what those nodes report reaches the viewers as if
// their media were here.

import type { RtpCapabilities } from 'mediasoup/types';
import { AppError } from '../server/kernel/errors.js';
import type { Cascade, RoomCascade } from './cascade/cascade.js';
import type { RemoteRouter } from './cascade/remoteRouter.js';
import { METHOD, type CascadeEvent, type DataConsumerParams, type TransportOptions } from './cascade/wire.js';
import type { ConsumerOptions } from './consumerParams.js';
import type { MediaPeer, RemoteConsumerEntry } from './mediaPeer.js';
import type { RoomRouters } from './roomRouters.js';
import type { RoomState } from './roomState.js';
import { nodeLoad, type WorkerPool } from './workerPool.js';

export interface RemoteViewersOptions {
  pool: WorkerPool;
  /** Cluster mode: past nodeConsumerBudget, new viewers' recv sides go to other nodes. */
  cascade?: { cascade: Cascade; nodeConsumerBudget: number } | null;
}

export class RemoteViewers {
  /** This room's routers on other nodes (cluster mode with cascading on). */
  readonly remote: RoomCascade | null;
  private overBudgetLoggedAt = 0;

  constructor(
    private readonly state: RoomState,
    routers: RoomRouters,
    private readonly opts: RemoteViewersOptions,
  ) {
    this.remote =
      opts.cascade?.cascade.room(state.name, {
        primaryRouter: async () => (await routers.primarySlot()).router,
        producerIds: () => [...state.producers.keys()],
        onEvent: (router, event) => this.onEvent(router, event),
        onLost: (router, reason) => this.onLost(router, reason),
      }) ?? null;
  }

  /** True when this node's consumers (all rooms) would pass the node budget and other nodes may help. */
  nodeFull(expectedConsumers: number): boolean {
    if (!this.remote || !this.opts.cascade) return false;
    return nodeLoad(this.opts.pool) + expectedConsumers > this.opts.cascade.nodeConsumerBudget;
  }

  /** A viewer's recv transport on another node, or null when none takes it (the viewer stays here). */
  async createRecvTransport(peer: MediaPeer, reserve: number, sctp: boolean, forceTcp: boolean): Promise<TransportOptions | null> {
    if (!this.remote) return null; // no cascade: the viewer stays here (nodeFull() says so already)
    const placed = await this.remote.createRecvTransport(peer.id, { reserve, sctp, forceTcp });
    if (!placed) {
      // Once a minute per room: a big room would say it for every viewer.
      if (Date.now() - this.overBudgetLoggedAt > 60_000) {
        this.overBudgetLoggedAt = Date.now();
        this.state.log.warn(
          { room: this.state.name, peer: peer.id },
          'node over its consumer budget and no other node takes viewers: keeping them here',
        );
      }
      return null;
    }
    const { router, options } = placed;
    if (!this.state.present(peer) || this.state.closed || router.closed) {
      router.tell(METHOD.transportOp, { transportId: options.id, op: 'close' });
      throw new AppError('not_in_room', 'you left the room');
    }
    peer.remoteTransports.set(options.id, { id: options.id, router, connected: false });
    return options;
  }

  async consume(
    peer: MediaPeer,
    router: RemoteRouter,
    req: { transportId: string; producerId: string; rtpCapabilities: RtpCapabilities },
  ): Promise<ConsumerOptions> {
    if (!this.state.producers.has(req.producerId))
      throw new AppError('not_found', `no producer ${req.producerId} in this room`, 'producer_id');
    await router.pipeProducer(req.producerId);
    const params = await router.call(METHOD.consume, {
      transportId: req.transportId,
      peerId: peer.id,
      producerId: req.producerId,
      rtpCapabilities: req.rtpCapabilities,
    });
    if (!this.state.present(peer) || router.closed) {
      router.tell(METHOD.consumerOp, { consumerId: params.id, op: 'close' });
      throw new AppError('not_in_room', 'you left the room');
    }
    const { score, ...consumer } = params;
    const entry: RemoteConsumerEntry = {
      router,
      producerId: req.producerId,
      type: params.type,
      paused: true,
      spatialLayer: null,
      release: () => {},
    };
    // Dynacast: the owner relays every request of its remote viewers, so it knows what they want exactly.
    entry.release =
      this.state.dynacast?.want(req.producerId, { wanted: () => (entry.paused ? null : (entry.spatialLayer ?? Infinity)) }) ??
      entry.release;
    peer.remoteConsumers.set(params.id, entry);
    if (score !== undefined) this.state.setScore(peer, params.id, score);
    return consumer;
  }

  async consumeData(peer: MediaPeer, router: RemoteRouter, transportId: string, dataProducerId: string): Promise<DataConsumerParams> {
    if (!this.state.dataProducers.has(dataProducerId))
      throw new AppError('not_found', `no data producer ${dataProducerId}`, 'data_producer_id');
    await router.pipeDataProducer(dataProducerId);
    const dc = await router.call(METHOD.consumeData, { transportId, peerId: peer.id, dataProducerId });
    peer.remoteDataConsumers.set(dc.id, router);
    return dc;
  }

  async setConsumerLayers(entry: RemoteConsumerEntry, consumerId: string, spatialLayer: number, temporalLayer?: number): Promise<void> {
    const { type } = entry;
    if (type !== 'simulcast' && type !== 'svc') throw new AppError('invalid_payload', `a ${type} consumer has no layers`, 'consumer_id');
    await entry.router.consumerOp({ consumerId, op: 'layers', spatialLayer, ...(temporalLayer !== undefined ? { temporalLayer } : {}) });
    entry.spatialLayer = spatialLayer;
    this.state.dynacast?.refresh(entry.producerId);
  }

  /** What an agent reports about a viewer's consumer reaches the viewer as if it were local. */
  private onEvent(router: RemoteRouter, event: CascadeEvent): void {
    const { state } = this;
    if (event.type === 'router-lost' || state.quiet) return;
    if (event.type === 'consumer-scores') {
      for (const [peerId, consumerId, score] of event.scores) {
        const peer = state.peers.get(peerId);
        if (peer?.remoteConsumers.get(consumerId)?.router === router) state.setScore(peer, consumerId, score);
      }
      return;
    }
    const peer = state.peers.get(event.peerId);
    if (!peer) return;
    if (event.type === 'data-consumer-producer-closed') {
      if (peer.remoteDataConsumers.delete(event.dataConsumerId)) state.news.emit('dataconsumerclose', peer.id, event.dataConsumerId);
      return;
    }
    const consumer = peer.remoteConsumers.get(event.consumerId);
    if (!consumer || consumer.router !== router) return;
    const consumerId = event.consumerId;
    switch (event.type) {
      case 'consumer-producer-closed':
        peer.remoteConsumers.delete(consumerId);
        peer.scores.delete(consumerId);
        consumer.release();
        return void state.news.emit('consumerclose', peer.id, consumerId, consumer.producerId);
      case 'consumer-paused':
        return void state.news.emit('consumerpause', peer.id, consumerId);
      case 'consumer-resumed':
        return void state.news.emit('consumerresume', peer.id, consumerId);
      case 'consumer-layers':
        return void state.news.emit('consumerlayerschange', peer.id, consumerId, event.spatialLayer, event.temporalLayer);
    }
  }

  /**
   * A remote router is gone: its viewers hear sfu-reset and rebuild (landing
   * wherever there is room). As for a lost worker, all of such a peer's media
   * state goes, since sfu-reset tells the client to rebuild all of it.
   */
  private onLost(router: RemoteRouter, reason: string): void {
    if (this.state.closed) return;
    const affected = [...this.state.peers.values()].filter((p) => [...p.remoteTransports.values()].some((t) => t.router === router));
    this.state.log.warn(
      { room: this.state.name, node: router.node, peers: affected.length, reason },
      'viewers on another node lost their media',
    );
    this.state.resetPeers(affected, reason, () => {
      for (const peer of affected) peer.dropRemote(router);
    });
  }
}
