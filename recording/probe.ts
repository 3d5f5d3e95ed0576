// ffprobe through fluent-ffmpeg: what a finished file holds (streams, codecs,
// packet or frame counts, durations), stored with each file's row.

import ffmpeg from 'fluent-ffmpeg';
import { resolveBinary } from './ffmpegProcess.js';

export interface ProbedStream {
  codec_type: string;
  codec_name: string;
  width?: number;
  height?: number;
  /** Decoded frames with countFrames, else packets (one per frame for video and Opus). */
  frames: number;
  /** Seconds, from the stream, its Matroska DURATION tag, or the container. */
  duration: number;
  start_time: number;
}

export interface Probed {
  format: string;
  duration: number;
  size: number;
  streams: ProbedStream[];
}

/** Matroska writes per-stream durations as a tag, hh:mm:ss.fraction. */
function tagSeconds(tag: string | undefined): number {
  return tag ? tag.split(':').reduce((acc, part) => acc * 60 + Number(part), 0) || 0 : 0;
}

export function probeFile(file: string, opts: { ffprobePath?: string | null; countFrames?: boolean } = {}): Promise<Probed> {
  return new Promise((resolve, reject) => {
    let binary: string;
    try {
      binary = resolveBinary(opts.ffprobePath ?? process.env['FFPROBE_PATH'] ?? 'ffprobe');
    } catch (err) {
      return reject(err);
    }
    // fluent-ffmpeg keeps the ffprobe path per process, like the ffmpeg one.
    ffmpeg.setFfprobePath(binary);
    ffmpeg.ffprobe(file, [opts.countFrames ? '-count_frames' : '-count_packets'], (err, data) => {
      if (err) return reject(err);
      const formatDuration = Number(data.format.duration ?? 0) || 0;
      const streams = data.streams.map((s): ProbedStream => {
        const tags = (s.tags ?? {}) as Record<string, string>;
        const frames = Number(opts.countFrames ? s.nb_read_frames : s.nb_read_packets);
        return {
          codec_type: String(s.codec_type),
          codec_name: String(s.codec_name),
          ...(s.width ? { width: s.width } : {}),
          ...(s.height ? { height: s.height } : {}),
          frames: Number.isFinite(frames) ? frames : 0,
          duration: Number(s.duration) || tagSeconds(tags['DURATION'] ?? tags['duration']) || formatDuration,
          start_time: Number(s.start_time) || 0,
        };
      });
      resolve({
        format: String(data.format.format_name),
        duration: formatDuration || Math.max(0, ...streams.map((s) => s.duration)),
        size: Number(data.format.size ?? 0),
        streams,
      });
    });
  });
}
