// The media half of a live stream. What is shown (one participant's audio
// and video) comes from mediasoup through RtpPipeline (PlainTransport
// consumers -> SDP -> ffmpeg), transcoded to H.264 + AAC and cut into HLS
// segments. A missing track is filled (silence, or a black picture) so every
// stream has both, as players expect.
//
// ffmpeg cannot change inputs while it runs, so showing someone else (or a
// track they added) starts a new ffmpeg: a new *part* with its own playlist
// (pN.m3u8) and segments (pN_00000.ts...), through RollingPipeline (the new
// part starts, the old one stops a second after the new one listens). The
// playlist players get is composed here from the parts, in order, with an
// EXT-X-DISCONTINUITY at each part boundary and one media sequence across
// parts, so a switch is seamless for a player (a short gap, no restart).
//
// The stream is `live` once the first part lists a segment. An ffmpeg that
// dies is a failure; media that goes away (the room's SFU closed) ends the
// source.

import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../../server/kernel/config.js';
import { AppError } from '../../server/kernel/errors.js';
import type { LivePipeline, PipelineFactory, PipelineRequest } from './livePipeline.js';
import type { Logger } from '../../server/kernel/logger.js';
import type { ProducerInfo } from '../../server/kernel/media.js';
import { compositeFilter } from '../outputs.js';
import { RollingPipeline, TrackGoneError } from '../rollingPipeline.js';
import { RtpPipeline } from '../rtpPipeline.js';

const LIVE_POLL_MS = 500;
const KEYFRAME_EVERY_MS = 2000;
/** A composed playlist is reused this long (players of one stream poll it at once). */
const PLAYLIST_CACHE_MS = 250;
/** Names of the files players may fetch. */
export const SEGMENT_FILE = /^p[0-9]{1,6}_[0-9]{1,9}\.ts$/;

/**
 * ffmpeg output options for one part (exported for the docs and the
 * benchmark). `map` names the video and audio to encode: input streams
 * (`0:1`, scaled down to LIVE_MAX_HEIGHT) or filter outputs (`[vgrid]`).
 */
export function hlsOutputOptions(cfg: Config['live'], dir: string, part: number, map: { video: string; audio: string }): string[] {
  const height = `trunc(min(${cfg.maxHeight}\\,ih)/2)*2`;
  const filtered = map.video.startsWith('[');
  return [
    '-map',
    map.video,
    '-map',
    map.audio,
    ...(filtered ? [] : ['-vf', `scale=-2:${height}`]),
    '-c:v',
    'libx264',
    '-preset',
    'veryfast',
    '-tune',
    'zerolatency',
    '-profile:v',
    'main',
    '-pix_fmt',
    'yuv420p',
    '-r',
    '25',
    '-fps_mode',
    'cfr',
    '-b:v',
    `${cfg.videoBitrateKbps}k`,
    '-maxrate',
    `${cfg.videoBitrateKbps}k`,
    '-bufsize',
    `${cfg.videoBitrateKbps * 2}k`,
    // A keyframe at every segment boundary: each segment starts decodable.
    '-force_key_frames',
    `expr:gte(t,n_forced*${cfg.segmentSeconds})`,
    '-c:a',
    'aac',
    '-b:a',
    `${cfg.audioBitrateKbps}k`,
    '-ar',
    '48000',
    '-ac',
    '2',
    '-f',
    'hls',
    '-hls_time',
    String(cfg.segmentSeconds),
    '-hls_list_size',
    String(cfg.playlistSize),
    '-hls_flags',
    'delete_segments+independent_segments+temp_file',
    '-hls_segment_filename',
    path.join(dir, `p${part}_%05d.ts`),
  ];
}

interface Parsed {
  mediaSequence: number;
  segments: Array<{ duration: number; uri: string }>;
}

/** The parts of an ffmpeg HLS playlist we compose from. */
export function parsePlaylist(text: string): Parsed {
  let mediaSequence = 0;
  const segments: Parsed['segments'] = [];
  let duration: number | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) mediaSequence = Number(line.slice(22)) || 0;
    else if (line.startsWith('#EXTINF:')) duration = Number.parseFloat(line.slice(8));
    else if (line && !line.startsWith('#') && duration !== null) {
      segments.push({ duration, uri: line });
      duration = null;
    }
  }
  return { mediaSequence, segments };
}

interface Part {
  seq: number;
  producers: ProducerInfo[];
  pipeline: RtpPipeline;
  exited: boolean;
}

export class HlsStreamMedia implements LivePipeline {
  private readonly rolling: RollingPipeline;
  private readonly parts: Part[] = [];
  private stopping = false;
  private stopped = false;
  private live = false;
  private poll: NodeJS.Timeout | null = null;
  private cache: { at: number; text: string | null } | null = null;
  private readonly log: Logger;

