// One WebSocket connection: parsing, validation, auth gate, rate limit,
// in-order processing, and the way back to the client (with backpressure).

import { randomUUID } from 'node:crypto';
import type { WebSocket, RawData } from 'ws';
import type { Participant } from '../server/domain/rooms/participant.js';
import type { CallDevice } from '../server/domain/calls/presence.js';
import { AppError, toAppError } from '../server/kernel/errors.js';
import {
  CloseCode,
  clientSchemas,
  encode,
  isClientType,
  type AuthResult,
  type Identity,
  type LeaveReason,
  type ServerMessage,
} from './protocol/protocol.js';
import { RateLimiter } from '../server/kernel/rateLimiter.js';
import { textProblem, ValidationError } from './protocol/schema.js';
import type { HubContext } from './hubContext.js';
import { handlers } from './handlers.js';
import type { Client, SessionRelay } from './client.js';

// Messages waiting while an async request (auth, join, leave) of this client is in progress.
const MAX_BACKLOG = 256;

/** What a Session needs of its socket: a ws WebSocket, or (cluster) a link to the edge node holding the real one. */
export type SessionSocket = Pick<WebSocket, 'readyState' | 'OPEN' | 'bufferedAmount' | 'send' | 'close' | 'terminate'>;

/** Requests a relaying edge still answers itself. */
const EDGE_LOCAL_TYPES = new Set(['auth', 'ping']);
// One reason for every closed socket: abort() without one builds a DOMException (and its stack) each time.
const SOCKET_GONE = Object.freeze({ reason: 'socket closed' });

export class Session<S extends SessionSocket = SessionSocket> implements Client {
  identity: Identity | null = null;
  participant: Participant | null = null;
  joining = false;
  alive = true;
  closed = false;
  /** Made on first use: most connections never need one, and an AbortController with its signal costs ~300 bytes each. */
  private goneController: AbortController | null = null;
  private socketGone = false;
  /** Set while a join is in progress (room control: `leave` ends a wait in the lobby). */
  cancelJoin: (() => void) | null = null;
  /** Cluster: set while this connection's room lives on another node. */
  relay: SessionRelay | null = null;
  callDevice: CallDevice | null = null;
  /** Cluster: the device id of the client on the edge node, for a relayed connection. */
  relayedDeviceId: string | null = null;
  /** Called once when the connection first has an identity (the hub stops counting it as unauthenticated). */
  onAuthenticated: (() => void) | null = null;

  private readonly limiter: RateLimiter;
  private authTimer: NodeJS.Timeout | null;
  private pending: Promise<void> | null = null;
  private backlog: Array<{ data: RawData; isBinary: boolean }> | null = null;

  constructor(
    readonly ws: S,
    readonly clientIp: string | null,
    private readonly ctx: HubContext,
  ) {
    const { limits } = ctx.config;
    this.limiter = new RateLimiter(limits.rateLimitPerSecond, limits.rateLimitBurst);
    this.authTimer = setTimeout(() => {
      if (!this.identity) this.close(CloseCode.unauthorized, 'authentication timeout', 'auth_timeout');
    }, limits.authTimeoutMs);
  }

  /** Aborted when the socket is gone (live: stops watching). */
  get gone(): AbortSignal {
    if (!this.goneController) {
      this.goneController = new AbortController();
      if (this.socketGone) this.goneController.abort(SOCKET_GONE);
    }
    return this.goneController.signal;
  }

  /** Token given on the URL (`/ws?token=`): authenticate before the first message. */
  authenticateFromUrl(token: string): void {
    this.track(
      this.authenticate(token).then(
        (identity) => this.send(encode({ type: 'authenticated', payload: this.authResult(identity) })),
        (err) => this.fail(undefined, err),
      ),
    );
  }

  async authenticate(token: string): Promise<Identity> {
    const identity = await this.ctx.verifier.verify(token);
    if (this.closed) return identity;
    this.identity = identity;
    if (this.authTimer) clearTimeout(this.authTimer);
    this.authTimer = null;
    this.reachable(identity);
    this.authenticated();
    return identity;
  }

