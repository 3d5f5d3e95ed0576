// Messages between the nodes of a cluster: request/response and one-way sends
// over Redis pub/sub, one channel per node. Redis delivers the messages of one
// publishing connection in order, so each sender->receiver pair is ordered.
// A PUBLISH that reaches no subscriber means the node is gone: requests to it
// fail at once with `unavailable` instead of waiting for their timeout.

import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ERROR_CODES, type ErrorCode } from '../../../signaling/protocol/protocol.js';
import { AppError } from '../../kernel/errors.js';
import type { Logger } from '../../kernel/logger.js';
import { connectRedis, ready } from './redis.js';

/**
 * A bus catalog: for each method, the payload it carries and what its
 * handler answers (`void`: nothing, a one-way send). The cluster's catalog
 * is BusMethods (busCatalog.ts); tests use their own.
 */
export type Catalog<C> = { [M in keyof C]: { request: unknown; reply: unknown } };
export type Method<C> = keyof C & string;
/** A catalog entry: the payload a method carries and what its handler answers. */
export interface Call<Payload, Answer> {
  request: Payload;
  reply: Answer;
}
/** A method whose handler answers nothing (returns `void`): it may go as a one-way send. */
export type OneWay<Payload> = Call<Payload, void>;
/** Methods that may go one-way: those whose handler answers nothing (`void`, or `undefined`). */
export type SendMethodOf<C extends Catalog<C>> = { [M in Method<C>]: undefined extends C[M]['reply'] ? M : never }[Method<C>];
export type Handler<C extends Catalog<C>, M extends Method<C>> = (
  payload: C[M]['request'],
  from: string,
) => C[M]['reply'] | Promise<C[M]['reply']>;

/**
 * What arrives from Redis is typed as the catalog says, not validated:
 * only nodes of this cluster publish on its channels, they run the same
 * version (a cluster is upgraded as a whole, docs/cluster.md), and the
 * sender is type-checked against the same catalog. What a client sent is
 * validated on the node that took its socket (signaling/protocol/schema.ts) before
 * it is relayed. Whoever can publish on Redis can do far worse than send a
 * malformed payload, so a schema here would guard against nothing but our
 * own bugs, which the compiler already checks.
 */
export interface NodeBus<C extends Catalog<C>> {
  readonly nodeId: string;
  /**
   * Request/response to one node; rejects with AppError('unavailable') on
   * timeout or when the node is gone. A method without a reply may be
   * requested too: the request then resolves once the handler is done.
   */
  request<M extends Method<C>>(node: string, method: M, payload: C[M]['request'], timeoutMs?: number): Promise<C[M]['reply']>;
  /** One-way message to one node, in order per sender->receiver pair. */
  send<M extends SendMethodOf<C>>(node: string, method: M, payload: C[M]['request']): void;
  /** Handler for a method (requests and sends); an AppError thrown goes back to the requester with its code. */
  handle<M extends Method<C>>(method: M, fn: Handler<C, M>): void;
  close(): Promise<void>;
  /** Like send, but says whether the message reached the node's channel (rejects with `unavailable`). */
  trySend<M extends SendMethodOf<C>>(node: string, method: M, payload: C[M]['request']): Promise<void>;
  /** Called with a node's id when a message to it reached nobody (its process is gone or cut off). */
  onUnreachable(fn: (node: string) => void): void;
  /**
   * The same bus, typed by another layer's catalog (the SFU's cascade), so
   * that layer and this one need not import each other. Method names of the
   * two catalogs must not collide (each uses its own prefix).
   */
  carrying<Other extends Catalog<Other>>(): NodeBus<Other>;
}

/**
 * What travels on a node's channel, as JSON. Its keys are one letter (it
 * wraps every message); the payloads inside use readable names.
 */
type Envelope = RequestEnvelope | ResponseEnvelope | SendEnvelope;

interface EnvelopeBase {
  /** Kind: q request, r response, s one-way send. */
  k: string;
  /** Sender node. */
  f: string;
}

interface RequestEnvelope extends EnvelopeBase {
  k: 'q';
  /** Method. */
  m: string;
  /** Request id. */
  i: number;
  /** Payload. */
  p: unknown;
}

