// The media agent of a node: on request of a room's owner node it opens a
// router for that room here, joined to the owner's router by a PipeTransport
// pair (SRTP), takes the owner's producers as pipe producers with the same
// ids, and hosts viewers' recv transports and consumers on that router. It
// reports what the viewers must hear (producer closed, layers, scores) back
// to the owner, which runs the room's signaling.

import type { Consumer, DataConsumer, DataProducer, PipeTransport, Producer, RtpCapabilities, WebRtcTransport } from 'mediasoup/types';
import { AppError } from '../../server/kernel/errors.js';
import type { Logger } from '../../server/kernel/logger.js';
import { MEDIA_CODECS } from '../codecs.js';
import { clientCall } from '../clientMistakes.js';
import { consumerParams } from '../consumerParams.js';
import { RouterSlot } from '../routerSlot.js';
import { LivenessChecks } from './liveness.js';
import type { RouterMethod } from './remoteRouter.js';
import { nodeLoad, type WorkerPool, type WorkerSlot } from '../workerPool.js';
import {
  METHOD,
  pipeIp,
  pipeListenInfo,
  pipeTupleOf,
  toReply,
  type AgentCalls,
  type AgentMethod,
  type CascadeBus,
  type CascadeMethods,
  type ConsumerOpResults,
  type TransportOpResults,
  type CascadeEvent,
  type CascadeNodes,
  type CascadeOptions,
  type ConsumeDataRequest,
  type ConsumeRequest,
  type ConsumerOpRequest,
  type ConsumerParams,
  type CreateTransportRequest,
  type DataConsumerParams,
  type OpenRouterReply,
  type OpenRouterRequest,
  type PipeDataProducerRequest,
  type PipeProducerRequest,
  type ProducerStateRequest,
  type TransportOpRequest,
  type TransportOptions,
} from './wire.js';

/**
 * One owner's room on this node: the router its pipe arrives at (`slot`),
 * and, once that one has its budget of consumers, routers on this node's
 * other workers fed from it by local pipes, as MediaRoom does for its own rooms.
 */
interface HostedRouter {
  id: string;
  room: string;
  owner: string;
  openedAt: number;
  slot: RouterSlot;
  spread: RouterSlot[];
  opening: Map<WorkerSlot, Promise<RouterSlot>>;
  pipe: PipeTransport;
  producers: Map<string, Promise<Producer>>;
  dataProducers: Map<string, Promise<DataProducer>>;
  transports: Map<string, { transport: WebRtcTransport; slot: RouterSlot; peerId: string; reserved: number }>;
  consumers: Map<string, Consumer>;
  dataConsumers: Map<string, DataConsumer>;
  /** Scores changed since the last flush, by consumer id. */
  scores: Map<string, [string, string, number]>;
}

/** Scores change often; a big room would send a bus message per consumer per change without this. */
const SCORE_FLUSH_MS = 1000;

