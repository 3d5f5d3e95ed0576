// Webhooks from the Postgres outbox to a real local HTTP receiver: signature,
// order per room, a receiver that fails then recovers, delivery after a
// server restart, two nodes sharing one PostgreSQL, and track events from
// the SFU.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignalingClient } from '../../clients/node/signalingClient.js';
import { TokenIssuer } from '../../server/edges/auth/tokens.js';
import { testKeys } from '../support/keys.js';
import { spawnServer } from '../support/process.js';
import { createServer, type Server } from 'node:http';
import { MediaBot } from '../../clients/node/mediaBot.js';
import { verify } from '../../server/edges/webhooks/signature.js';
import { eventually, freePort } from '../support/net.js';
import { startPostgres } from '../support/postgres.js';
import { startServer, type TestServer } from '../support/server.js';
import { openPglite } from '../../server/storage/pgliteDatabase.js';

const SECRET = 'webhook-secret-0123456789';

/** A webhook body: every event names itself and its room; the rest depends on the event (the fields the tests read). */
interface DeliveryBody {
  event: string;
  room: string;
  call_id?: string;
  created_at?: string;
  reason?: string;
  participant?: { participant_id: string };
  track?: { producer_id: string; source: string; participant_id: string };
}

interface Delivery {
  id: string;
  event: string;
  room: string;
  body: DeliveryBody;
  signatureOk: boolean;
}

/** A webhook receiver on 127.0.0.1 that answers `status()` and records what it accepted. */
class Receiver {
  readonly accepted: Delivery[] = [];
  attempts = 0;
  status: () => number = () => 200;
  private server: Server | null = null;

  constructor(readonly port: number) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let raw = '';
      req.on('data', (c) => (raw += c));
      req.on('end', () => {
        this.attempts++;
        const code = this.status();
        if (code === 200) {
          const ts = String(req.headers['switchboard-webhook-timestamp']);
          const sig = String(req.headers['switchboard-webhook-signature']);
          // Recomputed here independently of the server's code: HMAC-SHA256 over `timestamp.body`.
          const expected = `v1=${createHmac('sha256', SECRET).update(`${ts}.${raw}`).digest('hex')}`;
          const body = JSON.parse(raw) as DeliveryBody;
          this.accepted.push({
            id: String(req.headers['switchboard-webhook-id']),
            event: body.event,
            room: body.room,
            body,
            signatureOk: sig === expected && verify(SECRET, ts, raw, sig) && !verify('another-secret-0123456', ts, raw, sig),
          });
        }
        res.writeHead(code).end();
      });
    });
    await new Promise<void>((r) => this.server!.listen(this.port, '127.0.0.1', r));
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server = null;
  }

  events(room: string): string[] {
    return this.accepted.filter((d) => d.room === room).map((d) => d.event);
  }

  /** A room's events once each: delivery is at least once, and a redelivery carries the same id. */
  distinctEvents(room: string): string[] {
    const seen = new Set<string>();
    return this.accepted.filter((d) => d.room === room && !seen.has(d.id) && seen.add(d.id)).map((d) => d.event);
  }
}

const env = (receiver: Receiver, extra: Record<string, string> = {}) => ({
  WEBHOOK_URLS: receiver.url,
  WEBHOOK_SECRET: SECRET,
  WEBHOOK_RETRY_BASE_MS: '100',
  WEBHOOK_RETRY_MAX_MS: '400',
  WEBHOOK_POLL_INTERVAL_MS: '100',
  ROOM_EMPTY_TIMEOUT_SECONDS: '0',
  ...extra,
});

const LIFECYCLE = ['room_started', 'participant_joined', 'participant_joined', 'participant_left', 'participant_left', 'room_finished'];

async function lifecycle(srv: TestServer, room: string): Promise<void> {
  const a = await srv.joined('alice', room);
  const b = await srv.joined('bob', room);
  await b.client.request('leave', {});
  await a.client.request('leave', {});
  await a.client.close();
  await b.client.close();
}

const test = suite('webhooks');

async function issuerToken(userId: string): Promise<string> {
  const issuer = await TokenIssuer.fromPrivateKeyFile(testKeys().privateKeyFile, { audience: 'switchboard', issuer: null });
  return (await issuer.mint({ userId, role: 'speaker', ttlSeconds: 600 })).token;
}