interface ResponseEnvelope extends EnvelopeBase {
  k: 'r';
  /** Id of the request answered. */
  i: number;
  /** Reply value. */
  p?: unknown;
  /** Error: code, message, field (d). */
  e?: { c: ErrorCode; m: string; d?: string };
}

interface SendEnvelope extends EnvelopeBase {
  k: 's';
  /** Method. */
  m: string;
  /** Payload. */
  p: unknown;
}

/** A handler as stored: its payload type is the catalog's word for what arrives (see NodeBus). */
type StoredHandler = (payload: unknown, from: string) => unknown;

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 5000;
/** Separator of a raw (string payload) one-way frame; never in a node id or method name. */
const RAW = '\u0001';
const KNOWN_CODES = new Set<string>(ERROR_CODES);

export class RedisNodeBus<C extends Catalog<C>> implements NodeBus<C> {
  private readonly handlers = new Map<string, StoredHandler>();
  private readonly pending = new Map<number, Pending>();
  private readonly unreachable: Array<(node: string) => void> = [];
  private nextId = 1;
  private closed = false;
  /** Per-process salt, so a restarted node never takes a stale response for its own. */
  private readonly epoch = randomBytes(4).readUInt32BE() % 1_000_000;

  private constructor(
    readonly nodeId: string,
    private readonly pub: Redis,
    private readonly sub: Redis,
    private readonly prefix: string,
    private readonly defaultTimeoutMs: number,
    private readonly log: Logger,
  ) {
    this.nextId = this.epoch * 1_000_000 + 1;
    sub.on('message', (_channel: string, text: string) => this.onMessage(text));
    // Errors are reported by the commands that fail; reconnection is automatic.
    pub.on('error', () => {});
    sub.on('error', () => {});
  }

  static async connect<C extends Catalog<C>>(opts: {
    redisUrl: string;
    nodeId: string;
    prefix: string;
    log: Logger;
    requestTimeoutMs?: number;
  }): Promise<RedisNodeBus<C>> {
    const pub = connectRedis(opts.redisUrl, `${opts.nodeId}:bus`, { autoPipelining: true });
    const sub = connectRedis(opts.redisUrl, `${opts.nodeId}:bus-sub`, { subscriber: true });
    const bus = new RedisNodeBus<C>(opts.nodeId, pub, sub, opts.prefix, opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS, opts.log);
    try {
      await Promise.all([ready(pub), ready(sub)]);
      await sub.subscribe(bus.channel(opts.nodeId));
    } catch (err) {
      pub.disconnect();
      sub.disconnect();
      throw err;
    }
    return bus;
  }

  channel(node: string): string {
    return `${this.prefix}bus:${node}`;
  }

  handle<M extends Method<C>>(method: M, fn: Handler<C, M>): void {
    // Stored untyped: onMessage looks handlers up by the method name that arrived (see NodeBus on trusting it).
    this.handlers.set(method, fn);
  }

  onUnreachable(fn: (node: string) => void): void {
    this.unreachable.push(fn);
  }

  carrying<Other extends Catalog<Other>>(): NodeBus<Other> {
    // The wire format is the same for every catalog; only the static types differ.
    return this as unknown as RedisNodeBus<Other>;
  }

