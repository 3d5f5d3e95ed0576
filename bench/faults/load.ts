// The signaling load: participants in rooms of --room-size, spread over both
// nodes (so rooms have relayed members), and a steady trickle of writes that
// the server acknowledges only once stored: joins and leaves of "churners",
// whiteboard strokes and raised/lowered hands of the others. Every
// acknowledged write goes into the ledger with the row it must have produced;
// refusals and disconnections are recorded with their time, for the windows.

import { SignalingClient, SignalingError } from '../../clients/node/signalingClient.js';

export type AckedWrite =
  | { kind: 'join'; at: number; room: string; user: string; participant_id: string }
  | { kind: 'leave'; at: number; room: string; user: string; participant_id: string }
  | { kind: 'stroke'; at: number; room: string; user: string; stroke_id: string }
  | { kind: 'hand'; at: number; room: string; user: string; raised: boolean };

export interface Refusal {
  at: number;
  op: string;
  /** The error code of the answer, or `timeout` / `closed` when none came. */
  code: string;
  user: string;
}

export interface Disconnect {
  at: number;
  user: string;
  /** WebSocket close code (4012: the server said `reconnect`). */
  code: number;
}

export interface LoadOptions {
  urls: string[];
  participants: number;
  roomSize: number;
  writeRate: number;
  mint: (user: string) => Promise<string>;
  prefix: string;
}

interface Member {
  user: string;
  room: string;
  url: string;
  /** Churners leave and join again; the others stay and write strokes and hands. */
  churner: boolean;
  client: SignalingClient | null;
  participantId: string | null;
  handRaised: boolean;
  busy: boolean;
  reconnecting: boolean;
}

const REQUEST_TIMEOUT_MS = 10_000;
const CHURNERS_PER_ROOM = 2;

export function errorCode(err: unknown): string {
  if (err instanceof SignalingError) return err.code;
  const msg = err instanceof Error ? err.message : String(err);
  if (msg.startsWith('no reply')) return 'timeout';
  if (msg.startsWith('connection closed')) return 'closed';
  return 'connect_failed';
}

