// Protocol fuzzer: four authenticated clients (host, moderator, speaker,
// viewer) in one room send catalog messages, mutated catalog messages and
// junk frames for FUZZ_SECONDS (default 20) against a real server with one
// mediasoup worker. Afterwards: the server is alive and serves a fresh call,
// every request that carried an id got exactly one reply with that id, every
// error code is documented and none is internal_error or unavailable, and a
// sentinel in another room heard nothing. The seed is printed; FUZZ_SEED
// replays it.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { SignalingClient } from '../../clients/node/signalingClient.js';
import { ERROR_CODES, type ClientType, type Role } from '../../signaling/protocol/protocol.js';
import {
  CLIENT_TYPES,
  EXAMPLES,
  emptyWorld,
  frameId,
  fuzzMillis,
  fuzzSeed,
  junkFrame,
  mutate,
  rng,
  serialize,
  type FuzzWorld,
  type Rng,
} from '../support/fuzz.js';
import { startServer, type TestServer } from '../support/server.js';

const ROOM = 'fz';
const MAX_MESSAGE_BYTES = 64 * 1024;
const REPLY_TIMEOUT_MS = 5000;
const seed = fuzzSeed();
const millis = fuzzMillis();
console.log(`protocol fuzz: seed ${seed}, ${millis / 1000} s (replay with FUZZ_SEED=${seed})`);

interface Finding {
  client: string;
  code: string;
  message: string;
  frame: string;
}

/** What an `error` message's payload carries. */
interface ErrorPayload {
  code: string;
  message: string;
}

/** Ids in server payloads that later messages can name (which ones depends on the message type). */
interface LearnablePayload {
  participant_id?: string;
  producer_id?: string;
  call_id?: string;
  data_producer_id?: string;
  state?: string;
  participant?: { participant_id?: string; user_id?: string };
  message?: { message_id?: string };
  transport?: { id?: string };
  consumer?: { id?: string };
  router_rtp_capabilities?: unknown;
  room_state?: {
    participants?: Array<{ participant_id: string; user_id: string }>;
    producers?: Array<{ producer_id: string }>;
    data_producers?: Array<{ data_producer_id: string }>;
  };
}

/** One fuzzing connection (reconnected when the server closes it) and what it has seen. */
class FuzzClient {
  private client: SignalingClient | null = null;
  private closed = true;
  private waiter: { id: string; done: () => void } | null = null;
  private nextId = 1;
  private inRoom = false;
  readonly world: FuzzWorld = emptyWorld(ROOM);
  /** How many frames carried each id, and how many replies came with it. */
  readonly sent = new Map<string, number>();
  readonly replies = new Map<string, number>();
  /** Ids still unanswered when the server closed the socket (oversize frame, bad auth, flooding). */
  readonly cutOff = new Set<string>();
  readonly frames = new Map<string, string>();
  readonly findings: Finding[] = [];
  readonly codes = new Map<string, number>();
  /** Successful replies by request type: shows which handlers the run reached. */
  readonly acks = new Map<string, number>();
  readonly closeCodes = new Map<number, number>();
  unknownReplies: string[] = [];
  requests = 0;

  constructor(
    readonly name: string,
    readonly role: Role,
    private readonly srv: TestServer,
    private readonly r: Rng,
  ) {}

  private onMessage(text: string): void {
    // The payload is read as an error's only when the type is `error`; learn() reads the other types.
    const m = JSON.parse(text) as { type: string; id?: string; payload: ErrorPayload };
    if (m.id !== undefined) {
      if (!this.sent.has(m.id)) this.unknownReplies.push(`${m.id}:${m.type}`);
      this.replies.set(m.id, (this.replies.get(m.id) ?? 0) + 1);
      if (this.waiter?.id === m.id) this.waiter.done();
    }
    if ((m.type === 'ack' || m.type === 'joined') && m.id) {
      const type = /"type":"([a-z-]+)"/.exec(this.frames.get(m.id) ?? '')?.[1] ?? '?';
      this.acks.set(type, (this.acks.get(type) ?? 0) + 1);
      if (type === 'leave') this.inRoom = false;
    }
    if (m.type === 'error' && (m.payload.code === 'not_in_room' || m.payload.code === 'already_in_room'))
      this.inRoom = m.payload.code === 'already_in_room';
    if (m.type === 'error') {
      const code = String(m.payload.code);
      this.codes.set(code, (this.codes.get(code) ?? 0) + 1);
      if (!(ERROR_CODES as readonly string[]).includes(code) || code === 'internal_error' || code === 'unavailable') {
        this.findings.push({ client: this.name, code, message: m.payload.message, frame: (m.id && this.frames.get(m.id)) || '(no id)' });
      }
    }
    this.learn(m);
  }