test('events reach the receiver signed, with ids, in order per room', async () => {
  const receiver = new Receiver(await freePort());
  await receiver.start();
  const srv = await startServer({ env: env(receiver) });
  try {
    await Promise.all([lifecycle(srv, 'w-one'), lifecycle(srv, 'w-two')]);
    await eventually(() => receiver.events('w-one').length === 6 && receiver.events('w-two').length === 6, 10_000, 'all delivered');
    assert.equal(receiver.events('w-one'), LIFECYCLE);
    assert.equal(receiver.events('w-two'), LIFECYCLE);
    assert.ok(
      receiver.accepted.every((d) => d.signatureOk),
      'every signature verifies (and not with another secret)',
    );
    assert.is(new Set(receiver.accepted.map((d) => d.id)).size, 12, 'unique event ids');
    const joined = receiver.accepted.find((d) => d.event === 'participant_joined')!.body;
    assert.ok(joined.participant!.participant_id && joined.call_id && joined.created_at);
    const left = receiver.accepted.find((d) => d.event === 'participant_left' && d.room === 'w-one')!.body;
    assert.is(left.reason, 'left');
    // A tampered body or an old timestamp does not verify.
    assert.not.ok(verify(SECRET, String(Math.floor(Date.now() / 1000)), '{"x":1}', 'v1=00'));
    const old = Math.floor(Date.now() / 1000) - 3600;
    const sig = `v1=${createHmac('sha256', SECRET).update(`${old}.{}`).digest('hex')}`;
    assert.not.ok(verify(SECRET, String(old), '{}', sig), 'replay window');
  } finally {
    await srv.stop();
    await receiver.stop();
  }
});

test('a receiver that fails for a while gets everything afterwards, in order (retries with backoff)', async () => {
  const receiver = new Receiver(await freePort());
  let failing = true;
  receiver.status = () => (failing ? 503 : 200);
  await receiver.start();
  const srv = await startServer({ env: env(receiver) });
  try {
    await lifecycle(srv, 'w-flaky');
    await eventually(() => receiver.attempts >= 4, 10_000, 'retries');
    assert.is(receiver.accepted.length, 0);
    const rows = await srv.app.db.query<{ attempts: number; last_error: string }>(
      `SELECT attempts, last_error FROM webhook_outbox WHERE room = 'w-flaky' ORDER BY id`,
    );
    assert.ok(rows[0].attempts >= 2 && rows[0].last_error === 'HTTP 503', JSON.stringify(rows[0]));
    assert.ok(
      rows.slice(1).every((r) => r.attempts === 0),
      'later events wait behind the first (order per room)',
    );
    failing = false;
    await eventually(() => receiver.events('w-flaky').length === 6, 10_000, 'delivered after recovery');
    assert.equal(receiver.events('w-flaky'), LIFECYCLE);
    const metrics = (await srv.api('GET', '/metrics')).body as string;
    assert.match(metrics, /switchboard_webhook_deliveries_total\{result="retry"\} [1-9]/);
    assert.match(metrics, /switchboard_webhook_deliveries_total\{result="delivered"\} 6/);
    assert.match(metrics, /switchboard_webhook_outbox_pending 0/);
  } finally {
    await srv.stop();
    await receiver.stop();
  }
});

test("when a receiver answers again, every room's waiting events are due at once (not after each one's own backoff)", async () => {
  const receiver = new Receiver(await freePort());
  let failing = true;
  receiver.status = () => (failing ? 503 : 200);
  await receiver.start();
  const srv = await startServer({ env: env(receiver, { WEBHOOK_RETRY_BASE_MS: '250', WEBHOOK_RETRY_MAX_MS: '60000' }) });
  try {
    const early = await srv.joined('early', 'w-early');
    // Five failed attempts: room_started of w-early now waits ~4 s (250 ms doubling, ±20%) for its next try.
    await eventually(() => receiver.attempts >= 5, 15_000, 'five attempts');
    failing = false;
    const late = await srv.joined('late', 'w-late'); // a fresh event goes through at once: the receiver is back
    await eventually(() => receiver.events('w-late').length >= 1, 5000, 'the fresh event delivered');
    const backAt = Date.now();
    await eventually(() => receiver.events('w-early').length >= 2, 10_000, 'the waiting room delivered');
    const waitedMs = Date.now() - backAt;
    assert.ok(waitedMs < 2000, `w-early's events came ${waitedMs} ms after the receiver was back (its backoff was ~4 s)`);
    assert.equal(receiver.events('w-early'), ['room_started', 'participant_joined']);
    await early.client.close();
    await late.client.close();
  } finally {
    await srv.stop();
    await receiver.stop();
  }
});

test('a receiver answering 302 is a failed delivery: the redirect is not followed, the status is stored and retried', async () => {
  const target = new Receiver(await freePort()); // where the redirect points: must see nothing
  await target.start();
  let redirects = 0;
  const redirecting = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      redirects++;
      res.writeHead(302, { location: target.url }).end();
    });
  });
  await new Promise<void>((r) => redirecting.listen(0, '127.0.0.1', r));
  const port = (redirecting.address() as { port: number }).port;
  const srv = await startServer({ env: { ...env(target), WEBHOOK_URLS: `http://127.0.0.1:${port}/hook` } });
  try {
    await lifecycle(srv, 'w-redirect');
    await eventually(() => redirects >= 3, 10_000, 'retried deliveries to the redirecting receiver');
    const rows = await srv.app.db.query<{ attempts: number; last_error: string; delivered_at: Date | null }>(
      `SELECT attempts, last_error, delivered_at FROM webhook_outbox WHERE room = 'w-redirect' ORDER BY id LIMIT 1`,
    );
    assert.ok(rows[0].attempts >= 2, JSON.stringify(rows[0]));
    assert.match(rows[0].last_error, /^HTTP 302/);
    assert.is(rows[0].delivered_at, null);
    assert.is(target.attempts, 0, 'the redirect target got no request');
  } finally {
    await srv.stop();
    redirecting.closeAllConnections();
    await new Promise<void>((r) => redirecting.close(() => r()));
    await target.stop();
  }
});

