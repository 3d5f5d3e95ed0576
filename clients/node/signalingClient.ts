// A Node client for the Switchboard protocol, typed from the server's catalog.
// Used by tests, bots and the benchmarks. Every server message that is not a
// reply lands in an inbox, so `next(type)` never misses one that came early.

import { WebSocket } from 'ws';
import type { ClientPayloads, ClientType, ServerMessage, ServerPayloads, ServerType } from '../../signaling/protocol/protocol.js';
import { PendingRequests, SignalingError, toSignalingUrl, type Reply } from '../shared/requests.js';

export { SignalingError };

export interface ConnectOptions {
  /** Sent as `?token=` on the URL instead of an `auth` message. */
  urlToken?: string;
  /** Source address (the bench spreads connections over 127.0.0.x). */
  localAddress?: string;
  handshakeTimeout?: number;
  /** Extra headers on the upgrade request (tests: X-Forwarded-For behind a proxy). */
  headers?: Record<string, string>;
  /**
   * Multiproc: the room this connection is for, sent as `?room=` so a node of
   * several processes hands the connection to the process of that room (optional; a hint only).
   */
  room?: string;
}

export interface CloseInfo {
  code: number;
  reason: string;
}

interface Waiter {
  type: ServerType;
  match: (payload: never) => boolean;
  resolve: (payload: never) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class SignalingClient {
  readonly closed: Promise<CloseInfo>;
  private readonly pending = new PendingRequests((text) => this.sendRaw(text));
  private readonly inbox: ServerMessage[] = [];
  private waiters: Waiter[] = [];
  closeInfo: CloseInfo | null = null;

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        const err = new Error(`connection closed (${code} ${reason.toString()})`);
        this.pending.failAll(err);
        for (const w of this.waiters) {
          clearTimeout(w.timer);
          w.reject(err);
        }
        this.waiters = [];
        resolve(this.closeInfo);
      });
    });
    ws.on('message', (data) => this.onMessage(data.toString()));
    ws.on('error', () => {}); // surfaced through `closed`
  }

  static connect(url: string, opts: ConnectOptions = {}): Promise<SignalingClient> {
    const target = toSignalingUrl(new URL(url));
    if (opts.urlToken) target.searchParams.set('token', opts.urlToken);
    if (opts.room) target.searchParams.set('room', opts.room); // multiproc: routing hint
    const ws = new WebSocket(target, {
      perMessageDeflate: false,
      handshakeTimeout: opts.handshakeTimeout ?? 10_000,
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      ...(opts.headers ? { headers: opts.headers } : {}),
    });
    const client = new SignalingClient(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode} on upgrade`)));
    });
  }

  /** Sends a request with an id and resolves with its reply (rejects with SignalingError). */
  request<K extends ClientType>(type: K, payload: ClientPayloads[K], timeoutMs = 10_000): Promise<Reply<K>> {
    return this.pending.request(type, payload, timeoutMs);
  }

  /** Sends without an id: no reply unless it fails. */
  send<K extends ClientType>(type: K, payload: ClientPayloads[K]): void {
    this.sendRaw(JSON.stringify({ type, payload }));
  }

  sendRaw(data: string | Buffer): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(data);
  }

  /** Resolves with the next (unconsumed) server message of this type that matches. */
  next<T extends ServerType>(
    type: T,
    match: (payload: ServerPayloads[T]) => boolean = () => true,
    timeoutMs = 5000,
  ): Promise<ServerPayloads[T]> {
    const index = this.inbox.findIndex((m) => m.type === type && match(m.payload as ServerPayloads[T]));
    if (index >= 0) return Promise.resolve(this.inbox.splice(index, 1)[0].payload as ServerPayloads[T]);
    if (this.closeInfo) return Promise.reject(new Error(`connection closed (${this.closeInfo.code})`));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        type,
        match: match,
        resolve: resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(new Error(`no ${type} within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  /** Server messages received and not consumed by `next` (for asserting that nothing else came). */
  unread(type?: ServerType): ServerMessage[] {
    return type ? this.inbox.filter((m) => m.type === type) : [...this.inbox];
  }

  close(code = 1000): Promise<CloseInfo> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(code);
    return this.closed;
  }

  private onMessage(text: string): void {
    const message = this.pending.receive(text);
    if (!message) return;
    const waiter = this.waiters.find((w) => w.type === message.type && w.match(message.payload as never));
    if (waiter) {
      this.waiters = this.waiters.filter((w) => w !== waiter);
      clearTimeout(waiter.timer);
      waiter.resolve(message.payload as never);
      return;
    }
    this.inbox.push(message);
  }
}