  /** Remembers ids the server handed out, so later messages can name real objects. */
  private learn(m: { type: string; payload: unknown }): void {
    const w = this.world;
    const p = (m.payload ?? {}) as LearnablePayload;
    const add = (list: string[], v: unknown) => {
      if (typeof v === 'string' && !list.includes(v)) list.push(v);
      if (list.length > 20) list.shift();
    };
    if (m.type === 'joined') {
      this.inRoom = true;
      add(w.participants, p.participant_id);
      for (const x of p.room_state?.participants ?? []) {
        add(w.participants, x.participant_id);
        add(w.users, x.user_id);
      }
      for (const x of p.room_state?.producers ?? []) add(w.producers, x.producer_id);
      for (const x of p.room_state?.data_producers ?? []) add(w.dataProducers, x.data_producer_id);
    } else if (m.type === 'peer-joined') {
      add(w.participants, p.participant?.participant_id);
      add(w.users, p.participant?.user_id);
    } else if (m.type === 'producer-added') add(w.producers, p.producer_id);
    else if (m.type === 'data-producer-added') add(w.dataProducers, p.data_producer_id);
    else if (m.type === 'live-chat-message') add(w.chatMessages, p.message?.message_id);
    else if (m.type === 'call-incoming') add(w.calls, p.call_id);
    else if (m.type === 'kicked') this.inRoom = false;
    else if (m.type === 'call-state-changed' && p.state === 'ended') this.inRoom = false;
    else if (m.type === 'ack') {
      add(w.transports, p.transport?.id);
      add(w.producers, p.producer_id);
      add(w.consumers, p.consumer?.id);
      add(w.dataProducers, p.data_producer_id);
      add(w.chatMessages, p.message?.message_id);
      add(w.calls, p.call_id);
      if (p.router_rtp_capabilities) w.routerCaps = p.router_rtp_capabilities;
    }
  }

  private async connect(): Promise<void> {
    const client = await this.srv.connect();
    this.client = client;
    this.closed = false;
    this.inRoom = false;
    client.ws.on('message', (data) => this.onMessage(data.toString()));
    void client.closed.then((info) => {
      this.closed = true;
      this.closeCodes.set(info.code, (this.closeCodes.get(info.code) ?? 0) + 1);
      for (const [id, n] of this.sent) if ((this.replies.get(id) ?? 0) < n) this.cutOff.add(id);
      this.waiter?.done();
    });
    const token = await this.srv.mint({ userId: this.name, role: this.role, room: ROOM });
    await this.send(serialize({ type: 'auth', id: this.id(), payload: { token } }));
    await this.send(serialize({ type: 'join', id: this.id(), payload: EXAMPLES.join(this.r, this.world) }));
  }

  private id(): string {
    return `${this.name}-${this.nextId++}`;
  }

  /** Sends one frame; when it carries an id, waits (bounded) for its reply. */
  private async send(frame: string | Buffer): Promise<void> {
    const id = frameId(frame);
    if (this.closed || !this.client) return;
    if (id !== null) {
      this.sent.set(id, (this.sent.get(id) ?? 0) + 1);
      this.frames.set(id, (typeof frame === 'string' ? frame : '<binary>').slice(0, 300));
    }
    this.requests++;
    this.client.sendRaw(frame);
    if (id === null) return new Promise((resolve) => setImmediate(resolve));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => finish(), REPLY_TIMEOUT_MS);
      const finish = () => {
        clearTimeout(timer);
        this.waiter = null;
        resolve();
      };
      if (this.closed || (this.replies.get(id) ?? 0) >= this.sent.get(id)!) return finish();
      this.waiter = { id, done: finish };
    });
  }

  private nextFrame(): string | Buffer {
    const r = this.r;
    const id = this.id();
    if (r.chance(0.12)) return junkFrame(r, id, MAX_MESSAGE_BYTES).frame;
    let type: ClientType = !this.inRoom && r.chance(0.6) ? 'join' : r.pick(CLIENT_TYPES);
    if (type === 'auth' && r.chance(0.8)) type = 'ping'; // a bad token closes the socket: keep that rare
    let payload: unknown = EXAMPLES[type](r, this.world);
    if (r.chance(0.5)) payload = mutate(payload, r);
    return serialize({ type, ...(r.chance(0.95) ? { id } : {}), payload });
  }

  async run(deadline: number): Promise<void> {
    while (Date.now() < deadline) {
      if (this.closed) {
        await this.connect();
        continue;
      }
      await this.send(this.nextFrame());
    }
  }

  /** Ids sent (and not cut off by a close) whose reply count is not exactly the number of frames. */
  mismatches(): string[] {
    const out: string[] = [];
    for (const [id, n] of this.sent) {
      const got = this.replies.get(id) ?? 0;
      if (got === n) continue;
      if (got < n && this.cutOff.has(id)) continue;
      out.push(`${id}: sent ${n}, replies ${got}: ${this.frames.get(id)}`);
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.client) await this.client.close();
  }
}

