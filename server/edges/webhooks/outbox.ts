// The webhook outbox: the EventSink that stores each event, once per
// receiver URL, in PostgreSQL. An event is durable when emit() resolves; the
// deliverer sends it afterwards (at least once, in order per room).

import { randomUUID } from 'node:crypto';
import type { EventSink, RoomEvent } from '../../domain/events.js';
import type { Database } from '../../storage/database.js';

export class WebhookOutbox implements EventSink {
  constructor(
    private readonly db: Database,
    private readonly urls: string[],
    /** Called after a row is stored, so the local deliverer sends it without waiting for its next poll. */
    private readonly stored: () => void = () => {},
  ) {}

  async emit(event: RoomEvent): Promise<void> {
    if (this.urls.length === 0) return;
    const id = randomUUID();
    const body = JSON.stringify({ id, event: event.name, room: event.room, created_at: new Date().toISOString(), ...event.data });
    const params: unknown[] = [];
    const rows = this.urls.map((url, i) => {
      params.push(url);
      return `($1, $${i + 5}, $2, $3, $4)`;
    });
    await this.db.query(`INSERT INTO webhook_outbox (event_id, url, room, event, body) VALUES ${rows.join(', ')}`, [
      id,
      event.room,
      event.name,
      body,
      ...params,
    ]);
    this.stored();
  }
}