  request<M extends Method<C>>(
    node: string,
    method: M,
    payload: C[M]['request'],
    timeoutMs = this.defaultTimeoutMs,
  ): Promise<C[M]['reply']> {
    if (this.closed) return Promise.reject(new AppError('unavailable', 'this node is leaving the cluster'));
    const id = this.nextId++;
    return new Promise<C[M]['reply']>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new AppError('unavailable', `node ${node} did not answer ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.publish(node, { k: 'q', f: this.nodeId, m: method, i: id, p: payload }).catch((err: AppError) => {
        const waiting = this.pending.get(id);
        if (!waiting) return;
        this.pending.delete(id);
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  send<M extends SendMethodOf<C>>(node: string, method: M, payload: C[M]['request']): void {
    if (this.closed) return;
    this.publish(node, this.sendFrame(method, payload)).catch((err) => {
      this.log.debug({ err, node, method }, 'cluster send failed');
    });
  }

  trySend<M extends SendMethodOf<C>>(node: string, method: M, payload: C[M]['request']): Promise<void> {
    if (this.closed) return Promise.reject(new AppError('unavailable', 'this node is leaving the cluster'));
    return this.publish(node, this.sendFrame(method, payload));
  }

  /**
   * A one-way message. A string payload travels as it is, after a short
   * header (`\u0001from\u0001method\u0001`), so relayed client messages, JSON
   * already, are neither escaped nor parsed again on the way.
   */
  private sendFrame(method: string, payload: unknown): Envelope | string {
    return typeof payload === 'string'
      ? `${RAW}${this.nodeId}${RAW}${method}${RAW}${payload}`
      : { k: 's', f: this.nodeId, m: method, p: payload };
  }

  /** Publishes to a node's channel; rejects with `unavailable` when Redis is down or nobody listens there. */
  private async publish(node: string, envelope: Envelope | string): Promise<void> {
    let receivers: number;
    try {
      receivers = await this.pub.publish(this.channel(node), typeof envelope === 'string' ? envelope : JSON.stringify(envelope));
    } catch {
      throw new AppError('unavailable', 'the cluster bus (Redis) is unavailable; try again');
    }
    if (receivers === 0) {
      for (const fn of this.unreachable) fn(node);
      throw new AppError('unavailable', `node ${node} is not connected to the cluster`);
    }
  }

  private onMessage(text: string): void {
    if (text.startsWith(RAW)) {
      const a = text.indexOf(RAW, 1);
      const b = text.indexOf(RAW, a + 1);
      if (a < 0 || b < 0) return;
      this.dispatchSend(text.slice(b + 1), text.slice(1, a), text.slice(a + 1, b));
      return;
    }
    let env: Envelope;
    try {
      env = JSON.parse(text) as Envelope;
    } catch {
      this.log.warn('cluster bus: dropped a message that is not JSON');
      return;
    }
    if (env.k === 'r') {
      const waiting = this.pending.get(env.i);
      if (!waiting) return; // timed out already
      this.pending.delete(env.i);
      clearTimeout(waiting.timer);
      if (env.e) waiting.reject(new AppError(KNOWN_CODES.has(env.e.c) ? env.e.c : 'internal_error', env.e.m, env.e.d));
      else waiting.resolve(env.p);
      return;
    }
    if (env.k === 's') {
      this.dispatchSend(env.p, env.f, env.m);
      return;
    }
    void this.answer(env, this.handlers.get(env.m));
  }

  private dispatchSend(payload: unknown, from: string, method: string): void {
    const handler = this.handlers.get(method);
    if (!handler) {
      this.log.warn({ method, from }, 'cluster bus: no handler for message');
      return;
    }
    try {
      const result = handler(payload, from);
      if (result instanceof Promise) result.catch((err) => this.log.error({ err, method }, 'cluster message handler failed'));
    } catch (err) {
      this.log.error({ err, method }, 'cluster message handler failed');
    }
  }

  private async answer(env: RequestEnvelope, handler: StoredHandler | undefined): Promise<void> {
    let reply: Envelope;
    try {
      if (!handler) throw new AppError('not_found', `node ${this.nodeId} has no handler for ${env.m}`);
      const value = await handler(env.p, env.f);
      reply = { k: 'r', f: this.nodeId, i: env.i, p: value ?? null };
    } catch (err) {
      if (!(err instanceof AppError)) this.log.error({ err, method: env.m }, 'cluster request handler failed');
      const e = err instanceof AppError ? err : new AppError('internal_error', 'internal error');
      reply = { k: 'r', f: this.nodeId, i: env.i, e: { c: e.code, m: e.message, ...(e.field ? { d: e.field } : {}) } };
    }
    if (this.closed) return;
    await this.publish(env.f, reply).catch(() => {}); // the requester is gone or times out
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new AppError('unavailable', 'this node is leaving the cluster'));
      this.pending.delete(id);
    }
    // One-way sends still waiting in ioredis' auto-pipeline would be lost to QUIT: a PING
    // queued behind them resolves once Redis has handled them.
    await Promise.race([this.pub.ping().catch(() => {}), new Promise((r) => setTimeout(r, 1000).unref())]);
    await Promise.allSettled([this.sub.quit(), this.pub.quit()]);
    this.sub.disconnect();
    this.pub.disconnect();
  }
}