test(`protocol fuzz (seed ${seed})`, async () => {
  const srv = await startServer({
    sfuWorkers: 1,
    env: { RATE_LIMIT_PER_SECOND: '2000', RATE_LIMIT_BURST: '4000', KICK_BAN_SECONDS: '0' },
  });
  try {
    const sentinel = await srv.joined('sentinel', 'fz-sentinel');
    const heard: string[] = [];
    sentinel.client.ws.on('message', (d) => heard.push(d.toString().slice(0, 200)));

    const roles: Role[] = ['host', 'moderator', 'speaker', 'viewer'];
    const clients = roles.map((role, i) => new FuzzClient(`fz-${role}`, role, srv, rng(seed + i)));
    const deadline = Date.now() + millis;
    // A locked room would keep everyone out for the rest of the run: the service unlocks it now and then.
    const janitor = setInterval(() => void srv.api('POST', `/api/v1/rooms/${ROOM}/unlock`).catch(() => {}), 1000);
    try {
      await Promise.all(clients.map((c) => c.run(deadline)));
    } finally {
      clearInterval(janitor);
    }
    // Let replies still in flight arrive (bounded).
    for (let i = 0; i < 50 && clients.some((c) => c.mismatches().length > 0); i++) await new Promise((r) => setTimeout(r, 100));

    const total = clients.reduce((n, c) => n + c.requests, 0);
    const codes: Record<string, number> = {};
    for (const c of clients) for (const [k, v] of c.codes) codes[k] = (codes[k] ?? 0) + v;
    const closes: Record<string, number> = {};
    for (const c of clients) for (const [k, v] of c.closeCodes) closes[k] = (closes[k] ?? 0) + v;
    const acks: Record<string, number> = {};
    for (const c of clients) for (const [k, v] of c.acks) acks[k] = (acks[k] ?? 0) + v;
    console.log(`protocol fuzz: ${total} frames, error codes ${JSON.stringify(codes)}, closes ${JSON.stringify(closes)}`);
    console.log(`protocol fuzz: successful replies ${JSON.stringify(acks)}`);

    const findings = clients.flatMap((c) => c.findings);
    for (const f of findings.slice(0, 10)) console.log(`finding: ${f.code} "${f.message}" from ${f.client}: ${f.frame}`);
    const mismatches = clients.flatMap((c) => c.mismatches());
    for (const m of mismatches.slice(0, 10)) console.log(`reply mismatch: ${m}`);
    const unknown = clients.flatMap((c) => c.unknownReplies);

    // The server is alive and still serves a fresh call: auth, join, relay.
    const health = await srv.api('GET', '/health', undefined, null);
    assert.is(health.status, 200);
    const a = await srv.joined('fresh-a', 'fz-after');
    const b = await srv.joined('fresh-b', 'fz-after');
    await a.client.request('offer', { to: b.id, sdp: 'after the fuzz' });
    assert.is((await b.client.next('offer')).sdp, 'after the fuzz');

    assert.equal(
      findings.map((f) => `${f.code}: ${f.message}`),
      [],
      `undocumented, internal_error or unavailable replies (seed ${seed})`,
    );
    assert.equal(mismatches, [], `requests without exactly one reply (seed ${seed})`);
    assert.equal(unknown, [], 'replies with ids nobody sent');
    assert.equal(heard, [], 'the sentinel in another room heard nothing');
    assert.ok(total > 100, `the fuzzer ran (${total} frames)`);
    for (const c of clients) await c.close();
  } finally {
    await srv.stop();
  }
});

test.run();