  constructor(
    private readonly cfg: Config['live'],
    private readonly req: PipelineRequest,
    log: Logger,
  ) {
    this.log = log.child({ room: req.room, stream_id: req.streamId });
    this.rolling = new RollingPipeline({
      startSegment: (producers, seq) => this.startPart(producers, seq),
      settleMs: 300,
      overlapMs: 1000,
      rollWhenDetached: true, // an encoder whose input stops stalls the whole part
      log: this.log,
    });
    this.rolling.on('segmentstart', (segment) => {
      this.log.debug({ part: segment.seq, pid: segment.pipeline.ffmpeg.pid }, 'live part started');
      this.parts.push({ seq: segment.seq, producers: segment.producers, pipeline: segment.pipeline, exited: false });
      this.cache = null;
    });
    this.rolling.on('segmentend', (segment, exit) => {
      const part = this.parts.find((p) => p.seq === segment.seq);
      if (part) part.exited = true;
      this.log.debug({ part: segment.seq, code: exit.code, signal: exit.signal, requested: exit.requested }, 'live part ended');
      this.cache = null;
      // ffmpeg ends cleanly by itself after 10 s without a packet (everything shown is paused): not a
      // failure; the next part starts when media comes back (LiveService re-shows on producer resume).
      if (!this.stopping && !exit.requested && exit.reason !== null) req.onFailed(exit.reason);
    });
    this.rolling.on('error', (err) => {
      // A new part could not start: the running one (if any) goes on showing the previous source.
      this.log.error({ err }, 'live part could not start');
      if (!this.stopping && !this.rolling.segment) req.onFailed(err.message);
    });
    req.media.observer.once('close', this.onRoomClose);
  }

  private readonly onRoomClose = () => {
    if (!this.stopping) this.req.onSourceGone('room-closed');
  };

  get pid(): number | null {
    return this.rolling.segment?.pipeline.ffmpeg.pid ?? null;
  }

  /** What the stream shows now (the current part's producers). */
  get showing(): ProducerInfo[] {
    return this.rolling.producers;
  }

  private async startPart(producers: ProducerInfo[], seq: number): Promise<RtpPipeline> {
    const hasAudio = producers.some((p) => p.kind === 'audio');
    const hasVideo = producers.some((p) => p.kind === 'video');
    const { dir } = this.req;
    // A producer that closed or paused meanwhile: not a failure; the change that follows brings a new set.
    const live = new Set(
      this.req.media
        .producerList()
        .filter((p) => !p.paused)
        .map((p) => p.producer_id),
    );
    if (this.req.media.closed || producers.some((p) => !live.has(p.producer_id)))
      throw new TrackGoneError('a producer closed or paused meanwhile');
    return RtpPipeline.start({
      media: this.req.media,
      producers,
      workDir: dir,
      name: `p${seq}`,
      ...(this.cfg.ffmpegPath ? { ffmpegPath: this.cfg.ffmpegPath } : {}),
      log: this.log,
      output: (command, tracks) => {
        let next = 1;
        let audio = `0:${tracks.findIndex((t) => t.kind === 'audio')}`;
        let video = `0:${tracks.findIndex((t) => t.kind === 'video')}`;
        if (this.req.layout === 'grid') {
          // The recording side's composite: tiles in a 16:9 canvas of LIVE_MAX_HEIGHT, audio mixed.
          const height = Math.floor(this.cfg.maxHeight / 2) * 2;
          const grid = compositeFilter(tracks, {
            width: Math.floor((height * 16) / 9 / 2) * 2,
            height,
            fps: 25,
            videoBitrateKbps: this.cfg.videoBitrateKbps,
          });
          command.complexFilter(grid.filter);
          if (grid.videoOut) video = `[${grid.videoOut}]`;
          if (grid.audioOut) audio = `[${grid.audioOut}]`;
        }
        if (!hasAudio) {
          command.input('anullsrc=channel_layout=stereo:sample_rate=48000').inputFormat('lavfi');
          audio = `${next++}:a`;
        }
        if (!hasVideo) {
          command.input('color=c=black:s=640x360:r=25').inputFormat('lavfi');
          video = `${next}:v`;
        }
        command.output(path.join(dir, `p${seq}.m3u8`)).outputOptions(hlsOutputOptions(this.cfg, dir, seq, { video, audio }));
      },
    }).catch((err) => {
      // createPlainConsumer: the producer closed between our check and its consumer.
      if (err instanceof AppError && err.code === 'not_found') throw new TrackGoneError(err.message);
      throw err;
    });
  }

