// The WebSocket side of the SDK: typed requests with ids (one reply each),
// server events, a heartbeat, and reconnection with exponential backoff that
// authenticates again. Joining the room again is the client's job (client.ts),
// announced by the `reconnected` event. Types come from signaling/protocol/protocol.ts.

import type { ClientPayloads, ClientType, Identity, ServerMessage } from '../../../signaling/protocol/protocol.js';
import { PendingRequests, SignalingError, toSignalingUrl, type Reply } from '../../shared/requests.js';
import { Emitter } from './emitter.js';

export { SignalingError, type Reply };

/** A token, or a function that returns a fresh one (called again on every reconnect). */
export type TokenSource = string | (() => string | Promise<string>);

export type ConnectionState = 'disconnected' | 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface ReconnectOptions {
  /** Default true. */
  enabled?: boolean;
  /** First retry after about this long (default 500 ms), doubling up to maxDelayMs. */
  initialDelayMs?: number;
  /** Default 10 000 ms. */
  maxDelayMs?: number;
  /** Give up after this many failed attempts in a row (default: never). */
  maxAttempts?: number;
}

export interface SignalingOptions {
  reconnect?: ReconnectOptions;
  /** Default 10 000 ms. */
  requestTimeoutMs?: number;
  /**
   * A `ping` request this often (default 15 000 ms; 0 = off). A ping without a
   * reply within the same time counts as a lost connection: browsers cannot
   * see WebSocket-level pings, so a dead network would otherwise go unnoticed.
   */
  heartbeatMs?: number;
}

export interface StateChange {
  state: ConnectionState;
  /** Reconnect attempt number (state `reconnecting`). */
  attempt?: number;
  /** Close code and reason of the socket that went away. */
  code?: number;
  reason?: string;
}

export interface SignalingEvents {
  /** Every server message that is not the reply to a request. */
  message: ServerMessage;
  state: StateChange;
  /** The connection came back and is authenticated again (the room was left on the server). */
  reconnected: { identity: Identity };
}

/** Close codes after which reconnecting cannot help: bad token, replaced by another connection. */
const FINAL_CLOSE_CODES = new Set([1000, 4001, 4009]);

/**
 * http(s) URLs become ws(s); a URL without a path gets `/ws`. Multiproc: a
 * known room goes along as `?room=` (a node of several processes hands the
 * connection to that room's process; servers without ignore it).
 */
export function signalingUrl(url: string, room?: string): string {
  const base = typeof location === 'object' ? location.href : undefined;
  const target = toSignalingUrl(new URL(url, base));
  if (room) target.searchParams.set('room', room);
  return target.toString();
}

export class Signaling extends Emitter<SignalingEvents> {
  state: ConnectionState = 'disconnected';
  identity: Identity | null = null;
  private ws: WebSocket | null = null;
  private url = '';
  private token: TokenSource = '';
  private readonly pending = new PendingRequests((text) => this.ws?.send(text));
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private attempt = 0;

  constructor(private readonly opts: SignalingOptions = {}) {
    super();
  }

  /** The server's HTTP origin (`https://host:port` for `wss://host:port/ws`): links the server hands out are relative to it. */
  get httpOrigin(): string {
    if (!this.url) throw new Error('not connected yet');
    const u = new URL(this.url);
    return `${u.protocol === 'wss:' ? 'https:' : 'http:'}//${u.host}`;
  }

  /** Opens the socket and authenticates; resolves with the token's identity. `opts.room`: see signalingUrl. */
  async connect(url: string, token: TokenSource, opts: { room?: string } = {}): Promise<Identity> {
    if (this.state === 'connecting' || this.state === 'connected' || this.state === 'reconnecting') {
      throw new Error(`cannot connect: already ${this.state}`);
    }
    this.url = signalingUrl(url, opts.room);
    this.token = token;
    this.attempt = 0;
    this.setState({ state: 'connecting' });
    try {
      const identity = await this.open();
      this.setState({ state: 'connected' });
      return identity;
    } catch (err) {
      this.dropSocket(1000, 'connect failed');
      this.setState({ state: 'closed', reason: String(err) });
      throw err;
    }
  }

  /** Sends a request with an id; resolves with its reply, rejects with SignalingError. */
  request<K extends ClientType>(type: K, payload: ClientPayloads[K], timeoutMs = this.opts.requestTimeoutMs ?? 10_000): Promise<Reply<K>> {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return Promise.reject(new Error(`cannot send ${type}: not connected`));
    return this.pending.request(type, payload, timeoutMs);
  }

