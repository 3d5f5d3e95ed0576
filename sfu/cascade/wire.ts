// What the SFU needs from the cluster to cascade a room across nodes, and the
// messages an owner node and a media agent exchange: the cascade's part of
// the bus catalog (CascadeMethods), which server/edges/cluster/busCatalog.ts
// composes into the whole. The cluster injects a bus with this shape
// (server/cluster's NodeBus fits it); the SFU never imports the cluster.

import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type {
  DtlsParameters,
  IceCandidate,
  IceParameters,
  PipeTransport,
  RtpParameters,
  SctpParameters,
  SctpStreamParameters,
  SrtpParameters,
} from 'mediasoup/types';
import { AppError } from '../../server/kernel/errors.js';
import type { ErrorCode } from '../../server/kernel/errors.js';

/**
 * The bus the cluster injects, narrowed to the cascade's own methods
 * (server/cluster's NodeBus over its full catalog fits it). Same shape as
 * NodeBus, restated here because the SFU never imports the cluster.
 */
export interface CascadeBus {
  readonly nodeId: string;
  request<M extends CascadeMethod>(
    node: string,
    method: M,
    payload: CascadeMethods[M]['request'],
    timeoutMs?: number,
  ): Promise<CascadeMethods[M]['reply']>;
  send<M extends CascadeSendMethod>(node: string, method: M, payload: CascadeMethods[M]['request']): void;
  handle<M extends CascadeMethod>(
    method: M,
    fn: (payload: CascadeMethods[M]['request'], from: string) => CascadeMethods[M]['reply'] | Promise<CascadeMethods[M]['reply']>,
  ): void;
}

/** The cluster's view of other nodes, for placing cascaded viewers. */
export interface CascadeNodes {
  /** Live nodes other than this one that may take viewers, best (least loaded) first. */
  candidates(): Promise<string[]> | string[];
  /** Tells when the cluster takes a node for dead (registry heartbeat expired), to act before pings miss. */
  onNodeDown?(fn: (nodeId: string) => void): void;
  /**
   * False while the cluster cannot reach Redis: unanswered checks then say
   * nothing about the other node (pipes are direct UDP and keep flowing), so
   * they do not count towards giving it up.
   */
  busHealthy?(): boolean;
}

export interface CascadeOptions {
  /** IP the pipe transports listen on, and the address other nodes reach them at. */
  listenIp: string;
  announcedAddress: string | null;
  /** Consumers a node takes (its own rooms and cascaded viewers) before sending viewers elsewhere. */
  nodeConsumerBudget: number;
  /** Consumers per router before a hosted room spreads to another worker of the node. */
  routerConsumerBudget: number;
  /** How often owner and agent check that the other side still holds each cascaded router. */
  pingIntervalMs: number;
  /** Consecutive unanswered checks after which the other node is taken for dead. */
  pingMisses: number;
  requestTimeoutMs: number;
  /** A room's router on another node with no viewer for this long is closed (its pipe stops). */
  idleRouterMs: number;
  portRange: { min: number; max: number } | null;
}

/** The IP to connect a pipe to: nodes may announce a host name (a container's, say). */
export async function pipeIp(address: string): Promise<string> {
  return isIP(address) ? address : (await lookup(address, { family: 4 })).address;
}

/** Where a node's pipe transports listen. */
export function pipeListenInfo(opts: CascadeOptions) {
  return {
    protocol: 'udp' as const,
    ip: opts.listenIp,
    ...(opts.announcedAddress ? { announcedAddress: opts.announcedAddress } : {}),
    ...(opts.portRange ? { portRange: opts.portRange } : {}),
  };
}

export const METHOD = {
  open: 'cascade.open-router',
  close: 'cascade.close-router',
  pipe: 'cascade.pipe-producer',
  pipeData: 'cascade.pipe-data-producer',
  producerState: 'cascade.producer-state',
  createTransport: 'cascade.create-transport',
  transportOp: 'cascade.transport',
  consume: 'cascade.consume',
  consumeData: 'cascade.consume-data',
  consumerOp: 'cascade.consumer',
  /** Owner -> agent: which of these routers do you still hold? */
  ping: 'cascade.ping',
  /** Agent -> owner: which of these routers do you still want? */
  alive: 'cascade.alive',
  /** Agent -> owner: something happened on a cascaded router. */
  event: 'cascade.event',
} as const;