test('events stored while the receiver is down are delivered after a server restart', async () => {
  const receiver = new Receiver(await freePort()); // not listening yet: connection refused
  const first = await startServer({ env: env(receiver) });
  const dataDir = first.dataDir;
  await lifecycle(first, 'w-restart');
  await eventually(
    async () => (await first.app.db.query(`SELECT 1 FROM webhook_outbox WHERE room = 'w-restart'`)).length === 6,
    5000,
    'stored',
  );
  await first.app.close();
  // As if the run had died mid-delivery: every row still leased to this NODE_ID for an hour.
  const db = await openPglite(path.join(dataDir, 'pglite'));
  const leased = await db.query(
    `UPDATE webhook_outbox SET locked_by = 'test-node', locked_until = now() + interval '1 hour' WHERE room = 'w-restart' RETURNING id`,
  );
  await db.close();
  assert.is(leased.length, 6);
  await receiver.start();
  const second = await startServer({ env: env(receiver), dataDir });
  try {
    await eventually(() => receiver.events('w-restart').length === 6, 10_000, 'delivered by the restarted server, not after the lease');
    assert.equal(receiver.events('w-restart'), LIFECYCLE);
  } finally {
    await second.stop();
    await receiver.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('after a crash (SIGKILL) the restart closes the open call and reports room_finished (server-restart)', async () => {
  const receiver = new Receiver(await freePort());
  await receiver.start();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'switchboard-test-crash-'));
  const crashed = await spawnServer({ DATA_DIR: dataDir, ...env(receiver) });
  try {
    const c = await SignalingClient.connect(crashed.url);
    await c.request('auth', { token: await issuerToken('crashy') });
    await c.request('join', { room: 'w-crash' });
    await eventually(() => receiver.events('w-crash').length === 2, 10_000, 'join events');
    crashed.child.kill('SIGKILL');
    await crashed.exited;
  } catch (err) {
    crashed.child.kill('SIGKILL');
    throw err;
  }
  const srv = await startServer({ dataDir, env: env(receiver) });
  try {
    // The kill may land between the receiver's 200 for participant_joined and the row's update: then it comes twice, same id.
    await eventually(() => receiver.distinctEvents('w-crash').length === 3, 30_000, 'room_finished after restart'); // generous: a loaded CI box
    assert.equal(receiver.distinctEvents('w-crash'), ['room_started', 'participant_joined', 'room_finished']);
    assert.ok(receiver.events('w-crash').length <= 4, 'at most the one in flight is repeated');
    assert.is(receiver.accepted.at(-1)!.body.reason, 'server-restart');
  } finally {
    await srv.stop();
    await receiver.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('two nodes sharing one PostgreSQL deliver each event once, in order per room', async () => {
  const pg = await startPostgres();
  const receiver = new Receiver(await freePort());
  await receiver.start();
  const a = await startServer({ databaseUrl: pg.url, env: env(receiver, { NODE_ID: 'node-a' }) });
  const b = await startServer({ databaseUrl: pg.url, env: env(receiver, { NODE_ID: 'node-b' }) });
  try {
    const rooms = Array.from({ length: 6 }, (_, i) => `w-pair-${i}`);
    await Promise.all(rooms.map((r, i) => lifecycle(i % 2 ? a : b, r)));
    await eventually(() => rooms.every((r) => receiver.events(r).length >= 6), 15_000, 'all delivered');
    for (const r of rooms) assert.equal(receiver.events(r), LIFECYCLE, r);
    assert.is(receiver.accepted.length, rooms.length * 6, 'no duplicates');
    const by = await a.app.db.query<{ locked_by: string; n: number }>(
      'SELECT locked_by, count(*)::int AS n FROM webhook_outbox GROUP BY locked_by',
    );
    assert.ok(by.length >= 1);
  } finally {
    await a.stop();
    await b.stop();
    await receiver.stop();
    await pg.stop();
  }
});

test('track_published and track_unpublished come from the SFU side', async () => {
  const receiver = new Receiver(await freePort());
  await receiver.start();
  const srv = await startServer({ sfuWorkers: 1, env: env(receiver) });
  try {
    const bot = await MediaBot.join(srv.url, await srv.mint({ userId: 'pub' }), 'w-track');
    const audio = await bot.publishAudio();
    await bot.signaling.request('close-producer', { producer_id: audio.id });
    await eventually(() => receiver.events('w-track').includes('track_unpublished'), 10_000, 'track events');
    const published = receiver.accepted.find((d) => d.event === 'track_published')!.body;
    assert.equal(
      [published.track!.producer_id, published.track!.source, published.track!.participant_id],
      [audio.id, 'mic', bot.participantId],
    );
    assert.equal(receiver.events('w-track'), ['room_started', 'participant_joined', 'track_published', 'track_unpublished']);
    await bot.close();
  } finally {
    await srv.stop();
    await receiver.stop();
  }
});

test.run();
