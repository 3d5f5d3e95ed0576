// Attach and detach producers on a live RTP -> ffmpeg path. A running ffmpeg
// cannot gain inputs, so a new track means a new segment: a new pipeline
// with the new set starts first, and the old one stops `overlapMs` after the
// new one is listening, so no media falls in the gap (the segments overlap
// by about that much; each carries its start time). Detaching a track whose
// producer closed needs nothing (its stream just ends in the file); when no
// track is left the segment stops. Segments never restart on their own: an
// ffmpeg that dies is reported (segmentend with a non-requested exit) and
// the owner decides. ffmpeg also ends by itself (cleanly, code 0) after 10 s
// without any packet; the next attach then starts a new segment.

import { EventEmitter } from 'node:events';
import type { Logger } from '../server/kernel/logger.js';
import type { ProducerInfo } from '../server/kernel/media.js';
import type { FfmpegExit } from './ffmpegProcess.js';
import type { RtpPipeline } from './rtpPipeline.js';

/**
 * Thrown by startSegment when a producer it was given is already gone (it
 * closed while the segment was starting): not a failure; the detach that
 * follows changes the set, and the next try starts without it.
 */
export class TrackGoneError extends Error {
  override name = 'TrackGoneError';
}

export interface Segment {
  /** 0, 1, 2... in start order. */
  seq: number;
  producers: ProducerInfo[];
  pipeline: RtpPipeline;
}

export interface RollingPipelineEvents {
  segmentstart: [Segment];
  /** The segment's ffmpeg ended: rolled/stopped (exit.requested) or crashed. */
  segmentend: [Segment, FfmpegExit];
  /** A segment could not start (ffmpeg missing, ports, the room closed...). */
  error: [Error];
}

export interface RollingPipelineOptions {
  /** Starts a pipeline for exactly these producers (segment number `seq`). */
  startSegment: (producers: ProducerInfo[], seq: number) => Promise<RtpPipeline>;
  /** Changes arriving within this window make one roll (camera and mic usually come together). */
  settleMs?: number;
  overlapMs?: number;
  /**
   * Live streams: a detached track always makes a new segment, even when
   * its producer closed. Outputs that combine tracks (a grid, an encoder fed
   * one fixed input) stall on an input that stops, so they must roll.
   */
  rollWhenDetached?: boolean;
  log: Logger;
}

export class RollingPipeline extends EventEmitter<RollingPipelineEvents> {
  private readonly wanted = new Map<string, ProducerInfo>();
  private current: Segment | null = null;
  private seq = 0;
  private work: Promise<void> = Promise.resolve();
  private settleTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly ending = new Set<Promise<unknown>>();
  private goneRetries = 0;

  constructor(private readonly opts: RollingPipelineOptions) {
    super();
  }

  get segment(): Segment | null {
    return this.current;
  }

  get producers(): ProducerInfo[] {
    return [...this.wanted.values()];
  }

  /** Records this producer from the next segment on (now, if none runs). */
  attach(producer: ProducerInfo): void {
    if (this.stopped) return;
    if (this.wanted.has(producer.producer_id) && this.current) return;
    this.wanted.set(producer.producer_id, producer);
    this.schedule();
  }

  detach(producerId: string): void {
    if (!this.wanted.delete(producerId)) return;
    this.schedule();
  }

  /** Applies pending changes now (tests, and the first segment of a recording). */
  flush(): Promise<void> {
    if (this.settleTimer) {
      clearTimeout(this.settleTimer);
      this.settleTimer = null;
      this.enqueue();
    }
    return this.work;
  }

  /** Stops the current segment gracefully; resolves when every ffmpeg has exited. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.settleTimer) clearTimeout(this.settleTimer);
    this.settleTimer = null;
    await this.work;
    const seg = this.current;
    this.current = null;
    if (seg) await this.end(seg);
    await Promise.all(this.ending);
  }

  private schedule(): void {
    if (this.settleTimer) clearTimeout(this.settleTimer);
    this.settleTimer = setTimeout(() => {
      this.settleTimer = null;
      this.enqueue();
    }, this.opts.settleMs ?? 300);
  }

  private enqueue(): void {
    this.work = this.work
      .then(() => this.reconcile())
      .then(
        () => {
          this.goneRetries = 0;
        },
        (err) => {
          if (err instanceof TrackGoneError && this.goneRetries++ < 5) {
            this.opts.log.debug({ err: err.message }, 'a track went away while its segment started; trying again');
            this.schedule();
            return;
          }
          this.emit('error', err as Error);
        },
      );
  }

  private async reconcile(): Promise<void> {
    if (this.stopped) return;
    const cur = this.current;
    const wanted = [...this.wanted.values()];
    if (wanted.length === 0) {
      if (cur) {
        this.current = null;
        await this.end(cur);
      }
      return;
    }
    if (cur && !this.needsRoll(cur, wanted)) return;
    const seq = this.seq++;
    const pipeline = await this.opts.startSegment(wanted, seq);
    if (this.stopped) {
      // stop() came while it was starting: keep nothing running.
      await pipeline.stop();
      return;
    }
    const segment: Segment = { seq, producers: wanted, pipeline };
    this.current = segment;
    pipeline.once('exit', (exit) => {
      if (this.current === segment) this.current = null;
      this.emit('segmentend', segment, exit);
    });
    this.emit('segmentstart', segment);
    if (cur) {
      // Let the new segment receive for a while before the old one stops.
      const old = cur;
      const ending = new Promise((r) => setTimeout(r, this.opts.overlapMs ?? 1000)).then(() => this.end(old));
      this.ending.add(ending);
      void ending.finally(() => this.ending.delete(ending));
    }
  }

  /** A roll is needed for a track not recorded yet, or a detached track still sending. */
  private needsRoll(cur: Segment, wanted: ProducerInfo[]): boolean {
    const have = new Set(cur.producers.map((p) => p.producer_id));
    if (wanted.some((p) => !have.has(p.producer_id))) return true;
    const wantedIds = new Set(wanted.map((p) => p.producer_id));
    return cur.pipeline.tracks.some((t) => !wantedIds.has(t.producer.producer_id) && (this.opts.rollWhenDetached || !t.consumer.closed));
  }

  private async end(segment: Segment): Promise<void> {
    try {
      await segment.pipeline.stop();
    } catch (err) {
      this.opts.log.warn({ err, seq: segment.seq }, 'segment stop failed');
    }
  }
}
