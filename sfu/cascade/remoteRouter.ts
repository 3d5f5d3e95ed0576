// The owner's handle on one room's router on another node: the owner's half
// of the SRTP pipe (on the room's primary router, which holds every
// producer), the producers piped over it, and calls to the agent there.

import type { PipeTransport, Router } from 'mediasoup/types';
import { AppError } from '../../server/kernel/errors.js';
import type { Logger } from '../../server/kernel/logger.js';
import {
  METHOD,
  fromReply,
  pipeIp,
  pipeListenInfo,
  pipeTupleOf,
  type AgentCalls,
  type AgentMethod,
  type CascadeBus,
  type CascadeOptions,
  type ConsumerOpRequest,
  type ConsumerOpResults,
  type OpenRouterRequest,
  type PipeDataProducerRequest,
  type PipeProducerRequest,
  type ProducerStateRequest,
  type Reply,
  type TransportOpRequest,
  type TransportOpResults,
} from './wire.js';

/** Agent methods about a router this owner opened there (they carry its id). */
export type RouterMethod = Exclude<AgentMethod, typeof METHOD.open | typeof METHOD.ping>;
/** A router method's request without the router id, which RemoteRouter adds. */
export type RouterPayload<M extends RouterMethod> = Omit<AgentCalls[M]['request'], 'routerId'>;

export class RemoteRouter {
  /** Publisher's producer id -> its pipe producer (same id) on the remote router, once made. */
  private readonly piped = new Map<string, Promise<void>>();
  private readonly pipedData = new Map<string, Promise<void>>();
  /** Viewers' transports on the remote router. */
  private readonly transports = new Set<string>();
  private idleTimer: NodeJS.Timeout | null = null;
  /** Called when the router has had no viewer for opts.idleRouterMs (the room stops piping there). */
  onIdle: (() => void) | null = null;
  closed = false;

  private constructor(
    readonly node: string,
    readonly routerId: string,
    readonly room: string,
    /** The owner's pipe transport (on the primary router). */
    readonly pipe: PipeTransport,
    private readonly bus: CascadeBus,
    private readonly opts: CascadeOptions,
    private readonly log: Logger,
  ) {}

  /** Opens the room's router on `node` and the SRTP pipe between it and `primary`. */
  static async open(
    node: string,
    room: string,
    primary: Router,
    bus: CascadeBus,
    opts: CascadeOptions,
    log: Logger,
  ): Promise<RemoteRouter> {
    const pipe = await primary.createPipeTransport({
      listenInfo: pipeListenInfo(opts),
      enableSrtp: true,
      enableRtx: true,
      enableSctp: true,
      appData: { cascadeNode: node },
    });
    try {
      const request: OpenRouterRequest = { room, pipe: pipeTupleOf(pipe) };
      const reply = fromReply(await bus.request(node, METHOD.open, request, opts.requestTimeoutMs));
      await pipe.connect({ ip: await pipeIp(reply.pipe.ip), port: reply.pipe.port, srtpParameters: reply.pipe.srtpParameters });
      return new RemoteRouter(node, reply.routerId, room, pipe, bus, opts, log);
    } catch (err) {
      pipe.close();
      throw err;
    }
  }

  get viewers(): number {
    return this.transports.size;
  }

