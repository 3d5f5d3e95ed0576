// A MediaBot that stays in its room through node failures, drains and
// restarts, as the browser SDK does: when its connection drops (or the server
// sends `reconnect`, close code 4012), it connects again, trying the given
// node URLs in turn (a load balancer in front does the same with one URL),
// joins the room again, republishes what it published, and consumes every
// producer of the room. Used by the cluster tests and the failover benchmark.

import { EventEmitter } from 'node:events';
import type { ReceivedTrack } from './mediaBot.js';
import { MediaBot } from './mediaBot.js';
import { SignalingError } from './signalingClient.js';

export interface ResilientBotOptions {
  /** Node URLs to try in turn (one URL behind a load balancer). */
  urls: string[];
  /** A fresh token per attempt. */
  token: () => Promise<string>;
  room: string;
  publish?: { video?: boolean; audio?: boolean };
  /** Consume every producer of the other participants (default true). */
  consumeAll?: boolean;
  /** First retry after this long, doubling up to 2 s (default 200 ms). */
  initialDelayMs?: number;
}

/** Close codes after which reconnecting cannot help (as in the browser SDK). */
const FINAL_CLOSE_CODES = new Set([1000, 4001, 4009]);

export interface RejoinEvent {
  url: string;
  participantId: string;
  /** Milliseconds from losing the connection to being joined again. */
  afterMs: number;
  attempts: number;
}

export class ResilientBot extends EventEmitter<{ rejoined: [RejoinEvent]; lost: [{ code: number; reason: string }] }> {
  bot!: MediaBot;
  /** The URL index of the current connection. */
  urlIndex = 0;
  rejoins = 0;
  private stopped = false;
  /** Received tracks of the current connection, by producer id. */
  readonly received = new Map<string, ReceivedTrack>();

  private constructor(private readonly opts: ResilientBotOptions) {
    super();
  }

  static async start(opts: ResilientBotOptions, urlIndex = 0): Promise<ResilientBot> {
    const rb = new ResilientBot(opts);
    rb.urlIndex = urlIndex;
    await rb.connect(opts.urls[urlIndex]!);
    return rb;
  }

  get participantId(): string {
    return this.bot.participantId;
  }

  /** Frames decoded on the current connection, over all tracks. */
  frames(kind?: 'audio' | 'video'): number {
    let n = 0;
    for (const r of this.received.values()) if (!kind || r.consumer.kind === kind) n += r.frames;
    return n;
  }

  private async connect(url: string): Promise<void> {
    const bot = await MediaBot.join(url, await this.opts.token(), this.opts.room);
    this.bot = bot;
    this.received.clear();
    void bot.signaling.closed.then((info) => this.onClosed(bot, info.code, info.reason));
    if (this.opts.publish?.video) await bot.publishVideo({ width: 320, height: 180, fps: 15 });
    if (this.opts.publish?.audio) await bot.publishAudio();
    if (this.opts.consumeAll ?? true) {
      for (const p of bot.roomProducers) void this.consume(bot, p.producer_id);
      void this.watchProducers(bot);
    }
  }

  private async consume(bot: MediaBot, producerId: string): Promise<void> {
    try {
      const track = await bot.consume(producerId);
      if (bot === this.bot) this.received.set(producerId, track);
    } catch {
      // the producer closed meanwhile, or the connection dropped: the rejoin consumes again
    }
  }

  private async watchProducers(bot: MediaBot): Promise<void> {
    while (bot === this.bot && !this.stopped) {
      try {
        const added = await bot.signaling.next('producer-added', (p) => p.participant_id !== bot.participantId, 3_600_000);
        void this.consume(bot, added.producer_id);
      } catch {
        return; // closed
      }
    }
  }

  private async onClosed(bot: MediaBot, code: number, reason: string): Promise<void> {
    if (bot !== this.bot || this.stopped) return;
    this.emit('lost', { code, reason });
    if (FINAL_CLOSE_CODES.has(code)) return;
    await bot.close().catch(() => {});
    const lostAt = Date.now();
    let delay = this.opts.initialDelayMs ?? 200;
    for (let attempt = 1; !this.stopped; attempt++) {
      // 4012 and crashes: the next node first (a load balancer would pick another healthy one).
      this.urlIndex = (this.urlIndex + 1) % this.opts.urls.length;
      const url = this.opts.urls[this.urlIndex]!;
      try {
        await this.connect(url);
        this.rejoins++;
        this.emit('rejoined', { url, participantId: this.bot.participantId, afterMs: Date.now() - lostAt, attempts: attempt });
        return;
      } catch (err) {
        if (err instanceof SignalingError && (err.code === 'unauthorized' || err.code === 'banned' || err.code === 'forbidden')) return;
        await new Promise((r) => setTimeout(r, delay / 2 + Math.random() * (delay / 2)));
        delay = Math.min(2000, delay * 2);
      }
    }
  }

  async close(): Promise<void> {
    this.stopped = true;
    await this.bot?.close().catch(() => {});
  }
}
