// The media load: rooms of --media-room-size WebRTC bots (ResilientBot: VP8 +
// Opus published, every other bot of the room consumed; reconnects and
// rebuilds after `sfu-reset` on its own). Every 500 ms each bot is sampled:
// it "has media" when the video of every other bot of its room advanced.

import { ResilientBot } from '../../clients/node/resilientBot.js';

interface BotState {
  name: string;
  room: string;
  bot: ResilientBot;
  /** Video frames per producer at the previous sample. */
  last: Map<string, number>;
  timeline: Array<{ at: number; ok: boolean }>;
  resets: number[];
  lost: number[];
}

export interface MediaWindow {
  bots: number;
  /** Bots that got `sfu-reset` in the window. */
  reset: number;
  /** Bots whose connection dropped in the window. */
  disconnected: number;
  /** Bots that had a sample without media in the window. */
  lost_media: number;
  /** ms from the injection until the last affected bot had media again (null: one never did). */
  back_in_media_ms: number | null;
  per_bot_back_in_media_ms: Record<string, number | null>;
}

export class MediaLoad {
  readonly bots: BotState[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly opts: { urls: string[]; bots: number; roomSize: number; mint: (user: string) => Promise<string>; prefix: string },
  ) {}

  get rooms(): string[] {
    return [...new Set(this.bots.map((b) => b.room))];
  }

  async start(): Promise<void> {
    const { bots, roomSize, urls, prefix } = this.opts;
    for (let i = 0; i < bots; i++) {
      const room = `${prefix}media-${Math.floor(i / roomSize)}`;
      const name = `${prefix}bot-${i}`;
      const bot = await ResilientBot.start(
        { urls, room, token: () => this.opts.mint(name), publish: { video: true, audio: true } },
        i % urls.length,
      );
      const state: BotState = { name, room, bot, last: new Map(), timeline: [], resets: [], lost: [] };
      bot.on('reset', () => state.resets.push(Date.now()));
      bot.on('lost', () => state.lost.push(Date.now()));
      this.bots.push(state);
    }
    this.timer = setInterval(() => this.sample(), 500);
  }

  private peers(b: BotState): number {
    return this.bots.filter((x) => x.room === b.room).length - 1;
  }

  private sample(): void {
    const at = Date.now();
    for (const b of this.bots) {
      let advancing = 0;
      const now = new Map<string, number>();
      for (const [producerId, track] of b.bot.received) {
        if (track.consumer.kind !== 'video') continue;
        now.set(producerId, track.frames);
        if (track.frames > (b.last.get(producerId) ?? Infinity)) advancing++;
      }
      b.last = now;
      b.timeline.push({ at, ok: advancing >= this.peers(b) });
    }
  }

  /** True when every bot had media in the last `samples` samples. */
  allHaveMedia(samples = 3): boolean {
    return this.bots.every((b) => b.timeline.length >= samples && b.timeline.slice(-samples).every((s) => s.ok));
  }

  /** Waits (bounded) until every bot has media; false on timeout. */
  async waitAllMedia(timeoutMs: number, stopped: () => boolean): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.allHaveMedia()) {
      if (Date.now() > deadline || stopped()) return false;
      await new Promise((r) => setTimeout(r, 250));
    }
    return true;
  }

  window(from: number, to: number): MediaWindow {
    const per: Record<string, number | null> = {};
    let reset = 0;
    let disconnected = 0;
    let lostMedia = 0;
    let worst: number | null = 0;
    for (const b of this.bots) {
      const samples = b.timeline.filter((s) => s.at >= from && s.at <= to);
      if (b.resets.some((t) => t >= from && t <= to)) reset++;
      if (b.lost.some((t) => t >= from && t <= to)) disconnected++;
      const lastBad = samples.findLastIndex((s) => !s.ok);
      if (lastBad < 0) continue;
      lostMedia++;
      const back = samples[lastBad + 1];
      per[b.name] = back ? back.at - from : null;
      worst = worst === null || !back ? null : Math.max(worst, back.at - from);
    }
    return {
      bots: this.bots.length,
      reset,
      disconnected,
      lost_media: lostMedia,
      back_in_media_ms: lostMedia === 0 ? 0 : worst,
      per_bot_back_in_media_ms: per,
    };
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await Promise.all(this.bots.map((b) => Promise.race([b.bot.close(), new Promise((r) => setTimeout(r, 5000))]).catch(() => undefined)));
  }
}