/** An agent method: its request and what the agent returns (`void`: nothing but the acknowledgement). */
export interface AgentCall<Payload, Result> {
  request: Payload;
  result: Result;
}

/** A bus method: the payload it carries and what its handler answers (`void`: nothing, a one-way send). */
export interface BusCall<Payload, Answer> {
  request: Payload;
  reply: Answer;
}

/**
 * The cascade's part of the bus catalog: owner -> agent requests, each
 * answered in a Reply envelope, with what the agent returns inside it
 * (`void`: nothing but the acknowledgement). Requests about an existing
 * router carry its id; only the node that opened it may make them.
 */
export interface AgentCalls {
  'cascade.open-router': AgentCall<OpenRouterRequest, OpenRouterReply>;
  'cascade.close-router': AgentCall<{ routerId: string }, void>;
  'cascade.pipe-producer': AgentCall<PipeProducerRequest, void>;
  'cascade.pipe-data-producer': AgentCall<PipeDataProducerRequest, void>;
  'cascade.producer-state': AgentCall<ProducerStateRequest, void>;
  'cascade.create-transport': AgentCall<CreateTransportRequest, TransportOptions>;
  'cascade.transport': AgentCall<TransportOpRequest, TransportOpResults[TransportOpRequest['op']]>;
  'cascade.consume': AgentCall<ConsumeRequest, ConsumerParams>;
  'cascade.consume-data': AgentCall<ConsumeDataRequest, DataConsumerParams>;
  'cascade.consumer': AgentCall<ConsumerOpRequest, ConsumerOpResults[ConsumerOpRequest['op']]>;
  'cascade.ping': AgentCall<{ routerIds: string[] }, { missing: string[] }>;
}
export type AgentMethod = keyof AgentCalls;

/**
 * Every cascade method on the bus: its request payload and its reply
 * (`void`: a one-way send). Composed into the cluster's bus catalog.
 */
export type CascadeMethods = {
  [M in AgentMethod]: BusCall<AgentCalls[M]['request'], Reply<AgentCalls[M]['result']>>;
} & {
  /** Agent -> owner: which of these routers do you still want? (Answered plainly, no envelope.) */
  'cascade.alive': BusCall<{ routerIds: string[] }, { missing: string[] }>;
  /**
   * Agent -> owner, one-way; sent as a request only when the agent shuts
   * down, so the bus does not close before it is out.
   */
  'cascade.event': BusCall<CascadeEvent, void>;
};
export type CascadeMethod = keyof CascadeMethods;
/** Methods that may go as one-way sends: those without a reply. */
export type CascadeSendMethod = { [M in CascadeMethod]: undefined extends CascadeMethods[M]['reply'] ? M : never }[CascadeMethod];

export interface PipeTuple {
  ip: string;
  port: number;
  srtpParameters: SrtpParameters;
}

/** Where a cascade pipe listens, and its SRTP keys (cascade pipes are made with enableSrtp). */
export function pipeTupleOf(pipe: PipeTransport): PipeTuple {
  const srtpParameters = pipe.srtpParameters;
  if (!srtpParameters) throw new AppError('internal_error', 'a cascade pipe transport has no SRTP parameters');
  return { ip: pipe.tuple.localAddress, port: pipe.tuple.localPort, srtpParameters };
}

export interface OpenRouterRequest {
  room: string;
  /** The owner's pipe transport, to which the agent's pipe connects. */
  pipe: PipeTuple;
}
export interface OpenRouterReply {
  routerId: string;
  pipe: PipeTuple;
}

export interface PipeProducerRequest {
  routerId: string;
  producerId: string;
  kind: 'audio' | 'video';
  rtpParameters: RtpParameters;
  paused: boolean;
  appData: Record<string, unknown>;
}

