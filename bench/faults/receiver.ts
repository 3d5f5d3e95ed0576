// The bench's webhook receiver: verifies every delivery's signature, keeps
// each event's first arrival (at-least-once duplicates are counted, not
// stored twice), and can stall: hang (accept, read, never answer) or answer
// 503, as a receiver that is down for minutes does.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, verify } from '../../server/edges/webhooks/signature.js';

export type ReceiverMode = 'ok' | 'hang' | 'unavailable';

export interface ReceivedEvent {
  id: string;
  event: string;
  room: string;
  created_at: string;
  /** participant id of participant_joined / participant_left */
  participant_id: string | null;
  /** Wall ms of the first accepted (2xx) delivery. */
  received_at: number;
  /** Arrival rank of the first accepted delivery, over all events. */
  order: number;
}

export class WebhookReceiver {
  mode: ReceiverMode = 'ok';
  readonly events = new Map<string, ReceivedEvent>();
  /** Accepted deliveries of an id already received (at-least-once): arrival time and event id. */
  readonly duplicates: Array<{ at: number; id: string }> = [];
  badSignatures = 0;
  /** Deliveries left hanging or answered 503 while stalled. */
  refused = { hang: 0, unavailable: 0 };
  private arrivals = 0;
  private readonly hanging = new Set<ServerResponse>();
  private server: Server | null = null;
  url = '';

  constructor(private readonly secret: string) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => this.onRequest(req, res));
    this.server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks`;
  }

  /** Back to answering: requests left hanging are dropped (the sender times them out anyway). */
  setMode(mode: ReceiverMode): void {
    this.mode = mode;
    if (mode !== 'hang') {
      for (const res of this.hanging) res.socket?.destroy();
      this.hanging.clear();
    }
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (this.mode === 'hang') {
        this.refused.hang++;
        this.hanging.add(res);
        res.on('close', () => this.hanging.delete(res));
        return;
      }
      if (this.mode === 'unavailable') {
        this.refused.unavailable++;
        res.writeHead(503).end();
        return;
      }
      const body = Buffer.concat(chunks).toString('utf8');
      const header = (name: string) => String(req.headers[name] ?? '');
      if (!verify(this.secret, header(HEADER_TIMESTAMP), body, header(HEADER_SIGNATURE))) {
        this.badSignatures++;
        res.writeHead(401).end();
        return;
      }
      const id = header(HEADER_ID);
      if (this.events.has(id)) {
        this.duplicates.push({ at: Date.now(), id });
      } else {
        const parsed = JSON.parse(body) as { event: string; room: string; created_at: string; participant?: { participant_id?: string } };
        this.events.set(id, {
          id,
          event: parsed.event,
          room: parsed.room,
          created_at: parsed.created_at,
          participant_id: parsed.participant?.participant_id ?? null,
          received_at: Date.now(),
          order: this.arrivals++,
        });
      }
      res.writeHead(204).end();
    });
  }

  async stop(): Promise<void> {
    this.setMode('ok');
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