  /** Calls: this connection rings for its user from now on. */
  private reachable(identity: Identity): void {
    if (!this.ctx.calls) return;
    const device: CallDevice = {
      id: randomUUID(),
      userId: identity.user_id,
      send: (encoded) => this.send(encoded),
      room: () => this.participant?.roomName ?? (this.joining || this.relay ? 'elsewhere' : null),
    };
    this.callDevice = device;
    this.ctx.calls.presence.add(device);
  }

  get callDeviceId(): string | null {
    return this.callDevice?.id ?? this.relayedDeviceId;
  }

  /** What `auth` acks and `authenticated` carries: the identity and this user's STUN/TURN servers (when the node has any). */
  authResult(identity: Identity): AuthResult {
    const ice = this.ctx.ice;
    return ice?.configured ? { ...identity, ice_servers: ice.forUser(identity.user_id).ice_servers } : identity;
  }

  /** Cluster: an identity the edge node already verified (a relayed connection). */
  adoptIdentity(identity: Identity): void {
    this.identity = identity;
    if (this.authTimer) clearTimeout(this.authTimer);
    this.authTimer = null;
    this.authenticated();
  }

  private authenticated(): void {
    const hook = this.onAuthenticated;
    this.onAuthenticated = null;
    hook?.();
  }

  onMessage(data: RawData, isBinary: boolean): void {
    this.alive = true;
    if (this.closed) return;
    if (this.pending) {
      (this.backlog ??= []).push({ data, isBinary });
      if (this.backlog.length > MAX_BACKLOG) this.close(CloseCode.rateLimited, 'too many queued messages', 'backlog');
      return;
    }
    this.process(data, isBinary);
  }

  private process(data: RawData, isBinary: boolean): void {
    let id: string | undefined;
    try {
      if (isBinary) throw new AppError('bad_json', 'binary frames are not supported; send JSON text');
      let envelope: unknown;
      try {
        envelope = JSON.parse(data.toString());
      } catch {
        throw new AppError('bad_json', 'message is not valid JSON');
      }
      if (typeof envelope !== 'object' || envelope === null || Array.isArray(envelope)) {
        throw new AppError('invalid_payload', 'message must be a JSON object', 'type');
      }
      const { type, id: rawId, payload = {} } = envelope as Record<string, unknown>;
      if (rawId !== undefined) {
        if (typeof rawId !== 'string' || rawId.length === 0 || rawId.length > 64 || textProblem(rawId)) {
          throw new AppError('invalid_payload', 'id must be a string of 1 to 64 characters, without NUL or unpaired surrogates', 'id');
        }
        id = rawId;
      }
      if (!this.limiter.take()) {
        if (this.limiter.abusive) {
          this.close(CloseCode.rateLimited, 'rate limit exceeded repeatedly', 'rate_limited');
          return;
        }
        throw new AppError('rate_limited', 'too many messages; slow down');
      }
      if (typeof type !== 'string') throw new AppError('invalid_payload', 'type must be a string', 'type');
      if (!isClientType(type)) throw new AppError('unknown_type', `unknown message type "${type.slice(0, 64)}"`, 'type');
      this.ctx.metrics.messageReceived(type);
      if (type !== 'auth' && !this.identity) throw new AppError('unauthenticated', 'send auth first');

      let parsed: unknown;
      try {
        parsed = clientSchemas[type].parse(payload, 'payload');
      } catch (err) {
        if (err instanceof ValidationError) throw new AppError('invalid_payload', err.message, err.field);
        throw err;
      }
      // Cluster: validated here, handled by the node that runs the room.
      if (this.relay && !EDGE_LOCAL_TYPES.has(type)) {
        const forwarded = this.relay.forward(type, data.toString(), id);
        if (forwarded instanceof Promise) this.track(forwarded.catch((err) => this.fail(id, err)));
        return;
      }
      const handler = handlers[type] as (s: Session, ctx: HubContext, p: unknown, id: string | undefined) => unknown;
      const result = handler(this, this.ctx, parsed, id);
      if (result instanceof Promise) {
        this.track(
          result.then(
            (value) => this.ack(id, value),
            (err) => this.fail(id, err),
          ),
        );
      } else {
        this.ack(id, result);
      }
    } catch (err) {
      this.fail(id, err);
    }
  }

