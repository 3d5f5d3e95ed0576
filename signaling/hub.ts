// The WebSocket endpoint (/ws): accepts connections, enforces the connection
// cap and message size, and drops dead peers. Pings are spread over the
// interval in slices visited every PING_TICK_MS: pinging 20k sockets at once
// stalled the event loop for hundreds of milliseconds (and every client
// answered at the same moment), and 30 slices still pinged 333 sockets in one
// go at 10k connections (~15 ms, the relay's p99 at 5,000 msg/s).

import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { CloseCode } from './protocol/protocol.js';
import type { HubContext } from './hubContext.js';
import { Session } from './session.js';
import { clientAddress } from '../server/edges/http/clientAddress.js';
import { parseTarget } from '../server/edges/http/requestTarget.js';
import { guardUpgrades } from '../server/kernel/lastResort.js';

export const WS_PATH = '/ws';
/** How often a slice is pinged; the interval is cut into as many slices as fit (at most MAX_PING_SLICES). */
const PING_TICK_MS = 50;
const MAX_PING_SLICES = 600;

export class SignalingHub {
  private readonly wss: WebSocketServer;
  private readonly sessions = new Set<Session<WebSocket>>();
  private readonly pingSlices: Array<Set<Session<WebSocket>>>;
  private nextSlice = 0;
  private sliceToAssign = 0;
  private readonly pingTimer: NodeJS.Timeout;
  private accepting = true;
  /** Connections not authenticated yet, by client address (MAX_UNAUTHENTICATED_PER_IP). */
  private readonly unauthenticated = new Map<string, number>();

  constructor(private readonly ctx: HubContext) {
    const { limits } = ctx.config;
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: limits.maxMessageBytes, // larger frames: ws closes with 1009
      perMessageDeflate: false, // compression costs ~300 KiB per connection in zlib state
      clientTracking: false,
    });
    const slices = Math.max(1, Math.min(MAX_PING_SLICES, Math.floor(limits.pingIntervalMs / PING_TICK_MS)));
    this.pingSlices = Array.from({ length: slices }, () => new Set());
    this.pingTimer = setInterval(() => this.sweepSlice(), Math.max(10, Math.floor(limits.pingIntervalMs / slices)));
    this.pingTimer.unref();
  }

  get connectionCount(): number {
    return this.sessions.size;
  }

  attach(server: Server): void {
    server.on(
      'upgrade',
      guardUpgrades((req: IncomingMessage, socket: Duplex, head: Buffer) => {
        socket.on('error', ignoreSocketError);
        const url = parseTarget(req.url);
        if (!url) return refuse(socket, '400 Bad Request');
        if (url.pathname !== WS_PATH || !this.accepting) return refuse(socket, '404 Not Found');
        const ip = clientAddress(req, this.ctx.config.trustProxyHops) ?? 'unknown';
        // A flood of idle sockets from one address must not fill MAX_CONNECTIONS for everyone.
        if ((this.unauthenticated.get(ip) ?? 0) >= this.ctx.config.limits.maxUnauthenticatedPerIp) {
          this.ctx.metrics.refused.inc({ reason: 'unauthenticated_per_ip' });
          return refuse(socket, '429 Too Many Requests', 'Retry-After: 5\r\n');
        }
        this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, ip, url.searchParams.get('token')));
      }, this.ctx.log),
    );
  }

  private accept(ws: WebSocket, ip: string, urlToken: string | null): void {
    const { metrics, config, log } = this.ctx;
    if (this.sessions.size >= config.limits.maxConnections) {
      metrics.disconnects.inc({ reason: 'server_full' });
      ws.close(CloseCode.tryAgainLater, 'server full');
      return;
    }
    const session = new Session(ws, ip === 'unknown' ? null : ip, this.ctx);
    // Counted as unauthenticated from its address until it has an identity or is gone, whichever comes first.
    this.unauthenticated.set(ip, (this.unauthenticated.get(ip) ?? 0) + 1);
    let counted = true;
    const uncount = () => {
      if (!counted) return;
      counted = false;
      const left = (this.unauthenticated.get(ip) ?? 1) - 1;
      if (left > 0) this.unauthenticated.set(ip, left);
      else this.unauthenticated.delete(ip);
    };
    session.onAuthenticated = uncount;
    this.sessions.add(session);
    const slice = this.pingSlices[this.sliceToAssign];
    this.sliceToAssign = (this.sliceToAssign + 1) % this.pingSlices.length;
    slice.add(session);
    metrics.connections.inc();
    ws.on('message', (data, isBinary) => session.onMessage(data, isBinary));
    ws.on('pong', () => {
      session.alive = true;
    });
    ws.on('error', (err) => log.debug({ err }, 'websocket error'));
    ws.on('close', () => {
      uncount();
      this.sessions.delete(session);
      slice.delete(session);
      metrics.connections.dec();
      session.onClosed();
    });
    if (urlToken) session.authenticateFromUrl(urlToken);
  }

  /**
   * Each session is visited once per ping interval (its slice's turn): a peer
   * that did not answer the previous ping is dead, so one is dropped within
   * two intervals.
   */
  private sweepSlice(): void {
    const slice = this.pingSlices[this.nextSlice];
    this.nextSlice = (this.nextSlice + 1) % this.pingSlices.length;
    for (const session of slice) {
      if (!session.alive) {
        this.ctx.metrics.disconnects.inc({ reason: 'ping_timeout' });
        session.ws.terminate();
        continue;
      }
      session.alive = false;
      try {
        session.ws.ping();
      } catch {
        session.ws.terminate();
      }
    }
  }

  /** Stops accepting and closes every connection (1001) for shutdown. */
  async close(): Promise<void> {
    this.accepting = false;
    clearInterval(this.pingTimer);
    const closed = [...this.sessions].map(
      (s) =>
        new Promise<void>((resolve) => {
          s.ws.once('close', () => resolve());
          s.close(CloseCode.goingAway, 'server shutting down', 'shutdown');
          setTimeout(() => {
            s.ws.terminate();
            resolve();
          }, 2000).unref();
        }),
    );
    await Promise.all(closed);
    this.wss.close();
  }
}

/**
 * Errors after the upgrade are handled by ws; before it, resets are ignored. A
 * module-level function: a closure made in the upgrade handler would keep that
 * handler's scope (the parsed URL, the address) alive as long as the socket.
 */
function ignoreSocketError(): void {}

/** Answers an upgrade request that gets no WebSocket, and closes its socket. */
function refuse(socket: Duplex, status: string, extraHeaders = ''): void {
  socket.end(`HTTP/1.1 ${status}\r\n${extraHeaders}Connection: close\r\nContent-Length: 0\r\n\r\n`);
}
