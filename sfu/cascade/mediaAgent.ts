// The media agent of a node: on request of a room's owner node it opens a
// router for that room here, joined to the owner's router by a PipeTransport
// pair (SRTP), takes the owner's producers as pipe producers with the same
// ids, and hosts viewers' recv transports and consumers on that router. It
// reports what the viewers must hear (producer closed, layers, scores) back
// to the owner, which runs the room's signaling.

import type { Consumer, DataConsumer, DataProducer, PipeTransport, Producer, RtpCapabilities, WebRtcTransport } from 'mediasoup/types';
import { AppError } from '../../server/errors.js';
import type { Logger } from '../../server/logger.js';
import { MEDIA_CODECS } from '../codecs.js';
import { clientCall } from '../mediaRoom.js';
import { RouterSlot } from '../routerSlot.js';
import type { WorkerPool } from '../workerPool.js';
import {
  METHOD, toReply,
  type CascadeBus, type CascadeEvent, type CascadeNodes, type CascadeOptions, type ConsumeDataRequest, type ConsumeRequest, type ConsumerOpRequest, type ConsumerParams,
  type CreateTransportRequest, type DataConsumerParams, type OpenRouterReply, type OpenRouterRequest, type PipeDataProducerRequest,
  type PipeProducerRequest, type ProducerStateRequest, type TransportOpRequest, type TransportOptions,
} from './wire.js';

/** Consumers on this node's workers, placed or reserved: what the node budget limits. */
export function nodeLoad(pool: WorkerPool): number {
  return pool.slots.reduce((n, s) => n + s.consumers + s.pending, 0);
}

/** One owner's room on this node. */
interface HostedRouter {
  id: string;
  room: string;
  owner: string;
  slot: RouterSlot;
  pipe: PipeTransport;
  producers: Map<string, Promise<Producer>>;
  dataProducers: Map<string, Promise<DataProducer>>;
  transports: Map<string, { transport: WebRtcTransport; peerId: string; reserved: number }>;
  consumers: Map<string, Consumer>;
  dataConsumers: Map<string, DataConsumer>;
}