export interface PipeDataProducerRequest {
  routerId: string;
  dataProducerId: string;
  sctpStreamParameters: SctpStreamParameters;
  label: string;
  protocol: string;
}

export interface ProducerStateRequest {
  routerId: string;
  producerId: string;
  /** A data producer (only ever 'closed'). */
  data?: boolean;
  state: 'paused' | 'resumed' | 'closed';
}

export interface CreateTransportRequest {
  routerId: string;
  peerId: string;
  sctp: boolean;
  forceTcp: boolean;
  /** Consumers the receiver is expected to make, counted against the node's budget now. */
  reserve: number;
}
export interface TransportOptions {
  id: string;
  iceParameters: IceParameters;
  iceCandidates: IceCandidate[];
  dtlsParameters: DtlsParameters;
  sctpParameters?: SctpParameters;
}

export interface TransportOpRequest {
  routerId: string;
  transportId: string;
  op: 'connect' | 'restart-ice' | 'stats' | 'close';
  dtlsParameters?: unknown;
}
/** What the agent returns for each transport op. */
export interface TransportOpResults {
  connect: null;
  'restart-ice': IceParameters;
  stats: unknown[];
  close: null;
}

export interface ConsumeRequest {
  routerId: string;
  transportId: string;
  peerId: string;
  producerId: string;
  rtpCapabilities: unknown;
}
export interface ConsumerParams {
  id: string;
  producerId: string;
  kind: 'audio' | 'video';
  rtpParameters: RtpParameters;
  type: string;
  producerPaused: boolean;
  /** The consumer's score now (later changes come as consumer-scores events); not for the client. */
  score?: number;
}

export interface ConsumeDataRequest {
  routerId: string;
  transportId: string;
  peerId: string;
  dataProducerId: string;
}
export interface DataConsumerParams {
  id: string;
  dataProducerId: string;
  sctpStreamParameters: SctpStreamParameters | undefined;
  label: string;
  protocol: string;
}

export interface ConsumerOpRequest {
  routerId: string;
  consumerId: string;
  op: 'pause' | 'resume' | 'layers' | 'stats' | 'close';
  spatialLayer?: number;
  temporalLayer?: number;
}
/** What the agent returns for each consumer op. */
export interface ConsumerOpResults {
  pause: null;
  resume: null;
  layers: null;
  stats: unknown[];
  close: null;
}

/** Agent -> owner notifications; `peerId` names the viewer the event is about. */
export type CascadeEvent =
  | { routerId: string; type: 'router-lost'; reason: 'worker-died' | 'node-closing' }
  | { routerId: string; type: 'consumer-producer-closed' | 'consumer-paused' | 'consumer-resumed'; peerId: string; consumerId: string }
  | {
      routerId: string;
      type: 'consumer-layers';
      peerId: string;
      consumerId: string;
      spatialLayer: number | null;
      temporalLayer: number | null;
    }
  /** Latest scores of the router's consumers that changed, at most once per SCORE_FLUSH_MS: [peerId, consumerId, score]. */
  | { routerId: string; type: 'consumer-scores'; scores: Array<[string, string, number]> }
  | { routerId: string; type: 'data-consumer-producer-closed'; peerId: string; dataConsumerId: string };

/**
 * Every agent reply is an envelope: a typed error survives any bus (the
 * client must still see invalid_payload for bad DTLS parameters, say).
 */
export type Reply<T> = { ok: T } | { error: { code: ErrorCode; message: string; field?: string } };

export async function toReply<T>(fn: () => Promise<T> | T): Promise<Reply<T>> {
  try {
    // `undefined` would vanish in JSON, and with it the `ok` key.
    return { ok: ((await fn()) ?? null) as T };
  } catch (err) {
    if (err instanceof AppError) return { error: { code: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) } };
    return { error: { code: 'internal_error', message: 'internal error on the media node' } };
  }
}

export function fromReply<T>(reply: Reply<T>): T {
  if ('ok' in reply) return reply.ok;
  throw new AppError(reply.error.code, reply.error.message, reply.error.field);
}