  /** Holds back this client's next messages until `work` settles, so requests are handled in order. */
  private track(work: Promise<void>): void {
    this.pending = work.then(() => {
      this.pending = null;
      while (!this.pending && !this.closed) {
        const next = this.backlog?.shift();
        if (!next) break;
        this.process(next.data, next.isBinary);
      }
    });
  }

  /** Cluster: resolves once every message received so far has been handled. */
  async settled(): Promise<void> {
    while (this.pending) await this.pending;
  }

  private ack(id: string | undefined, result: unknown): void {
    // `undefined` means the handler already replied (join answers with `joined`).
    if (id !== undefined && result !== undefined)
      this.send(`{"type":"ack","id":${JSON.stringify(id)},"payload":${JSON.stringify(result)}}`);
  }

  fail(id: string | undefined, err: unknown): void {
    const error = toAppError(err);
    if (error.code === 'internal_error') this.ctx.log.error({ err, user_id: this.identity?.user_id }, 'request failed');
    this.ctx.metrics.errorsSent.inc({ code: error.code });
    const payload: ServerMessage = {
      type: 'error',
      ...(id !== undefined ? { id } : {}),
      payload: { code: error.code, message: error.message, ...(error.field ? { field: error.field } : {}) },
    };
    this.send(encode(payload));
    if (error.code === 'unauthorized') this.close(CloseCode.unauthorized, error.message.slice(0, 120), 'unauthorized');
  }

  reply(message: ServerMessage): void {
    this.send(encode(message));
  }

  send(encoded: string): void {
    const { ws } = this;
    if (this.closed || ws.readyState !== ws.OPEN) return;
    // A client that does not read must not make the server buffer without bound.
    if (ws.bufferedAmount > this.ctx.config.limits.maxSendBufferBytes) {
      this.ctx.log.warn({ user_id: this.identity?.user_id, buffered: ws.bufferedAmount }, 'slow reader disconnected');
      this.ctx.metrics.disconnects.inc({ reason: 'slow_reader' });
      this.closed = true;
      ws.terminate();
      return;
    }
    ws.send(encoded);
  }

  /** The caller's participant, for requests that need one. */
  inRoom(): Participant {
    if (!this.participant) throw new AppError('not_in_room', 'join a room first');
    return this.participant;
  }

  // ParticipantSink: the rooms domain removed this participant.
  removed(reason: LeaveReason): void {
    this.participant = null;
    if (reason === 'replaced') this.close(CloseCode.replaced, 'joined from another connection', 'replaced');
    // Cluster: the room moved; the client was sent `reconnect` and joins again elsewhere.
    if (reason === 'migrated') this.close(CloseCode.reconnect, 'reconnect: the room moved', 'reconnect');
  }

  close(code: number, reason: string, metric: string): void {
    if (this.closed) return;
    this.closed = true;
    this.ctx.metrics.disconnects.inc({ reason: metric });
    this.ws.close(code, reason);
  }

  /** The socket is gone: stop timers and leave the room. */
  onClosed(): void {
    this.closed = true;
    // A join still waiting (in the lobby) ends with the socket. Not AbortSignal.any([gone, cancel]) per
    // join: on Node 20 each one stays referenced from the long-lived `gone` signal until the socket closes.
    this.cancelJoin?.();
    this.socketGone = true;
    this.goneController?.abort(SOCKET_GONE);
    if (this.authTimer) clearTimeout(this.authTimer);
    this.authTimer = null;
    this.backlog = null;
    this.relay?.closed();
    this.relay = null;
    if (this.callDevice) this.ctx.calls?.presence.remove(this.callDevice);
    const participant = this.participant;
    this.participant = null;
    if (participant) {
      this.ctx.rooms.leave(participant, 'disconnected').catch((err) => this.ctx.log.error({ err }, 'leave on disconnect failed'));
    }
  }
}
