// Media checks for recording tests: ffprobe a file (streams, codecs, frames).

import ffmpeg from 'fluent-ffmpeg';

export interface ProbedStream {
  codec_type: string;
  codec_name: string;
  width?: number;
  height?: number;
  /** Frames (video) or packets (audio) counted by decoding the file. */
  frames: number;
  /** Seconds, from the stream or the container. */
  duration: number;
  start_time: number;
}

export interface Probed {
  format: string;
  duration: number;
  size: number;
  streams: ProbedStream[];
}

/** ffprobe -count_frames on `file` (FFPROBE_PATH when set). */
export function probe(file: string): Promise<Probed> {
  return new Promise((resolve, reject) => {
    const cmd = ffmpeg();
    if (process.env['FFPROBE_PATH']) cmd.setFfprobePath(process.env['FFPROBE_PATH']);
    ffmpeg.ffprobe(file, ['-count_frames', '-count_packets'], (err, data) => {
      if (err) return reject(err);
      const formatDuration = Number(data.format.duration ?? 0) || 0;
      resolve({
        format: String(data.format.format_name),
        duration: formatDuration,
        size: Number(data.format.size ?? 0),
        streams: data.streams.map((s) => {
          const tags = (s.tags ?? {}) as Record<string, string>;
          // Matroska keeps per-stream durations in a DURATION tag (hh:mm:ss.frac).
          const tagged = tags['DURATION'] ?? tags['duration'];
          const fromTag = tagged ? tagged.split(':').reduce((acc, part) => acc * 60 + Number(part), 0) : 0;
          const nb = Number(s.nb_read_frames);
          return {
            codec_type: String(s.codec_type),
            codec_name: String(s.codec_name),
            ...(s.width ? { width: s.width } : {}),
            ...(s.height ? { height: s.height } : {}),
            frames: Number.isFinite(nb) ? nb : Number(s.nb_read_packets) || 0,
            duration: Number(s.duration) || fromTag || formatDuration,
            start_time: Number(s.start_time) || 0,
          };
        }),
      });
    });
    void cmd;
  });
}