  /** Starts the first part; throws when ffmpeg cannot start. */
  async start(): Promise<void> {
    await mkdir(this.req.dir, { recursive: true });
    let failure: Error | null = null;
    const onError = (err: Error) => (failure = err);
    this.rolling.on('error', onError);
    this.show(this.req.producers);
    await this.rolling.flush();
    this.rolling.off('error', onError);
    if (!this.rolling.segment) {
      this.req.media.observer.off('close', this.onRoomClose);
      await this.rolling.stop(); // no retry may start an ffmpeg nobody would stop
      // No error but no part: every track to show closed while it started (each try met TrackGoneError).
      throw failure ?? new TrackGoneError('the tracks to show closed while the stream started');
    }
    let sinceKeyframe = 0;
    // Live once the composed playlist has a segment (usually part 0's first; a later part's if part 0
    // never made one); until then keep asking for keyframes (a decoder needs one to start).
    this.poll = setInterval(() => {
      sinceKeyframe += LIVE_POLL_MS;
      if (sinceKeyframe >= KEYFRAME_EVERY_MS) {
        sinceKeyframe = 0;
        void this.rolling.segment?.pipeline.requestKeyFrames();
      }
      this.compose().then(
        (text) => {
          if (!this.live && !this.stopping && text !== null) {
            this.live = true;
            if (this.poll) clearInterval(this.poll);
            this.poll = null;
            this.req.onLive();
          }
        },
        () => {},
      );
    }, LIVE_POLL_MS);
  }

  /** Shows these producers from the next part on (no change when they are shown already; none: the part stops). */
  show(producers: readonly ProducerInfo[]): void {
    const wanted = new Set(producers.map((p) => p.producer_id));
    for (const p of this.rolling.producers) if (!wanted.has(p.producer_id)) this.rolling.detach(p.producer_id);
    for (const p of producers) this.rolling.attach(p);
  }

  /**
   * Graceful stop: the last part writes its final segment; the composed
   * playlist then ends. `now`: the media is gone already (the room closed),
   * nothing is left to flush, so ffmpeg is killed instead of waited for.
   */
  async stop(opts: { now?: boolean } = {}): Promise<void> {
    this.stopping = true;
    if (this.poll) clearInterval(this.poll);
    this.poll = null;
    this.req.media.observer.off('close', this.onRoomClose);
    if (opts.now) this.rolling.segment?.pipeline.kill();
    await this.rolling.stop();
    this.stopped = true;
    this.cache = null;
  }

  /**
   * The playlist players get: the parts' segments in order, a discontinuity
   * at each part boundary, one media sequence; `uri` makes each segment's URI
   * (the server adds the viewer's token). Null before any segment exists.
   */
  async playlist(uri: (file: string) => string): Promise<string | null> {
    const now = Date.now();
    if (!this.cache || now - this.cache.at > PLAYLIST_CACHE_MS) this.cache = { at: now, text: await this.compose() };
    const text = this.cache.text;
    return text === null ? null : text.replace(/^(p[0-9]+_[0-9]+\.ts)$/gm, (file) => uri(file));
  }

  private async compose(): Promise<string | null> {
    const entries: Array<{ seq: number; duration: number; uri: string; discontinuity: boolean; boundary: number }> = [];
    let base = 0;
    let boundaries = 0;
    for (const [i, part] of this.parts.entries()) {
      // A part is listed once every part before it has ended, so the numbering stays fixed.
      if (i > 0 && !this.parts[i - 1].exited) break;
      let parsed: Parsed;
      try {
        parsed = parsePlaylist(await readFile(path.join(this.req.dir, `p${part.seq}.m3u8`), 'utf8'));
      } catch {
        parsed = { mediaSequence: 0, segments: [] };
      }
      if (parsed.segments.length > 0 && entries.length > 0) boundaries++;
      parsed.segments.forEach((s, j) =>
        entries.push({
          seq: base + parsed.mediaSequence + j,
          duration: s.duration,
          uri: s.uri,
          discontinuity: j === 0 && entries.length > 0,
          boundary: boundaries,
        }),
      );
      base += parsed.mediaSequence + parsed.segments.length;
    }
    if (entries.length === 0) return null;
    const window = entries.slice(-this.cfg.playlistSize);
    const target = Math.max(this.cfg.segmentSeconds, ...window.map((e) => Math.ceil(e.duration)));
    const lines = [
      '#EXTM3U',
      '#EXT-X-VERSION:6',
      `#EXT-X-TARGETDURATION:${target}`,
      `#EXT-X-MEDIA-SEQUENCE:${window[0].seq}`,
      `#EXT-X-DISCONTINUITY-SEQUENCE:${window[0].boundary}`,
      '#EXT-X-INDEPENDENT-SEGMENTS',
    ];
    for (const [i, e] of window.entries()) {
      if (e.discontinuity && i > 0) lines.push('#EXT-X-DISCONTINUITY');
      lines.push(`#EXTINF:${e.duration.toFixed(6)},`, e.uri);
    }
    if (this.stopped) lines.push('#EXT-X-ENDLIST');
    return `${lines.join('\n')}\n`;
  }
}

export function hlsPipelineFactory(cfg: Config['live'], log: Logger): PipelineFactory {
  return async (req) => {
    const media = new HlsStreamMedia(cfg, req, log);
    await media.start();
    return media;
  };
}