export class SignalingLoad {
  readonly acked: AckedWrite[] = [];
  readonly refusals: Refusal[] = [];
  readonly disconnects: Disconnect[] = [];
  /** Hand operations whose outcome is unknown (no answer, or an error after which the row may or may not exist). */
  readonly handUncertain = new Set<string>();
  readonly members: Member[] = [];
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly opts: LoadOptions) {
    const rooms = Math.ceil(opts.participants / opts.roomSize);
    for (let i = 0; i < opts.participants; i++) {
      const r = i % rooms;
      const k = Math.floor(i / rooms);
      this.members.push({
        user: `${opts.prefix}u${r}-${k}`,
        room: `${opts.prefix}room-${r}`,
        url: opts.urls[i % opts.urls.length],
        churner: k >= opts.roomSize - CHURNERS_PER_ROOM,
        client: null,
        participantId: null,
        handRaised: false,
        busy: false,
        reconnecting: false,
      });
    }
  }

  get rooms(): string[] {
    return [...new Set(this.members.map((m) => m.room))];
  }

  /** Connects and joins everyone (10 at a time); returns how many joined. */
  async start(): Promise<number> {
    let next = 0;
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        while (next < this.members.length && !this.stopped) {
          const m = this.members[next++];
          await this.connect(m).catch(() => this.scheduleReconnect(m));
        }
      }),
    );
    this.timer = setInterval(() => this.tick(), 1000 / this.opts.writeRate);
    return this.joined();
  }

  joined(): number {
    return this.members.filter((m) => m.participantId !== null).length;
  }

  connected(): number {
    return this.members.filter((m) => m.client !== null).length;
  }

  private async connect(m: Member): Promise<void> {
    m.busy = true;
    try {
      await this.connectJoin(m);
    } finally {
      m.busy = false;
    }
  }

  private async connectJoin(m: Member): Promise<void> {
    const client = await SignalingClient.connect(m.url, { handshakeTimeout: 5000 });
    m.client = client;
    void client.closed.then((info) => this.onClosed(m, client, info.code));
    try {
      await client.request('auth', { token: await this.opts.mint(m.user) }, REQUEST_TIMEOUT_MS);
      await this.join(m);
    } catch (err) {
      void client.close();
      throw err;
    }
    if (m.participantId === null) {
      void client.close();
      throw new Error('join refused');
    }
  }

  private async join(m: Member): Promise<void> {
    try {
      const joined = await m.client!.request('join', { room: m.room }, REQUEST_TIMEOUT_MS);
      m.participantId = joined.participant_id;
      m.handRaised = joined.room_state.hands?.some((h) => h.user_id === m.user) ?? false;
      this.acked.push({ kind: 'join', at: Date.now(), room: m.room, user: m.user, participant_id: joined.participant_id });
    } catch (err) {
      this.refuse('join', err, m);
    }
  }

  /** A write acknowledged to someone outside the load (a probe): verified with the others. */
  record(write: AckedWrite): void {
    this.acked.push(write);
  }

  private refuse(op: string, err: unknown, m: Member): void {
    this.refusals.push({ at: Date.now(), op, code: errorCode(err), user: m.user });
  }

  private onClosed(m: Member, client: SignalingClient, code: number): void {
    if (m.client !== client) return;
    const wasJoined = m.participantId !== null;
    m.client = null;
    m.participantId = null;
    if (this.stopped) return;
    if (wasJoined) this.disconnects.push({ at: Date.now(), user: m.user, code });
    this.scheduleReconnect(m);
  }

  /** As a client app does: connect and join again, backing off from 0.5 s to 4 s. */
  private scheduleReconnect(m: Member): void {
    if (m.reconnecting || this.stopped) return;
    m.reconnecting = true;
    void (async () => {
      let delay = 500;
      while (!this.stopped && m.client === null) {
        await new Promise((r) => setTimeout(r, delay / 2 + Math.random() * (delay / 2)));
        if (this.stopped) break;
        try {
          await this.connect(m);
        } catch {
          m.client = null;
          delay = Math.min(4000, delay * 2);
        }
      }
      m.reconnecting = false;
    })();
  }

  private pick(filter: (m: Member) => boolean): Member | null {
    const candidates = this.members.filter((m) => !m.busy && m.client !== null && filter(m));
    return candidates.length > 0 ? candidates[Math.floor(Math.random() * candidates.length)] : null;
  }

  private tick(): void {
    const r = Math.random();
    const m = r < 0.3 ? this.pick((x) => x.churner) : this.pick((x) => !x.churner && x.participantId !== null);
    if (!m) return;
    m.busy = true;
    const op = r < 0.3 ? this.churn(m) : r < 0.75 ? this.stroke(m) : this.hand(m);
    void op.finally(() => (m.busy = false));
  }

  private async churn(m: Member): Promise<void> {
    if (m.participantId === null) return this.join(m);
    const pid = m.participantId;
    try {
      await m.client!.request('leave', {}, REQUEST_TIMEOUT_MS);
      m.participantId = null;
      this.acked.push({ kind: 'leave', at: Date.now(), room: m.room, user: m.user, participant_id: pid });
    } catch (err) {
      if (err instanceof SignalingError && err.code === 'not_in_room') m.participantId = null;
      this.refuse('leave', err, m);
    }
  }

  private async stroke(m: Member): Promise<void> {
    try {
      const { stroke_id } = await m.client!.request(
        'whiteboard-draw',
        {
          stroke: {
            kind: 'line',
            points: [
              [Math.random(), Math.random()],
              [Math.random(), Math.random()],
            ],
            by: m.user,
          },
        },
        REQUEST_TIMEOUT_MS,
      );
      this.acked.push({ kind: 'stroke', at: Date.now(), room: m.room, user: m.user, stroke_id });
    } catch (err) {
      this.refuse('whiteboard-draw', err, m);
    }
  }

  private async hand(m: Member): Promise<void> {
    const raise = !m.handRaised;
    const key = `${m.room}\u0000${m.user}`;
    try {
      if (raise) await m.client!.request('raise-hand', {}, REQUEST_TIMEOUT_MS);
      else await m.client!.request('lower-hand', {}, REQUEST_TIMEOUT_MS);
      m.handRaised = raise;
      this.handUncertain.delete(key);
      this.acked.push({ kind: 'hand', at: Date.now(), room: m.room, user: m.user, raised: raise });
    } catch (err) {
      // A refused lower of a hand that is not raised changes nothing; anything else leaves the row unknown.
      if (!(err instanceof SignalingError && (err.code === 'not_found' || err.code === 'forbidden' || err.code === 'rate_limited')))
        this.handUncertain.add(key);
      this.refuse(raise ? 'raise-hand' : 'lower-hand', err, m);
    }
  }

  /**
   * No more writes, reconnections or joins; waits (bounded) for those in
   * flight so the ledger is final. Everyone stays connected: a room that
   * empties ends its call, which clears its whiteboard and hands.
   */
  async quiesce(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    const deadline = Date.now() + REQUEST_TIMEOUT_MS + 6000;
    while (this.members.some((m) => m.busy || m.reconnecting) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  }

  async stop(): Promise<void> {
    await this.quiesce();
    await Promise.all(
      this.members.map((m) => Promise.race([m.client?.close(), new Promise((r) => setTimeout(r, 3000))]).catch(() => undefined)),
    );
  }
}
