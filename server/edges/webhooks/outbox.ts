// The webhook outbox: the EventSink that stores each event, once per
// receiver URL, in PostgreSQL. An event is durable when emit() resolves; the
// deliverer sends it afterwards (at least once, in order per room).

import { randomUUID } from 'node:crypto';
import type { EventSink, RoomEvent } from '../../domain/events.js';
import { Batcher, STORE_LINGER_MS } from '../../storage/batcher.js';
import type { Database } from '../../storage/database.js';
import { rowsPlaceholder } from '../../storage/rowsPlaceholder.js';

/** One stored event: its rows (one per receiver URL) go out in one statement with those of its neighbours. */
interface OutboxEvent {
  id: string;
  room: string;
  name: string;
  body: string;
}

// PostgreSQL takes at most 65,535 parameters per statement; five per row.
const MAX_ROWS_PER_STATEMENT = 10_000;

export class WebhookOutbox implements EventSink {
  // Events of many actions (a burst of joins) share one INSERT; each emit still resolves only once its rows are stored.
  private readonly batcher: Batcher<OutboxEvent>;

  constructor(
    private readonly db: Database,
    private readonly urls: string[],
    /** Called after a row is stored, so the local deliverer sends it without waiting for its next poll. */
    private readonly stored: () => void = () => {},
  ) {
    const perStatement = Math.max(1, Math.floor(MAX_ROWS_PER_STATEMENT / Math.max(1, urls.length)));
    this.batcher = new Batcher((events) => this.insert(events), { maxBatch: perStatement, lingerMs: STORE_LINGER_MS });
  }

  async emit(event: RoomEvent): Promise<void> {
    if (this.urls.length === 0) return;
    const id = randomUUID();
    const body = JSON.stringify({ id, event: event.name, room: event.room, created_at: new Date().toISOString(), ...event.data });
    await this.batcher.add({ id, room: event.room, name: event.name, body });
    this.stored();
  }

  /** The rows of these events, in order (ids follow the VALUES order, so delivery order per room is kept). */
  private async insert(events: OutboxEvent[]): Promise<void> {
    const params: unknown[] = [];
    for (const e of events) for (const url of this.urls) params.push(e.id, url, e.room, e.name, e.body);
    await this.db.query(
      `INSERT INTO webhook_outbox (event_id, url, room, event, body) VALUES ${rowsPlaceholder(params.length / 5, 5)}`,
      params,
    );
  }
}