export class MediaAgent {
  private readonly routers = new Map<string, HostedRouter>();
  private readonly liveness: LivenessChecks;
  private readonly timer: NodeJS.Timeout;
  private readonly scoreTimer: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly pool: WorkerPool,
    private readonly bus: CascadeBus,
    private readonly opts: CascadeOptions,
    private readonly log: Logger,
    nodes?: CascadeNodes,
  ) {
    this.liveness = new LivenessChecks({ misses: opts.pingMisses, busHealthy: () => nodes?.busHealthy?.() ?? true });
    // The cluster thinks an owner died: confirm it now rather than at the next round.
    nodes?.onNodeDown?.((owner) => {
      const ids = [...this.routers.values()].filter((r) => r.owner === owner).map((r) => r.id);
      if (ids.length > 0) this.checkOwner(owner, ids, true);
    });
    const on = <M extends AgentMethod>(
      method: M,
      fn: (req: AgentCalls[M]['request'], from: string) => Promise<AgentCalls[M]['result']> | AgentCalls[M]['result'],
    ) =>
      bus.handle(method, (req, from) => {
        const reply = toReply(() => {
          if (this.closed) throw new AppError('unavailable', 'this node is shutting down');
          return fn(req, from);
        });
        // CascadeMethods[M]['reply'] is Reply<AgentCalls[M]['result']> by its definition; TS does not follow a generic M through it.
        return reply as Promise<CascadeMethods[M]['reply']>;
      });
    // Only the node that opened a router may act on it.
    const owned = <M extends RouterMethod>(
      method: M,
      fn: (req: AgentCalls[M]['request'], r: HostedRouter | undefined) => Promise<AgentCalls[M]['result']> | AgentCalls[M]['result'],
    ) =>
      on(method, (req, from) => {
        const r = this.routers.get(req.routerId);
        if (r && r.owner !== from) throw new AppError('forbidden', `router ${req.routerId} belongs to another node`);
        return fn(req, r);
      });
    on(METHOD.open, (req, from) => this.open(req, from));
    owned(METHOD.close, (_req, r) => r?.slot.router.close());
    owned(METHOD.pipe, (req, r) => this.pipeProducer(this.need(req, r), req));
    owned(METHOD.pipeData, (req, r) => this.pipeDataProducer(this.need(req, r), req));
    owned(METHOD.producerState, (req, r) => r && this.producerState(r, req));
    owned(METHOD.createTransport, (req, r) => this.createTransport(this.need(req, r), req));
    owned(METHOD.transportOp, (req, r) => this.transportOp(r, req));
    owned(METHOD.consume, (req, r) => this.consume(this.need(req, r), req));
    owned(METHOD.consumeData, (req, r) => this.consumeData(this.need(req, r), req));
    owned(METHOD.consumerOp, (req, r) => this.consumerOp(r, req));
    on(METHOD.ping, (req, from) => ({ missing: req.routerIds.filter((id) => this.routers.get(id)?.owner !== from) }));
    this.timer = setInterval(() => this.checkOwners(), opts.pingIntervalMs);
    this.timer.unref();
    this.scoreTimer = setInterval(() => this.flushScores(), SCORE_FLUSH_MS);
    this.scoreTimer.unref();
  }

  private flushScores(): void {
    for (const r of this.routers.values()) {
      if (r.scores.size === 0) continue;
      this.notify(r, { routerId: r.id, type: 'consumer-scores', scores: [...r.scores.values()] });
      r.scores.clear();
    }
  }

  /** Routers hosted for other nodes' rooms (tests, admin). */
  get hosted(): ReadonlyArray<{
    id: string;
    room: string;
    owner: string;
    router: RouterSlot;
    spread: number;
    pipe: PipeTransport;
    transports: number;
    consumers: number;
  }> {
    return [...this.routers.values()].map((r) => ({
      id: r.id,
      room: r.room,
      owner: r.owner,
      router: r.slot,
      spread: r.spread.length,
      pipe: r.pipe,
      transports: r.transports.size,
      consumers: r.consumers.size,
    }));
  }

  /**
   * Shutting down: owners hear it first, so their viewers rebuild elsewhere
   * at once. Each owner acknowledges (a request, not a one-way send: the bus
   * closes right after, and a send still queued then would be lost).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    clearInterval(this.scoreTimer);
    const told = [...this.routers.values()].map((r) => {
      const event: CascadeEvent = { routerId: r.id, type: 'router-lost', reason: 'node-closing' };
      return this.bus.request(r.owner, METHOD.event, event, this.opts.pingIntervalMs).finally(() => r.slot.router.close());
    });
    await Promise.allSettled(told);
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
        listenInfo: pipeListenInfo(this.opts),
        enableSrtp: true,
        enableRtx: true, // nodes are apart: let NACK/RTX repair losses on the link
        enableSctp: true,
      });
      await pipe.connect({ ip: await pipeIp(req.pipe.ip), port: req.pipe.port, srtpParameters: req.pipe.srtpParameters });
    } catch (err) {
      router.close();
      throw new AppError('invalid_payload', `cannot connect the pipe: ${(err as Error).message}`);
    }
    const hosted: HostedRouter = {
      id: router.id,
      room: req.room,
      owner,
      openedAt: Date.now(),
      slot,
      spread: [],
      opening: new Map(),
      pipe,
      producers: new Map(),
      dataProducers: new Map(),
      transports: new Map(),
      consumers: new Map(),
      dataConsumers: new Map(),
      scores: new Map(),
    };
    this.routers.set(router.id, hosted);
    router.observer.once('close', () => {
      this.routers.delete(router.id);
      for (const s of hosted.spread.splice(0)) s.router.close();
    });
    router.once('workerclose', () => this.lostWorker(hosted));
    // The pipe is the router's reason to exist.
    pipe.observer.once('close', () => router.close());
    this.log.info({ room: req.room, owner, router: router.id, worker: worker.index }, 'hosting a cascaded router');
    return { routerId: router.id, pipe: pipeTupleOf(pipe) };
  }

  private need(req: { routerId: string }, r: HostedRouter | undefined): HostedRouter {
    if (!r) throw new AppError('not_found', `no cascaded router ${req.routerId} on this node`);
    return r;
  }

  private pipeProducer(r: HostedRouter, req: PipeProducerRequest): Promise<void> {
    let producer = r.producers.get(req.producerId);
    if (!producer) {
      producer = r.pipe.produce({
        id: req.producerId,
        kind: req.kind,
        rtpParameters: req.rtpParameters,
        paused: req.paused,
        appData: req.appData,
      });
      r.producers.set(req.producerId, producer);
      producer.then(
        (p) => p.observer.once('close', () => r.producers.delete(p.id)),
        () => r.producers.delete(req.producerId),
      );
    }
    return producer.then(() => undefined);
  }

  private pipeDataProducer(r: HostedRouter, req: PipeDataProducerRequest): Promise<void> {
    let dp = r.dataProducers.get(req.dataProducerId);
    if (!dp) {
      dp = r.pipe.produceData({
        id: req.dataProducerId,
        sctpStreamParameters: req.sctpStreamParameters,
        label: req.label,
        protocol: req.protocol,
      });
      r.dataProducers.set(req.dataProducerId, dp);
      dp.then(
        (p) => p.observer.once('close', () => r.dataProducers.delete(p.id)),
        () => r.dataProducers.delete(req.dataProducerId),
      );
    }
    return dp.then(() => undefined);
  }

  private async producerState(r: HostedRouter, req: ProducerStateRequest): Promise<void> {
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

  private async createTransport(r: HostedRouter, req: CreateTransportRequest): Promise<TransportOptions> {
    if (nodeLoad(this.pool) + req.reserve > this.opts.nodeConsumerBudget)
      throw new AppError('unavailable', 'this node has no room for more viewers');
    const slot = await this.slotFor(r, req.reserve);
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
    const entry = { transport, slot, peerId: req.peerId, reserved: req.reserve };
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

  private transportEntry(r: HostedRouter | undefined, req: { routerId: string; transportId: string }) {
    const entry = this.need(req, r).transports.get(req.transportId);
    if (!entry) throw new AppError('not_found', `you have no transport ${req.transportId}`, 'transport_id');
    return entry;
  }

  private async transportOp(r: HostedRouter | undefined, req: TransportOpRequest): Promise<TransportOpResults[TransportOpRequest['op']]> {
    if (req.op === 'close') {
      r?.transports.get(req.transportId)?.transport.close();
      return null;
    }
    const { transport } = this.transportEntry(r, req);
    if (req.op === 'connect') {
      await clientCall('connect-transport', () => transport.connect({ dtlsParameters: req.dtlsParameters as never }));
      return null;
    }
    if (req.op === 'restart-ice') return transport.restartIce();
    return transport.getStats();
  }

  private async consume(r: HostedRouter, req: ConsumeRequest): Promise<ConsumerParams> {
    const entry = this.transportEntry(r, req);
    const { slot } = entry;
    const localId = await this.localId(r, slot, 'producer', req.producerId);
    const rtpCapabilities = req.rtpCapabilities as RtpCapabilities;
    const canConsume = await clientCall('consume', async () => slot.router.canConsume({ producerId: localId, rtpCapabilities }));
    if (!canConsume) throw new AppError('invalid_payload', 'your rtp_capabilities cannot receive this producer', 'rtp_capabilities');
    const consumer = await clientCall(
      'consume',
      () => entry.transport.consume({ producerId: localId, rtpCapabilities, paused: true, appData: { peerId: req.peerId } }),
      (err) => this.pool.suspect(slot.worker, err), // a worker that stops answering gets its health check now
    );
    slot.addConsumer();
    if (entry.reserved > 0) {
      entry.reserved--;
      slot.release(1);
    }
    r.consumers.set(consumer.id, consumer);
    consumer.observer.once('close', () => {
      r.scores.delete(consumer.id);
      slot.removeConsumer();
      r.consumers.delete(consumer.id);
    });
    const about = { routerId: r.id, peerId: req.peerId, consumerId: consumer.id };
    consumer.on('producerclose', () => this.notify(r, { ...about, type: 'consumer-producer-closed' }));
    consumer.on('producerpause', () => this.notify(r, { ...about, type: 'consumer-paused' }));
    consumer.on('producerresume', () => this.notify(r, { ...about, type: 'consumer-resumed' }));
    consumer.on('layerschange', (layers) =>
      this.notify(r, {
        ...about,
        type: 'consumer-layers',
        spatialLayer: layers?.spatialLayer ?? null,
        temporalLayer: layers?.temporalLayer ?? null,
      }),
    );
    consumer.on('score', ({ score }) => r.scores.set(consumer.id, [req.peerId, consumer.id, score]));
    return { ...consumerParams(consumer, req.producerId), score: consumer.score.score };
  }

  private async consumeData(r: HostedRouter, req: ConsumeDataRequest): Promise<DataConsumerParams> {
    const entry = this.transportEntry(r, req);
    const localId = await this.localId(r, entry.slot, 'dataProducer', req.dataProducerId);
    const dc = await clientCall(
      'consume-data',
      () => entry.transport.consumeData({ dataProducerId: localId, appData: { peerId: req.peerId } }),
      (err) => this.pool.suspect(entry.slot.worker, err),
    );
    r.dataConsumers.set(dc.id, dc);
    dc.observer.once('close', () => r.dataConsumers.delete(dc.id));
    dc.on('dataproducerclose', () =>
      this.notify(r, { routerId: r.id, type: 'data-consumer-producer-closed', peerId: req.peerId, dataConsumerId: dc.id }),
    );
    return {
      id: dc.id,
      dataProducerId: req.dataProducerId,
      sctpStreamParameters: dc.sctpStreamParameters,
      label: dc.label,
      protocol: dc.protocol,
    };
  }

  private async consumerOp(r: HostedRouter | undefined, req: ConsumerOpRequest): Promise<ConsumerOpResults[ConsumerOpRequest['op']]> {
    const consumer = r?.consumers.get(req.consumerId);
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
        consumer.setPreferredLayers({
          spatialLayer: req.spatialLayer ?? 0,
          ...(req.temporalLayer !== undefined ? { temporalLayer: req.temporalLayer } : {}),
        }),
      );
    }
    return null;
  }

  // ---- spreading a hosted room over this node's workers ----------------------

  /**
   * The pipe's router while it has budget, else this room's router on the
   * least loaded worker; `reserve` consumers are reserved there before any
   * await, so viewers arriving together see each other.
   */
  private async slotFor(r: HostedRouter, reserve: number): Promise<RouterSlot> {
    const chosen = (slot: RouterSlot) => {
      slot.reserve(reserve);
      return slot;
    };
    if (r.slot.load < this.opts.routerConsumerBudget) return chosen(r.slot);
    const worker = this.pool.leastLoaded();
    const existing = [r.slot, ...r.spread].find((s) => s.worker === worker && !s.router.closed);
    if (existing) return chosen(existing);
    let opening = r.opening.get(worker);
    if (!opening) {
      opening = (async () => {
        const router = await worker.worker.createRouter({ mediaCodecs: MEDIA_CODECS, appData: { room: r.room, cascadeOwner: r.owner } });
        const slot = new RouterSlot(router, worker);
        if (r.slot.router.closed) {
          router.close();
          throw new AppError('not_found', 'the cascaded router closed');
        }
        r.spread.push(slot);
        router.once('workerclose', () => this.lostWorker(r));
        router.observer.once('close', () => {
          const i = r.spread.indexOf(slot);
          if (i >= 0) r.spread.splice(i, 1);
        });
        return slot;
      })().finally(() => r.opening.delete(worker));
      r.opening.set(worker, opening);
    }
    return chosen(await opening);
  }

  /** Id of a (data) producer on `slot`: piped there from the pipe's router once (new id: same worker is possible). */
  private async localId(r: HostedRouter, slot: RouterSlot, what: 'producer' | 'dataProducer', id: string): Promise<string> {
    const ready = what === 'producer' ? r.producers.get(id) : r.dataProducers.get(id);
    if (!(await ready?.catch(() => null))) {
      if (what === 'producer') throw new AppError('not_found', `no producer ${id} in this room`, 'producer_id');
      throw new AppError('not_found', `no data producer ${id}`, 'data_producer_id');
    }
    return slot.pipedFrom(r.slot, what, id);
  }

  /** A worker under a hosted room died: all its viewers here rebuild (the owner hears router-lost). */
  private lostWorker(r: HostedRouter): void {
    if (!this.routers.has(r.id)) return;
    this.notify(r, { routerId: r.id, type: 'router-lost', reason: 'worker-died' });
    r.slot.router.close();
  }

  // ---- liveness ----------------------------------------------------------------

  private notify(r: HostedRouter, event: CascadeEvent): void {
    this.bus.send(r.owner, METHOD.event, event);
  }

  /** Routers whose owner forgot them (room ended while a message was lost) or died are closed. */
  private checkOwners(): void {
    const byOwner = new Map<string, HostedRouter[]>();
    // A router opened just now may not be registered by its owner yet (the reply is on its way).
    const settled = Date.now() - this.opts.pingIntervalMs;
    for (const r of this.routers.values()) if (r.openedAt < settled) byOwner.set(r.owner, [...(byOwner.get(r.owner) ?? []), r]);
    for (const [owner, routers] of byOwner)
      this.checkOwner(
        owner,
        routers.map((r) => r.id),
      );
  }

  private checkOwner(owner: string, ids: string[], urgent = false): void {
    const probe = async () => {
      const { missing } = await this.bus.request(owner, METHOD.alive, { routerIds: ids }, this.opts.pingIntervalMs);
      for (const id of missing) this.routers.get(id)?.slot.router.close();
    };
    this.liveness.check(
      owner,
      probe,
      () => {
        this.log.warn({ owner, routers: ids.length }, 'owner node of cascaded rooms is gone: closing their routers');
        for (const id of ids) this.routers.get(id)?.slot.router.close();
      },
      urgent,
    );
  }
}
