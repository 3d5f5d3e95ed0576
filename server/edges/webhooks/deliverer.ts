// Sends the outbox's events to the receivers. Cluster-safe: a node claims
// rows with a lease (FOR UPDATE SKIP LOCKED + locked_until), and only the
// oldest undelivered row of each (url, room) can be claimed, so a room's
// events arrive in order even with several nodes delivering. A failed
// delivery is retried with exponential backoff (with jitter) until
// WEBHOOK_GIVE_UP_SECONDS after the event, then marked failed so the room's
// later events can go.

import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../../kernel/logger.js';
import type { Database } from '../../storage/database.js';
import { HEADER_EVENT, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, sign } from './signature.js';

export interface DelivererOptions {
  /** The receivers this node delivers to: rows for URLs no longer configured are left alone. */
  urls: string[];
  secret: string;
  nodeId: string;
  retryBaseMs: number;
  retryMaxMs: number;
  giveUpSeconds: number;
  pollIntervalMs: number;
  /** Longest a receiver may take to answer. */
  timeoutMs?: number;
}

interface OutboxRow {
  id: string;
  event_id: string;
  url: string;
  event: string;
  body: string;
  attempts: number;
  age_seconds: number;
}

const BATCH = 50;
const LEASE_SECONDS = 60;
const KEEP_DELIVERED_DAYS = 7;
const PRUNE_EVERY_MS = 3_600_000;

export class WebhookDeliverer {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private deliveries: Counter | null = null;
  private prunedAt = 0;
  /** Receivers whose last delivery from this node failed. */
  private readonly failing = new Set<string>();

  constructor(
    private readonly db: Database,
    private readonly opts: DelivererOptions,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.schedule(0);
  }

  /** Delivery outcomes and the outbox backlog, at GET /metrics. */
  registerMetrics(registry: Registry): void {
    this.deliveries = new Counter({
      name: 'switchboard_webhook_deliveries_total',
      help: 'Webhook delivery attempts, by result (delivered, retry, given_up)',
      labelNames: ['result'],
      registers: [registry],
    });
    const db = this.db;
    new Gauge({
      name: 'switchboard_webhook_outbox_pending',
      help: 'Webhook events stored and not delivered yet (all nodes)',
      registers: [registry],
      async collect() {
        const rows = await db
          .query<{ n: number }>('SELECT count(*)::int AS n FROM webhook_outbox WHERE delivered_at IS NULL AND failed_at IS NULL')
          .catch(() => null);
        if (rows) this.set(rows[0].n);
      },
    });
  }

