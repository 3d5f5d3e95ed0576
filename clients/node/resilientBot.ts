// A MediaBot that stays in its room through node failures, drains and
// restarts, as the browser SDK does: when its connection drops (or the server
// sends `reconnect`, close code 4012), it connects again, trying the given
// node URLs in turn (a load balancer in front does the same with one URL),
// joins the room again, republishes what it published, and consumes every
// producer of the room. After `sfu-reset` (its media worker died) it rebuilds
// its media on the same connection the same way: new transports, publish
// again, consume again. Used by the cluster tests and the failover and faults
// benchmarks.

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

export interface ResetEvent {
  reason: string;
  /** Milliseconds from the `sfu-reset` to publishing again (null when republishing failed). */
  republishedAfterMs: number | null;
}

export class ResilientBot extends EventEmitter<{ rejoined: [RejoinEvent]; lost: [{ code: number; reason: string }]; reset: [ResetEvent] }> {
  bot!: MediaBot;
  /** The URL index of the current connection. */
  urlIndex = 0;
  rejoins = 0;
  /** `sfu-reset` events handled. */
  resets = 0;
  private stopped = false;
  /** Received tracks of the current connection, by producer id. */
  readonly received = new Map<string, ReceivedTrack>();
  /** The other participants' producers in the room (joined state, producer-added, producer-removed). */
  private readonly roomProducers = new Set<string>();

  private constructor(private readonly opts: ResilientBotOptions) {
    super();
  }

  static async start(opts: ResilientBotOptions, urlIndex = 0): Promise<ResilientBot> {
    const rb = new ResilientBot(opts);
    rb.urlIndex = urlIndex;
    await rb.connect(opts.urls[urlIndex]);
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
    this.roomProducers.clear();
    for (const p of bot.roomProducers) this.roomProducers.add(p.producer_id);
    void bot.signaling.closed.then((info) => this.onClosed(bot, info.code, info.reason));
    void this.watchResets(bot);
    await this.publish(bot);
    if (this.opts.consumeAll ?? true) {
      for (const id of this.roomProducers) void this.consume(bot, id);
      void this.watchProducers(bot);
    }
  }

  private async publish(bot: MediaBot): Promise<void> {
    if (this.opts.publish?.video) await bot.publishVideo({ width: 320, height: 180, fps: 15 });
    if (this.opts.publish?.audio) await bot.publishAudio();
  }

  /** `sfu-reset`: everything on the SFU is gone; rebuild on the same connection (as the browser SDK does). */
  private async watchResets(bot: MediaBot): Promise<void> {
    while (bot === this.bot && !this.stopped) {
      let reason: string;
      try {
        reason = (await bot.signaling.next('sfu-reset', () => true, 3_600_000)).reason;
      } catch {
        return; // closed: the rejoin starts a new watch
      }
      if (bot !== this.bot || this.stopped) return;
      const at = Date.now();
      this.resets++;
      for (const r of this.received.values()) r.stop();
      this.received.clear();
      bot.resetTransports();
      let republishedAfterMs: number | null = null;
      // The replacement worker may still be starting: a few tries, backing off (0.25 s to 2 s).
      for (let attempt = 0; attempt < 5 && bot === this.bot && !this.stopped; attempt++) {
        try {
          await this.publish(bot);
          republishedAfterMs = Date.now() - at;
          break;
        } catch {
          bot.resetTransports();
          await new Promise((r) => setTimeout(r, Math.min(2000, 250 * 2 ** attempt)));
        }
      }
      if (this.opts.consumeAll ?? true) for (const id of this.roomProducers) void this.consume(bot, id);
      this.emit('reset', { reason, republishedAfterMs });
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
    void this.watchRemovals(bot);
    while (bot === this.bot && !this.stopped) {
      try {
        const added = await bot.signaling.next('producer-added', (p) => p.participant_id !== bot.participantId, 3_600_000);
        this.roomProducers.add(added.producer_id);
        void this.consume(bot, added.producer_id);
      } catch {
        return; // closed
      }
    }
  }

  private async watchRemovals(bot: MediaBot): Promise<void> {
    while (bot === this.bot && !this.stopped) {
      try {
        const removed = await bot.signaling.next('producer-removed', () => true, 3_600_000);
        this.roomProducers.delete(removed.producer_id);
        this.received.get(removed.producer_id)?.stop();
        this.received.delete(removed.producer_id);
      } catch {
        return; // closed
      }
    }
  }

  private async onClosed(bot: MediaBot, code: number, reason: string): Promise<void> {
    if (bot !== this.bot || this.stopped) return;
    this.emit('lost', { code, reason });
    if (FINAL_CLOSE_CODES.has(code)) return;
    await bot.close().catch(() => {}); // replacing it: a half-closed old bot changes nothing
    const lostAt = Date.now();
    let delay = this.opts.initialDelayMs ?? 200;
    for (let attempt = 1; !this.stopped; attempt++) {
      // 4012 and crashes: the next node first (a load balancer would pick another healthy one).
      this.urlIndex = (this.urlIndex + 1) % this.opts.urls.length;
      const url = this.opts.urls[this.urlIndex];
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
    await this.bot?.close().catch(() => {}); // stopping: nothing waits for a clean close
  }
}
