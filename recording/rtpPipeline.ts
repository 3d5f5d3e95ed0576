// A running RTP -> ffmpeg path for a fixed set of producers: ports, plain
// consumers, the SDP file, the ffmpeg child, and keyframe requests once it
// listens. Copy-mode recording and transcoding outputs (composite, HLS) both
// use it and differ only in the ffmpeg output they configure.
//
// ffmpeg cannot take new inputs while running, so a different set of
// producers means a new pipeline (see RollingPipeline).

import { EventEmitter } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { FfmpegCommand } from 'fluent-ffmpeg';
import type { Logger } from '../server/kernel/logger.js';
import type { MediaRoom } from '../sfu/mediaRoom.js';
import type { ProducerInfo } from '../server/kernel/media.js';
import { FfmpegProcess, type FfmpegExit } from './ffmpegProcess.js';
import { RtpInput, type RtpTrack } from './rtpInput.js';

export interface RtpPipelineOptions {
  media: MediaRoom;
  producers: readonly ProducerInfo[];
  /** Where the SDP file goes (created if missing). */
  workDir: string;
  /** Base name of the SDP file, unique within workDir. */
  name: string;
  /**
   * Configures ffmpeg's output. Input stream i is tracks[i] (audio tracks
   * first, then video), so `-map 0:${i}` picks one track.
   */
  output: (command: FfmpegCommand, tracks: readonly RtpTrack[]) => void;
  inputOptions?: string[];
  ffmpegPath?: string;
  /** Address ffmpeg listens on and mediasoup sends to (loopback by default). */
  ip?: string;
  log: Logger;
  /** How long ffmpeg may take to bind its ports. */
  listenTimeoutMs?: number;
  /** Extra keyframe requests after the first, in ms from start (in case the first PLI raced ffmpeg's probe). */
  keyFrameRetriesMs?: readonly number[];
}

export interface RtpPipelineEvents {
  /** ffmpeg ended: asked to (exit.requested) or not (a crash: exit.reason says why). */
  exit: [FfmpegExit];
  /** A producer of this pipeline closed; ffmpeg goes on with the rest. */
  trackclose: [RtpTrack];
}

const BIND_RETRIES = 3;

export class RtpPipeline extends EventEmitter<RtpPipelineEvents> {
  /** When ffmpeg was listening and the consumers were resumed (ms since epoch). */
  readonly startedAt = Date.now();
  private readonly timers: NodeJS.Timeout[] = [];

  private constructor(
    readonly input: RtpInput,
    readonly ffmpeg: FfmpegProcess,
    private readonly log: Logger,
    keyFrameRetriesMs: readonly number[],
  ) {
    super();
    input.on('trackclose', (track) => this.emit('trackclose', track));
    const onExit = (exit: FfmpegExit) => {
      for (const t of this.timers) clearTimeout(t);
      input.close();
      if (!exit.requested || exit.reason)
        this.log.warn(
          { pid: ffmpeg.pid, code: exit.code, signal: exit.signal, reason: exit.reason, stderr: exit.stderrTail.slice(-8) },
          'ffmpeg ended unexpectedly',
        );
      this.emit('exit', exit);
    };
    const exited = ffmpeg.exit;
    if (exited)
      setImmediate(() => onExit(exited)); // died while we were starting the media
    else ffmpeg.once('exit', onExit);
    for (const ms of keyFrameRetriesMs) this.timers.push(setTimeout(() => void input.requestKeyFrames(), ms));
  }

  /**
   * Opens the consumers, writes the SDP, starts ffmpeg and, once it listens,
   * starts the media and requests keyframes. Retries with new ports when
   * another process took one in between; throws when ffmpeg cannot start.
   */
  static async start(opts: RtpPipelineOptions): Promise<RtpPipeline> {
    await mkdir(opts.workDir, { recursive: true });
    let lastReason = 'ffmpeg did not start';
    for (let attempt = 1; attempt <= BIND_RETRIES; attempt++) {
      const input = await RtpInput.open(opts.media, opts.producers, opts.ip);
      const sdpPath = path.join(opts.workDir, `${opts.name}.sdp`);
      let ffmpeg: FfmpegProcess | null = null;
      try {
        await writeFile(sdpPath, input.sdp(opts.name));
        ffmpeg = new FfmpegProcess({
          sdpPath,
          ...(opts.ffmpegPath ? { ffmpegPath: opts.ffmpegPath } : {}),
          ...(opts.inputOptions ? { inputOptions: opts.inputOptions } : {}),
          output: (command) => opts.output(command, input.tracks),
        });
        ffmpeg.run();
        const listening = await ffmpeg.waitListening(input.ports, opts.listenTimeoutMs ?? 15_000);
        if (listening) {
          const pipeline = new RtpPipeline(input, ffmpeg, opts.log, opts.keyFrameRetriesMs ?? [1000, 3000]);
          await input.start();
          opts.log.debug({ pid: ffmpeg.pid, tracks: input.tracks.map((t) => t.mimeType), ports: input.ports }, 'rtp pipeline started');
          return pipeline;
        }
        const exit = ffmpeg.exit;
        lastReason = exit?.reason ?? 'ffmpeg did not bind its RTP ports in time';
        ffmpeg.kill();
        await ffmpeg.waitExit();
        input.close();
        const bindRace = /address already in use|bind failed/i.test((exit?.stderrTail ?? []).join('\n'));
        if (!bindRace) break;
        opts.log.warn({ attempt, reason: lastReason }, 'ffmpeg could not bind its ports; retrying with new ones');
      } catch (err) {
        ffmpeg?.kill();
        input.close();
        throw err;
      }
    }
    throw new Error(lastReason);
  }

  get tracks(): readonly RtpTrack[] {
    return this.input.tracks;
  }

  requestKeyFrames(): Promise<void> {
    return this.input.requestKeyFrames();
  }

  /**
   * Graceful stop: an RTCP BYE per track ends ffmpeg's input (it finalizes
   * the file and exits within ~100 ms); SIGINT if it has not gone after
   * `byeWaitMs`. The consumers close after.
   */
  async stop(graceMs?: number, byeWaitMs = 2000): Promise<FfmpegExit> {
    if (!this.ffmpeg.exit) {
      this.ffmpeg.expectExit();
      await this.input.bye().catch(() => {}); // ffmpeg is told to stop either way; BYE only lets it finish sooner
      await Promise.race([this.ffmpeg.waitExit(), new Promise((r) => setTimeout(r, byeWaitMs))]);
    }
    const exit = await this.ffmpeg.stop(graceMs);
    this.input.close();
    return exit;
  }

  kill(): void {
    this.ffmpeg.kill();
    this.input.close();
  }
}