export class MediaAgent {
  private readonly routers = new Map<string, HostedRouter>();
  private readonly ownerMisses = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly pool: WorkerPool,
    private readonly bus: CascadeBus,
    private readonly opts: CascadeOptions,
    private readonly log: Logger,
    nodes?: CascadeNodes,
  ) {
    nodes?.onNodeDown?.((owner) => {
      for (const r of [...this.routers.values()]) if (r.owner === owner) r.slot.router.close();
    });
    const on = <T, R>(method: string, fn: (req: T, from: string) => Promise<R> | R) =>
      bus.handle(method, (req: T, from: string) => toReply(() => {
        if (this.closed) throw new AppError('unavailable', 'this node is shutting down');
        return fn(req, from);
      }));
    on(METHOD.open, (req: OpenRouterRequest, from) => this.open(req, from));
    on(METHOD.close, (req: { routerId: string }) => this.routers.get(req.routerId)?.slot.router.close());
    on(METHOD.pipe, (req: PipeProducerRequest) => this.pipeProducer(req));
    on(METHOD.pipeData, (req: PipeDataProducerRequest) => this.pipeDataProducer(req));
    on(METHOD.producerState, (req: ProducerStateRequest) => this.producerState(req));
    on(METHOD.createTransport, (req: CreateTransportRequest) => this.createTransport(req));
    on(METHOD.transportOp, (req: TransportOpRequest) => this.transportOp(req));
    on(METHOD.consume, (req: ConsumeRequest) => this.consume(req));
    on(METHOD.consumeData, (req: ConsumeDataRequest) => this.consumeData(req));
    on(METHOD.consumerOp, (req: ConsumerOpRequest) => this.consumerOp(req));
    on(METHOD.ping, (req: { routerIds: string[] }) => ({ missing: req.routerIds.filter((id) => !this.routers.has(id)) }));
    this.timer = setInterval(() => this.checkOwners(), opts.pingIntervalMs);
    this.timer.unref();
  }

  /** Routers hosted for other nodes' rooms (tests, admin). */
  get hosted(): ReadonlyArray<{ id: string; room: string; owner: string; pipe: PipeTransport; transports: number; consumers: number }> {
    return [...this.routers.values()].map((r) => ({
      id: r.id, room: r.room, owner: r.owner, pipe: r.pipe, transports: r.transports.size, consumers: r.consumers.size,
    }));
  }

  /** Shutting down: owners hear it first, so their viewers rebuild elsewhere at once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    for (const r of [...this.routers.values()]) {
      this.notify(r, { routerId: r.id, type: 'router-lost', reason: 'node-closing' });
      r.slot.router.close();
    }
  }

  // ---- routers and pipes -----------------------------------------------------

  private async open(req: OpenRouterRequest, owner: string): Promise<OpenRouterReply> {
    if (nodeLoad(this.pool) >= this.opts.nodeConsumerBudget) throw new AppError('unavailable', 'this node has no room for more viewers');
    const worker = this.pool.leastLoaded();
    const router = await worker.worker.createRouter({ mediaCodecs: MEDIA_CODECS, appData: { room: req.room, cascadeOwner: owner } });
    const slot = new RouterSlot(router, worker);
    let pipe: PipeTransport;
    try {
      pipe = await router.createPipeTransport({
        listenInfo: { protocol: 'udp', ip: this.opts.listenIp, ...(this.opts.announcedAddress ? { announcedAddress: this.opts.announcedAddress } : {}) },
        enableSrtp: true,
        enableRtx: true, // nodes are apart: let NACK/RTX repair losses on the link
        enableSctp: true,
      });
      await pipe.connect({ ip: req.pipe.ip, port: req.pipe.port, srtpParameters: req.pipe.srtpParameters });
    } catch (err) {
      router.close();
      throw new AppError('invalid_payload', `cannot connect the pipe: ${(err as Error).message}`);
    }
    const hosted: HostedRouter = {
      id: router.id, room: req.room, owner, slot, pipe,
      producers: new Map(), dataProducers: new Map(), transports: new Map(), consumers: new Map(), dataConsumers: new Map(),
    };
    this.routers.set(router.id, hosted);
    router.observer.once('close', () => this.routers.delete(router.id));
    router.once('workerclose', () => this.notify(hosted, { routerId: router.id, type: 'router-lost', reason: 'worker-died' }));
    // The pipe is the router's reason to exist.
    pipe.observer.once('close', () => router.close());
    this.log.info({ room: req.room, owner, router: router.id, worker: worker.index }, 'hosting a cascaded router');
    return { routerId: router.id, pipe: { ip: pipe.tuple.localAddress, port: pipe.tuple.localPort, srtpParameters: pipe.srtpParameters! } };
  }

  private router(id: string): HostedRouter {
    const r = this.routers.get(id);
    if (!r) throw new AppError('not_found', `no cascaded router ${id} on this node`);
    return r;
  }

  private pipeProducer(req: PipeProducerRequest): Promise<void> {
    const r = this.router(req.routerId);
    let producer = r.producers.get(req.producerId);
    if (!producer) {
      producer = r.pipe.produce({ id: req.producerId, kind: req.kind, rtpParameters: req.rtpParameters, paused: req.paused, appData: req.appData });
      r.producers.set(req.producerId, producer);
      producer.then(
        (p) => p.observer.once('close', () => r.producers.delete(p.id)),
        () => r.producers.delete(req.producerId),
      );
    }
    return producer.then(() => undefined);
  }

  private pipeDataProducer(req: PipeDataProducerRequest): Promise<void> {
    const r = this.router(req.routerId);
    let dp = r.dataProducers.get(req.dataProducerId);
    if (!dp) {
      dp = r.pipe.produceData({ id: req.dataProducerId, sctpStreamParameters: req.sctpStreamParameters, label: req.label, protocol: req.protocol });
      r.dataProducers.set(req.dataProducerId, dp);
      dp.then(
        (p) => p.observer.once('close', () => r.dataProducers.delete(p.id)),
        () => r.dataProducers.delete(req.dataProducerId),
      );
    }
    return dp.then(() => undefined);
  }

  private async producerState(req: ProducerStateRequest): Promise<void> {
    const r = this.routers.get(req.routerId);
    if (!r) return; // the router went first: nothing left to update
    if (req.data) {
      (await r.dataProducers.get(req.producerId)?.catch(() => null))?.close();
      return;
    }
    const producer = await r.producers.get(req.producerId)?.catch(() => null);
    if (!producer || producer.closed) return;
    if (req.state === 'closed') producer.close();
    else if (req.state === 'paused') await producer.pause();
    else await producer.resume();
  }

  // ---- viewers' transports and consumers --------------------------------------

  private async createTransport(req: CreateTransportRequest): Promise<TransportOptions> {
    const r = this.router(req.routerId);
    if (nodeLoad(this.pool) + req.reserve > this.opts.nodeConsumerBudget) throw new AppError('unavailable', 'this node has no room for more viewers');
    const { slot } = r;
    slot.reserve(req.reserve);
    let transport: WebRtcTransport;
    try {
      transport = await slot.router.createWebRtcTransport({
        webRtcServer: slot.worker.webRtcServer,
        enableUdp: !req.forceTcp,
        enableTcp: true,
        preferUdp: true,
        enableSctp: req.sctp,
        initialAvailableOutgoingBitrate: 1_000_000,
        appData: { peerId: req.peerId, direction: 'recv', cascadeOwner: r.owner },
      });
    } catch (err) {
      slot.release(req.reserve);
      throw err;
    }
    const entry = { transport, peerId: req.peerId, reserved: req.reserve };
    r.transports.set(transport.id, entry);
    transport.observer.once('close', () => {
      r.transports.delete(transport.id);
      slot.release(entry.reserved);
    });
    return {
      id: transport.id,
      iceParameters: transport.iceParameters,
      iceCandidates: transport.iceCandidates,
      dtlsParameters: transport.dtlsParameters,
      ...(transport.sctpParameters ? { sctpParameters: transport.sctpParameters } : {}),
    };
  }

  private transportEntry(req: { routerId: string; transportId: string }) {
    const entry = this.router(req.routerId).transports.get(req.transportId);
    if (!entry) throw new AppError('not_found', `you have no transport ${req.transportId}`, 'transport_id');
    return entry;
  }

  private async transportOp(req: TransportOpRequest): Promise<unknown> {
    if (req.op === 'close') {
      this.routers.get(req.routerId)?.transports.get(req.transportId)?.transport.close();
      return null;
    }
    const { transport } = this.transportEntry(req);
    if (req.op === 'connect') {
      await clientCall('connect-transport', () => transport.connect({ dtlsParameters: req.dtlsParameters as never }));
      return null;
    }
    if (req.op === 'restart-ice') return transport.restartIce();
    return transport.getStats();
  }

  private async consume(req: ConsumeRequest): Promise<ConsumerParams> {
    const r = this.router(req.routerId);
    const entry = this.transportEntry(req);
    if (!(await r.producers.get(req.producerId)?.catch(() => null))) {
      throw new AppError('not_found', `no producer ${req.producerId} in this room`, 'producer_id');
    }
    const rtpCapabilities = req.rtpCapabilities as RtpCapabilities;
    const canConsume = await clientCall('consume', async () => r.slot.router.canConsume({ producerId: req.producerId, rtpCapabilities }));
    if (!canConsume) throw new AppError('invalid_payload', 'your rtp_capabilities cannot receive this producer', 'rtp_capabilities');
    const consumer = await clientCall('consume', () =>
      entry.transport.consume({ producerId: req.producerId, rtpCapabilities, paused: true, appData: { peerId: req.peerId } }),
    );
    r.slot.addConsumer();
    if (entry.reserved > 0) {
      entry.reserved--;
      r.slot.release(1);
    }
    r.consumers.set(consumer.id, consumer);
    consumer.observer.once('close', () => {
      r.slot.removeConsumer();
      r.consumers.delete(consumer.id);
    });
    const about = { routerId: r.id, peerId: req.peerId, consumerId: consumer.id };
    consumer.on('producerclose', () => this.notify(r, { ...about, type: 'consumer-producer-closed' }));
    consumer.on('producerpause', () => this.notify(r, { ...about, type: 'consumer-paused' }));
    consumer.on('producerresume', () => this.notify(r, { ...about, type: 'consumer-resumed' }));
    consumer.on('layerschange', (layers) =>
      this.notify(r, { ...about, type: 'consumer-layers', spatialLayer: layers?.spatialLayer ?? null, temporalLayer: layers?.temporalLayer ?? null }),
    );
    consumer.on('score', ({ score }) => this.notify(r, { ...about, type: 'consumer-score', score }));
    return {
      id: consumer.id,
      producerId: req.producerId,
      kind: consumer.kind,
      rtpParameters: consumer.rtpParameters,
      type: consumer.type,
      producerPaused: consumer.producerPaused,
    };
  }

  private async consumeData(req: ConsumeDataRequest): Promise<DataConsumerParams> {
    const r = this.router(req.routerId);
    const entry = this.transportEntry(req);
    if (!(await r.dataProducers.get(req.dataProducerId)?.catch(() => null))) {
      throw new AppError('not_found', `no data producer ${req.dataProducerId}`, 'data_producer_id');
    }
    const dc = await clientCall('consume-data', () => entry.transport.consumeData({ dataProducerId: req.dataProducerId, appData: { peerId: req.peerId } }));
    r.dataConsumers.set(dc.id, dc);
    dc.observer.once('close', () => r.dataConsumers.delete(dc.id));
    dc.on('dataproducerclose', () =>
      this.notify(r, { routerId: r.id, type: 'data-consumer-producer-closed', peerId: req.peerId, dataConsumerId: dc.id }),
    );
    return { id: dc.id, dataProducerId: req.dataProducerId, sctpStreamParameters: dc.sctpStreamParameters, label: dc.label, protocol: dc.protocol };
  }

  private async consumerOp(req: ConsumerOpRequest): Promise<unknown> {
    const consumer = this.routers.get(req.routerId)?.consumers.get(req.consumerId);
    if (req.op === 'close') {
      consumer?.close();
      return null;
    }
    if (!consumer) throw new AppError('not_found', `you have no consumer ${req.consumerId}`, 'consumer_id');
    if (req.op === 'pause') await consumer.pause();
    else if (req.op === 'resume') await consumer.resume();
    else if (req.op === 'stats') return consumer.getStats();
    else {
      await clientCall('set-consumer-layers', () =>
        consumer.setPreferredLayers({ spatialLayer: req.spatialLayer ?? 0, ...(req.temporalLayer !== undefined ? { temporalLayer: req.temporalLayer } : {}) }),
      );
    }
    return null;
  }

  // ---- liveness ----------------------------------------------------------------

  private notify(r: HostedRouter, event: CascadeEvent): void {
    this.bus.send(r.owner, METHOD.event, event);
  }

  /** Routers whose owner forgot them (room ended while a message was lost) or died are closed. */
  private checkOwners(): void {
    const byOwner = new Map<string, HostedRouter[]>();
    for (const r of this.routers.values()) byOwner.set(r.owner, [...(byOwner.get(r.owner) ?? []), r]);
    for (const [owner, routers] of byOwner) {
      const ids = routers.map((r) => r.id);
      this.bus.request<{ missing: string[] }>(owner, METHOD.alive, { routerIds: ids }, this.opts.pingIntervalMs).then(
        ({ missing }) => {
          this.ownerMisses.delete(owner);
          for (const id of missing) this.routers.get(id)?.slot.router.close();
        },
        () => {
          const misses = (this.ownerMisses.get(owner) ?? 0) + 1;
          this.ownerMisses.set(owner, misses);
          if (misses < this.opts.pingMisses) return;
          this.ownerMisses.delete(owner);
          this.log.warn({ owner, routers: ids.length }, 'owner node of cascaded rooms is gone: closing their routers');
          for (const id of ids) this.routers.get(id)?.slot.router.close();
        },
      );
    }
  }
}