  addTransport(id: string): void {
    this.transports.add(id);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  removeTransport(id: string): void {
    if (!this.transports.delete(id) || this.transports.size > 0 || this.closed) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.transports.size === 0 && !this.closed) this.onIdle?.();
    }, this.opts.idleRouterMs);
    this.idleTimer.unref();
  }

  /** A request to the agent about this router; typed errors come back as AppErrors. */
  async call<M extends RouterMethod>(method: M, payload: RouterPayload<M>): Promise<AgentCalls[M]['result']> {
    // The payload is the request minus its router id: adding it back gives the request (TS cannot see it through Omit).
    const request = { routerId: this.routerId, ...payload } as AgentCalls[M]['request'];
    // As for the request: the reply is Reply<AgentCalls[M]['result']> by the catalog's definition.
    return fromReply((await this.bus.request(this.node, method, request, this.opts.requestTimeoutMs)) as Reply<AgentCalls[M]['result']>);
  }

  /** A transport operation; what comes back depends on the op (see the agent's transportOp). */
  async transportOp<O extends TransportOpRequest['op']>(
    payload: RouterPayload<typeof METHOD.transportOp> & { op: O },
  ): Promise<TransportOpResults[O]> {
    return (await this.call(METHOD.transportOp, payload)) as TransportOpResults[O];
  }

  /** A consumer operation; what comes back depends on the op (see the agent's consumerOp). */
  async consumerOp<O extends ConsumerOpRequest['op']>(
    payload: RouterPayload<typeof METHOD.consumerOp> & { op: O },
  ): Promise<ConsumerOpResults[O]> {
    return (await this.call(METHOD.consumerOp, payload)) as ConsumerOpResults[O];
  }

  /** Fire and forget (closing things): failures only matter to the log. */
  tell<M extends RouterMethod>(method: M, payload: RouterPayload<M>): void {
    this.call(method, payload).catch((err) => this.log.debug({ err, node: this.node, method }, 'cascade message failed'));
  }

  /**
   * Pipes a producer of the primary router to the remote router once (same
   * id there), and keeps its pause state and its end in step.
   */
  pipeProducer(producerId: string): Promise<void> {
    let piped = this.piped.get(producerId);
    if (piped) return piped;
    piped = (async () => {
      const consumer = await this.pipe.consume({ producerId });
      const state = (s: ProducerStateRequest['state']) => {
        if (!this.closed) this.tell(METHOD.producerState, { producerId, state: s });
      };
      consumer.observer.on('pause', () => state('paused'));
      consumer.observer.on('resume', () => state('resumed'));
      consumer.observer.once('close', () => {
        this.piped.delete(producerId);
        state('closed');
      });
      const request: Omit<PipeProducerRequest, 'routerId'> = {
        producerId,
        kind: consumer.kind,
        rtpParameters: consumer.rtpParameters,
        paused: consumer.producerPaused,
        appData: {},
      };
      try {
        await this.call(METHOD.pipe, request);
      } catch (err) {
        consumer.close();
        throw err;
      }
      // It may have paused or resumed while the remote side was being made.
      if (consumer.producerPaused !== request.paused) state(consumer.producerPaused ? 'paused' : 'resumed');
    })();
    piped.catch(() => this.piped.delete(producerId));
    this.piped.set(producerId, piped);
    return piped;
  }

  pipeDataProducer(dataProducerId: string): Promise<void> {
    let piped = this.pipedData.get(dataProducerId);
    if (piped) return piped;
    piped = (async () => {
      const dc = await this.pipe.consumeData({ dataProducerId });
      dc.observer.once('close', () => {
        this.pipedData.delete(dataProducerId);
        if (!this.closed) this.tell(METHOD.producerState, { producerId: dataProducerId, data: true, state: 'closed' });
      });
      const sctpStreamParameters = dc.sctpStreamParameters;
      if (!sctpStreamParameters) {
        dc.close();
        throw new AppError('internal_error', `the cascade pipe gave data producer ${dataProducerId} no SCTP stream parameters`);
      }
      const request: Omit<PipeDataProducerRequest, 'routerId'> = {
        dataProducerId,
        sctpStreamParameters,
        label: dc.label,
        protocol: dc.protocol,
      };
      try {
        await this.call(METHOD.pipeData, request);
      } catch (err) {
        dc.close();
        throw err;
      }
    })();
    piped.catch(() => this.pipedData.delete(dataProducerId));
    this.pipedData.set(dataProducerId, piped);
    return piped;
  }

  /** Closes the owner's pipe half and, unless the remote side is already gone, the remote router. */
  close(remoteGone = false): void {
    if (this.closed) return;
    this.closed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (!remoteGone) this.tell(METHOD.close, {});
    this.pipe.close();
  }
}
