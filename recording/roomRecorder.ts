// The media side of one recording: watches a room's MediaRoom and keeps the
// right ffmpeg pipelines running. Tracks mode: one RollingPipeline per
// participant with its audio and video in one ffmpeg (one file per segment,
// A/V in sync through the RTCP sender reports ffmpeg gets on the same port).
// Composite mode: one RollingPipeline over every track of the room.
//
// Only producers that send are attached: a paused producer is detached (its
// segment rolls to one without it) and attached again when it resumes. A
// track that sends nothing would stall ffmpeg: its probe never learns the
// video size, and in composite mode the grid and the mix wait for it.

import { EventEmitter } from 'node:events';
import path from 'node:path';
import type { Logger } from '../server/kernel/logger.js';
import type { MediaRoom } from '../sfu/mediaRoom.js';
import type { ProducerInfo } from '../server/kernel/media.js';
import type { FfmpegExit } from './ffmpegProcess.js';
import { compositeOutput, copyFormat, copyOutput, type CompositeLayout } from './outputs.js';
import { RollingPipeline, TrackGoneError } from './rollingPipeline.js';
import { AppError } from '../server/kernel/errors.js';
import type { RecordingMode, TrackInfo } from '../server/kernel/media.js';
import { RtpPipeline } from './rtpPipeline.js';

export interface RecordedFile {
  /** File name inside the recording's directory. */
  key: string;
  path: string;
  kind: 'participant' | 'composite';
  participantId: string | null;
  seq: number;
  tracks: TrackInfo[];
  contentType: string;
  startedAt: Date;
}

export interface RoomRecorderEvents {
  filestart: [RecordedFile];
  /** The file's ffmpeg ended; exit.reason is set when it crashed. */
  fileend: [RecordedFile, FfmpegExit];
  /** A segment could not start. */
  error: [Error];
}

export interface RoomRecorderOptions {
  mode: RecordingMode;
  /** The recording's own directory (ffmpeg writes here). */
  dir: string;
  ffmpegPath?: string;
  composite?: CompositeLayout;
  log: Logger;
}

export class RoomRecorder extends EventEmitter<RoomRecorderEvents> {
  private media: MediaRoom | null = null;
  private readonly groups = new Map<string, RollingPipeline>();
  private readonly unwatch: Array<() => void> = [];
  private stopped = false;

  constructor(private readonly opts: RoomRecorderOptions) {
    super();
  }

  /** Starts recording what this MediaRoom publishes (now and later). */
  attach(media: MediaRoom): void {
    if (this.stopped || this.media === media) return;
    this.detachMedia();
    this.media = media;
    const on = <K extends 'produceradd' | 'producerclose' | 'producerpause' | 'producerresume'>(
      event: K,
      fn: (p: ProducerInfo) => void,
    ) => {
      media.observer.on(event, fn as never);
      this.unwatch.push(() => media.observer.off(event, fn as never));
    };
    on('produceradd', (p) => this.consider(p));
    on('producerresume', (p) => this.consider(p));
    on('producerpause', (p) => this.groupOf(p)?.detach(p.producer_id));
    on('producerclose', (p) => this.groupOf(p)?.detach(p.producer_id));
    const closed = () => {
      if (this.media === media) this.detachMedia();
    };
    media.observer.once('close', closed);
    this.unwatch.push(() => media.observer.off('close', closed));
    for (const p of media.producerList()) this.consider(p);
  }

  /** Applies pending attach/detach changes now (the first segment of a recording starts at once). */
  async flush(): Promise<void> {
    await Promise.all([...this.groups.values()].map((g) => g.flush()));
  }

  /** Everything being recorded right now, by file. */
  get activeFiles(): number {
    return [...this.groups.values()].filter((g) => g.segment).length;
  }

  /** Stops every pipeline gracefully (files finalized). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.detachMedia();
    await Promise.all([...this.groups.values()].map((g) => g.stop()));
  }

  private detachMedia(): void {
    for (const off of this.unwatch.splice(0)) off();
    this.media = null;
  }

  private consider(p: ProducerInfo): void {
    if (this.stopped || p.paused) return;
    const key = this.opts.mode === 'composite' ? 'composite' : p.participant_id;
    let group = this.groups.get(key);
    if (!group) {
      group = this.newGroup(key);
      this.groups.set(key, group);
    }
    group.attach(p);
  }

  private groupOf(p: ProducerInfo): RollingPipeline | undefined {
    return this.groups.get(this.opts.mode === 'composite' ? 'composite' : p.participant_id);
  }

  private newGroup(key: string): RollingPipeline {
    const composite = this.opts.mode === 'composite';
    const files = new Map<number, RecordedFile>();
    const group = new RollingPipeline({
      log: this.opts.log,
      startSegment: async (producers, seq) => {
        const media = this.media;
        if (!media) throw new TrackGoneError('the room has no media now');
        const live = new Set(
          media
            .producerList()
            .filter((p) => !p.paused)
            .map((p) => p.producer_id),
        );
        if (producers.some((p) => !live.has(p.producer_id))) throw new TrackGoneError('a producer closed or paused meanwhile');
        let file: RecordedFile | null = null;
        const name = `${key}-${seq}`;
        const pipeline = await RtpPipeline.start({
          media,
          producers,
          workDir: this.opts.dir,
          name,
          log: this.opts.log,
          ...(this.opts.ffmpegPath ? { ffmpegPath: this.opts.ffmpegPath } : {}),
          output: (command, tracks) => {
            const format = composite
              ? { extension: 'webm' as const, contentType: tracks.some((t) => t.kind === 'video') ? 'video/webm' : 'audio/webm' }
              : copyFormat(tracks);
            const fileName = `${name}.${format.extension}`;
            const full = path.join(this.opts.dir, fileName);
            file = {
              key: fileName,
              path: full,
              kind: composite ? 'composite' : 'participant',
              participantId: composite ? null : key,
              seq,
              contentType: format.contentType,
              startedAt: new Date(),
              tracks: tracks.map((t) => ({
                kind: t.kind,
                source: t.producer.source,
                codec: t.mimeType,
                producer_id: t.producer.producer_id,
              })),
            };
            if (composite) compositeOutput(full, this.opts.composite)(command, tracks);
            else copyOutput(full, copyFormat(tracks))(command, tracks);
          },
        }).catch((err) => {
          // createPlainConsumer: the producer closed between our check and its consumer.
          if (err instanceof AppError && err.code === 'not_found') throw new TrackGoneError(err.message);
          throw err;
        });
        // FfmpegProcess calls output() in its constructor, so the file is known once start() resolves.
        if (!file) throw new AppError('internal_error', `recording segment ${name} started without an output file`);
        files.set(seq, file);
        return pipeline;
      },
    });
    group.on('segmentstart', (seg) => {
      const file = files.get(seg.seq);
      if (!file) return;
      file.startedAt = new Date(seg.pipeline.startedAt);
      this.emit('filestart', file);
    });
    group.on('segmentend', (seg, exit) => {
      const file = files.get(seg.seq);
      files.delete(seg.seq);
      if (file) this.emit('fileend', file, exit);
    });
    group.on('error', (err) => this.emit('error', err));
    return group;
  }
}