  /** Closes for good (no reconnect). */
  close(): void {
    clearTimeout(this.reconnectTimer);
    this.dropSocket(1000, 'client closed');
    if (this.state !== 'closed') this.setState({ state: 'closed', code: 1000 });
  }

  private async open(): Promise<Identity> {
    const ws = await openSocket(this.url);
    this.ws = ws;
    ws.onmessage = (ev) => {
      if (typeof ev.data === 'string') this.onMessage(ev.data);
    };
    ws.onclose = (ev) => this.onLost(ws, ev.code, ev.reason);
    const token = typeof this.token === 'function' ? await this.token() : this.token;
    const identity = await this.request('auth', { token });
    this.identity = identity;
    this.startHeartbeat(ws);
    return identity;
  }

  private onMessage(text: string): void {
    const message = this.pending.receive(text);
    if (message) this.emit('message', message);
  }

  /** The socket closed, or the heartbeat found it dead. */
  private onLost(ws: WebSocket, code: number, reason: string): void {
    if (ws !== this.ws) return; // an old socket
    const wasConnected = this.state === 'connected';
    this.dropSocket(code, reason);
    if (!wasConnected) return; // connect() or the reconnect loop handles its own failures
    const { enabled = true } = this.opts.reconnect ?? {};
    if (!enabled || FINAL_CLOSE_CODES.has(code)) {
      this.setState({ state: 'closed', code, reason });
      return;
    }
    this.scheduleReconnect(code, reason);
  }

  private scheduleReconnect(code?: number, reason?: string): void {
    const { initialDelayMs = 500, maxDelayMs = 10_000, maxAttempts = Infinity } = this.opts.reconnect ?? {};
    if (this.attempt >= maxAttempts) {
      this.setState({ state: 'closed', reason: `gave up after ${this.attempt} reconnect attempts` });
      return;
    }
    this.attempt++;
    const base = Math.min(maxDelayMs, initialDelayMs * 2 ** (this.attempt - 1));
    const delay = base / 2 + Math.random() * (base / 2); // jitter: reconnect storms spread out
    this.setState({ state: 'reconnecting', attempt: this.attempt, ...(code !== undefined ? { code } : {}), ...(reason ? { reason } : {}) });
    this.reconnectTimer = setTimeout(() => void this.reconnect(), delay);
  }

  private async reconnect(): Promise<void> {
    if (this.state !== 'reconnecting') return; // closed meanwhile
    try {
      const identity = await this.open();
      if (this.state !== 'reconnecting') {
        this.dropSocket(1000, 'client closed');
        return;
      }
      this.attempt = 0;
      this.setState({ state: 'connected' });
      this.emit('reconnected', { identity });
    } catch (err) {
      this.dropSocket(1000, 'reconnect failed');
      if (this.state !== 'reconnecting') return;
      if (err instanceof SignalingError && err.code === 'unauthorized') {
        this.setState({ state: 'closed', code: 4001, reason: err.message });
        return;
      }
      this.scheduleReconnect();
    }
  }

  private startHeartbeat(ws: WebSocket): void {
    clearInterval(this.heartbeatTimer);
    const every = this.opts.heartbeatMs ?? 15_000;
    if (every <= 0) return;
    this.heartbeatTimer = setInterval(() => {
      this.request('ping', { t: Date.now() }, every).catch(() => {
        if (ws === this.ws) this.onLost(ws, 4000, 'heartbeat timeout');
      });
    }, every);
  }

  /** Forgets the current socket: pending requests fail, the heartbeat stops. */
  private dropSocket(code: number, reason: string): void {
    clearInterval(this.heartbeatTimer);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onmessage = null;
      ws.onclose = null;
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000);
    }
    this.pending.failAll(new Error(`connection lost (${code}${reason ? ` ${reason}` : ''})`));
  }

  private setState(change: StateChange): void {
    this.state = change.state;
    this.emit('state', change);
  }
}

function openSocket(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.onopen = () => {
      ws.onopen = ws.onerror = ws.onclose = null;
      resolve(ws);
    };
    ws.onerror = () => {}; // the close event follows with the code
    ws.onclose = (ev) => reject(new Error(`WebSocket to ${url} closed before opening (${ev.code})`));
  });
}
