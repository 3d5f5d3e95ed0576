// The WebSocket endpoint (/ws): accepts connections, enforces the connection
// cap and message size, and drops dead peers. Pings are spread over the
// interval in slices: pinging 20k sockets at once stalled the event loop for
// hundreds of milliseconds (and every client answered at the same moment).

import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { CloseCode } from './protocol.js';
import type { HubContext } from './hubContext.js';
import { Session } from './session.js';

export const WS_PATH = '/ws';
const PING_SLICES = 30;

export class SignalingHub {
  private readonly wss: WebSocketServer;
  private readonly sessions = new Set<Session<WebSocket>>();
  private readonly pingSlices: Array<Set<Session<WebSocket>>> = Array.from({ length: PING_SLICES }, () => new Set());
  private nextSlice = 0;
  private sliceToAssign = 0;
  private readonly pingTimer: NodeJS.Timeout;
  private accepting = true;

  constructor(private readonly ctx: HubContext) {
    const { limits } = ctx.config;
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: limits.maxMessageBytes, // larger frames: ws closes with 1009
      perMessageDeflate: false, // compression costs ~300 KiB per connection in zlib state
      clientTracking: false,
    });
    this.pingTimer = setInterval(() => this.sweepSlice(), Math.max(10, Math.floor(limits.pingIntervalMs / PING_SLICES)));
    this.pingTimer.unref();
  }

  get connectionCount(): number {
    return this.sessions.size;
  }

  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname !== WS_PATH || !this.accepting) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
        return;
      }
      socket.on('error', () => {}); // errors after upgrade are handled by ws; before, ignore resets
      this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, req, url.searchParams.get('token')));
    });
  }

  private accept(ws: WebSocket, req: IncomingMessage, urlToken: string | null): void {
    const { metrics, config, log } = this.ctx;
    if (this.sessions.size >= config.limits.maxConnections) {
      metrics.disconnects.inc({ reason: 'server_full' });
      ws.close(CloseCode.tryAgainLater, 'server full');
      return;
    }
    const session = new Session(ws, req.socket.remoteAddress ?? null, this.ctx);
    this.sessions.add(session);
    const slice = this.pingSlices[this.sliceToAssign]!;
    this.sliceToAssign = (this.sliceToAssign + 1) % PING_SLICES;
    slice.add(session);
    metrics.connections.inc();
    ws.on('message', (data, isBinary) => session.onMessage(data, isBinary));
    ws.on('pong', () => {
      session.alive = true;
    });
    ws.on('error', (err) => log.debug({ err }, 'websocket error'));
    ws.on('close', () => {
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
    const slice = this.pingSlices[this.nextSlice]!;
    this.nextSlice = (this.nextSlice + 1) % PING_SLICES;
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
      (s) => new Promise<void>((resolve) => {
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