  /** New rows were stored: look now rather than at the next poll. */
  nudge(): void {
    if (this.stopped) return;
    if (this.running) this.again = true;
    else this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running ??= this.pass().finally(() => {
        this.running = null;
        const soon = this.again;
        this.again = false;
        this.schedule(soon ? 0 : this.opts.pollIntervalMs);
      });
    }, ms);
    this.timer.unref();
  }

  /** Claims and delivers until nothing is due. */
  private async pass(): Promise<void> {
    try {
      await this.prune();
      for (let round = 0; round < 100 && !this.stopped; round++) {
        const rows = await this.claim();
        if (rows.length === 0) return;
        await Promise.all(rows.map((r) => this.deliver(r)));
      }
      this.again = true;
    } catch (err) {
      if (!this.stopped) this.log.error({ err }, 'webhook delivery pass failed');
    }
  }

  private claim(): Promise<OutboxRow[]> {
    return this.db.query<OutboxRow>(
      `UPDATE webhook_outbox SET locked_until = now() + make_interval(secs => $2::float8), locked_by = $1
       WHERE id IN (
         SELECT o.id FROM webhook_outbox o
         WHERE o.delivered_at IS NULL AND o.failed_at IS NULL AND o.next_attempt_at <= now() AND o.url = ANY($4::text[])
           AND (o.locked_until IS NULL OR o.locked_until < now())
           AND NOT EXISTS (
             SELECT 1 FROM webhook_outbox e
             WHERE e.url = o.url AND e.room = o.room AND e.id < o.id AND e.delivered_at IS NULL AND e.failed_at IS NULL)
         ORDER BY o.id LIMIT $3
         FOR UPDATE SKIP LOCKED)
       RETURNING id, event_id, url, event, body, attempts, EXTRACT(EPOCH FROM (now() - created_at))::float8 AS age_seconds`,
      [this.opts.nodeId, LEASE_SECONDS, BATCH, this.opts.urls],
    );
  }

  /**
   * At start, before delivering: leases a previous run left (it crashed between a receiver's
   * answer and the row update) would hold their rooms' later events for the whole lease.
   * `nodeId` null releases every lease (PGlite: the database has one owner).
   */
  async releaseStaleLeases(nodeId: string | null): Promise<void> {
    const rows = await this.db.query<{ id: string }>(
      `UPDATE webhook_outbox SET locked_until = NULL, locked_by = NULL
       WHERE delivered_at IS NULL AND failed_at IS NULL AND locked_until IS NOT NULL AND ($1::text IS NULL OR locked_by = $1)
       RETURNING id`,
      [nodeId],
    );
    if (rows.length > 0)
      this.log.info({ rows: rows.length }, 'webhook leases of a previous run released; those events may reach receivers twice');
  }

  /** Delivered rows are kept a week (audits, debugging), then dropped; at most once an hour. */
  private async prune(): Promise<void> {
    if (Date.now() - this.prunedAt < PRUNE_EVERY_MS) return;
    this.prunedAt = Date.now();
    await this.db.query(`DELETE FROM webhook_outbox WHERE delivered_at < now() - interval '${KEEP_DELIVERED_DAYS} days'`);
  }

  /**
   * A delivery went through after a failure (this row's, or this receiver's
   * last one): the receiver is back. Its other rows
   * waiting out their backoff (each room's own, up to WEBHOOK_RETRY_MAX_MS)
   * are due now, so a receiver's outage ends for every room at once.
   */
  private async receiverBack(url: string): Promise<void> {
    const rows = await this.db.query<{ id: string }>(
      `UPDATE webhook_outbox SET next_attempt_at = now()
       WHERE url = $1 AND delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at > now()
       RETURNING id`,
      [url],
    );
    if (rows.length > 0) {
      this.log.info({ url, rows: rows.length }, 'webhook receiver answers again: its waiting events are due now');
      this.again = true;
    }
  }

  private async deliver(row: OutboxRow): Promise<void> {
    const timestamp = Math.floor(Date.now() / 1000);
    let error: string | null = null;
    try {
      const res = await fetch(row.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [HEADER_ID]: row.event_id,
          [HEADER_EVENT]: row.event,
          [HEADER_TIMESTAMP]: String(timestamp),
          [HEADER_SIGNATURE]: sign(this.opts.secret, timestamp, row.body),
        },
        body: row.body,
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
        // A redirect is not followed: the signed event would go to wherever the answer points (another
        // host, an internal address). A 3xx is a failed delivery, retried like any other.
        redirect: 'manual',
      });
      await res.arrayBuffer().catch(() => {}); // drains the body so the connection is reused; its content is not read
      if (res.status >= 300 && res.status < 400) error = `HTTP ${res.status} (redirects are not followed)`;
      else if (res.status < 200 || res.status >= 300) error = `HTTP ${res.status}`;
    } catch (err) {
      error = (err as Error).cause ? String((err as Error & { cause: unknown }).cause) : String(err);
    }
    if (error === null) {
      this.deliveries?.inc({ result: 'delivered' });
      await this.db.query(`UPDATE webhook_outbox SET delivered_at = now(), attempts = attempts + 1, locked_until = NULL WHERE id = $1`, [
        row.id,
      ]);
      const receiverWasFailing = this.failing.delete(row.url);
      if (row.attempts > 0 || receiverWasFailing) await this.receiverBack(row.url);
      return;
    }
    this.failing.add(row.url);
    const attempts = row.attempts + 1;
    const giveUp = row.age_seconds >= this.opts.giveUpSeconds;
    this.deliveries?.inc({ result: giveUp ? 'given_up' : 'retry' });
    const delayMs = Math.min(this.opts.retryMaxMs, this.opts.retryBaseMs * 2 ** (attempts - 1)) * (0.8 + Math.random() * 0.4);
    this.log.warn({ url: row.url, event: row.event, event_id: row.event_id, attempts, error, give_up: giveUp }, 'webhook delivery failed');
    await this.db.query(
      `UPDATE webhook_outbox SET attempts = $2, last_error = $3, locked_until = NULL,
         next_attempt_at = now() + make_interval(secs => $4::float8), failed_at = CASE WHEN $5::boolean THEN now() END
       WHERE id = $1`,
      [row.id, attempts, error.slice(0, 500), delayMs / 1000, giveUp],
    );
  }
}
