// ffmpeg outputs for recordings. Copy mode keeps the publisher's encoding
// (no transcode): WebM when every codec fits it (VP8, VP9, AV1, Opus),
// Matroska otherwise (H264). Composite mode decodes everything and encodes
// one grid video (VP8) and one mix of all audio (Opus) into WebM.

import type { FfmpegCommand } from 'fluent-ffmpeg';
import type { RtpTrack } from './rtpInput.js';

export interface OutputFormat {
  extension: 'webm' | 'mkv';
  muxer: 'webm' | 'matroska';
  contentType: string;
}

const WEBM_CODECS = new Set(['video/vp8', 'video/vp9', 'video/av1', 'audio/opus']);

export function copyFormat(tracks: readonly Pick<RtpTrack, 'mimeType'>[]): OutputFormat {
  const webm = tracks.every((t) => WEBM_CODECS.has(t.mimeType.toLowerCase()));
  return webm
    ? { extension: 'webm', muxer: 'webm', contentType: tracks.some((t) => t.mimeType.startsWith('video/')) ? 'video/webm' : 'audio/webm' }
    : { extension: 'mkv', muxer: 'matroska', contentType: 'video/x-matroska' };
}

/**
 * Clusters of at most 2 s flushed as they close: a crash (or a full disk)
 * loses at most the last couple of seconds, and the partial file plays.
 */
const LIVE_MUX = ['-cluster_time_limit', '2000', '-flush_packets', '1'];

/** Every track copied as is, in input order. */
export function copyOutput(file: string, format: OutputFormat) {
  return (command: FfmpegCommand, tracks: readonly RtpTrack[]) => {
    const maps = tracks.flatMap((_, i) => ['-map', `0:${i}`]);
    command.output(file).outputOptions([...maps, '-c', 'copy', ...LIVE_MUX, '-f', format.muxer]);
  };
}

export interface CompositeLayout {
  width: number;
  height: number;
  fps: number;
  videoBitrateKbps: number;
}

export const DEFAULT_COMPOSITE: CompositeLayout = { width: 1280, height: 720, fps: 15, videoBitrateKbps: 1500 };

const even = (n: number) => Math.max(2, Math.floor(n / 2) * 2);

/** The filter graph: video tracks tiled in a grid, audio tracks mixed. Exported for tests and the HLS side. */
export function compositeFilter(tracks: readonly Pick<RtpTrack, 'kind'>[], layout: CompositeLayout = DEFAULT_COMPOSITE) {
  const video = tracks.map((t, i) => ({ t, i })).filter((x) => x.t.kind === 'video');
  const audio = tracks.map((t, i) => ({ t, i })).filter((x) => x.t.kind === 'audio');
  const parts: string[] = [];
  let videoOut: string | null = null;
  let audioOut: string | null = null;
  if (video.length > 0) {
    const cols = Math.ceil(Math.sqrt(video.length));
    const rows = Math.ceil(video.length / cols);
    const w = even(layout.width / cols);
    const h = even(layout.height / rows);
    video.forEach(({ i }, k) => {
      parts.push(
        `[0:${i}]setpts=PTS-STARTPTS,fps=${layout.fps},scale=${w}:${h}:force_original_aspect_ratio=decrease,` +
          `pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2,setsar=1,format=yuv420p[v${k}]`,
      );
    });
    if (video.length === 1) {
      videoOut = 'v0';
    } else {
      const inputs = video.map((_, k) => `[v${k}]`).join('');
      const positions = video.map((_, k) => `${(k % cols) * w}_${Math.floor(k / cols) * h}`).join('|');
      parts.push(`${inputs}xstack=inputs=${video.length}:layout=${positions}:fill=black[vgrid]`);
      videoOut = 'vgrid';
    }
  }
  if (audio.length > 0) {
    audio.forEach(({ i }, k) => parts.push(`[0:${i}]asetpts=PTS-STARTPTS,aresample=48000:async=1000[a${k}]`));
    if (audio.length === 1) {
      audioOut = 'a0';
    } else {
      parts.push(`${audio.map((_, k) => `[a${k}]`).join('')}amix=inputs=${audio.length}:normalize=0:dropout_transition=0[amix]`);
      audioOut = 'amix';
    }
  }
  return { filter: parts.join(';'), videoOut, audioOut };
}

/** Grid video + mixed audio, transcoded to VP8/Opus WebM. */
export function compositeOutput(file: string, layout: CompositeLayout = DEFAULT_COMPOSITE) {
  return (command: FfmpegCommand, tracks: readonly RtpTrack[]) => {
    const { filter, videoOut, audioOut } = compositeFilter(tracks, layout);
    const options = ['-filter_complex', filter];
    if (videoOut) {
      options.push(
        '-map',
        `[${videoOut}]`,
        '-c:v',
        'libvpx',
        '-deadline',
        'realtime',
        '-cpu-used',
        '8',
        '-b:v',
        `${layout.videoBitrateKbps}k`,
        '-g',
        String(layout.fps * 4),
        '-threads',
        '2',
      );
    }
    if (audioOut) options.push('-map', `[${audioOut}]`, '-c:a', 'libopus', '-b:a', '96k');
    command.output(file).outputOptions([...options, ...LIVE_MUX, '-f', 'webm']);
  };
}
