// The media half of a live stream: one participant's audio and video from
// mediasoup (RtpPipeline: PlainTransport consumers -> SDP -> ffmpeg) are
// transcoded to H.264 + AAC and cut into HLS segments in the stream's
// folder. A missing track is filled (silence, or a black picture) so every
// stream has both, as players expect. The stream is `live` once the
// playlist lists its first segment; an ffmpeg that dies is reported as a
// failure, media that goes away (the room's SFU closed, every producer
// closed) as the end of the source.

import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../../server/config.js';
import type { PipelineFactory } from '../../server/live/liveService.js';
import type { LivePipeline } from '../../server/live/liveStream.js';
import type { Logger } from '../../server/logger.js';
import { RtpPipeline } from '../rtpPipeline.js';

export const PLAYLIST = 'index.m3u8';
const LIVE_POLL_MS = 500;
const KEYFRAME_EVERY_MS = 2000;

/** ffmpeg output options for HLS (exported for the benchmark and docs). */
export function hlsOutputOptions(cfg: Config['live'], dir: string, map: { video: string; audio: string }): string[] {
  const height = `trunc(min(${cfg.maxHeight}\\,ih)/2)*2`;
  return [
    '-map', map.video, '-map', map.audio,
    '-vf', `scale=-2:${height}`,
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-profile:v', 'main', '-pix_fmt', 'yuv420p',
    '-r', '25', '-fps_mode', 'cfr',
    '-b:v', `${cfg.videoBitrateKbps}k`, '-maxrate', `${cfg.videoBitrateKbps}k`, '-bufsize', `${cfg.videoBitrateKbps * 2}k`,
    // A keyframe at every segment boundary: each segment starts decodable.
    '-force_key_frames', `expr:gte(t,n_forced*${cfg.segmentSeconds})`,
    '-c:a', 'aac', '-b:a', `${cfg.audioBitrateKbps}k`, '-ar', '48000', '-ac', '2',
    '-f', 'hls',
    '-hls_time', String(cfg.segmentSeconds),
    '-hls_list_size', String(cfg.playlistSize),
    '-hls_flags', 'delete_segments+independent_segments+temp_file',
    '-hls_segment_filename', path.join(dir, 'seg%05d.ts'),
  ];
}

export function hlsPipelineFactory(cfg: Config['live'], log: Logger): PipelineFactory {
  return async (req) => {
    await mkdir(req.dir, { recursive: true });
    const hasAudio = req.producers.some((p) => p.kind === 'audio');
    const hasVideo = req.producers.some((p) => p.kind === 'video');
    const rtp = await RtpPipeline.start({
      media: req.media,
      producers: req.producers,
      workDir: req.dir,
      name: 'input',
      ...(cfg.ffmpegPath ? { ffmpegPath: cfg.ffmpegPath } : {}),
      log: log.child({ room: req.room, stream_id: req.streamId }),
      output: (command, tracks) => {
        const audio = tracks.findIndex((t) => t.kind === 'audio');
        const video = tracks.findIndex((t) => t.kind === 'video');
        let next = 1;
        let audioMap = `0:${audio}`;
        let videoMap = `0:${video}`;
        if (!hasAudio) {
          command.input('anullsrc=channel_layout=stereo:sample_rate=48000').inputFormat('lavfi');
          audioMap = `${next++}:a`;
        }
        if (!hasVideo) {
          command.input('color=c=black:s=640x360:r=25').inputFormat('lavfi');
          videoMap = `${next++}:v`;
        }
        command.output(path.join(req.dir, PLAYLIST)).outputOptions(hlsOutputOptions(cfg, req.dir, { video: videoMap, audio: audioMap }));
      },
    });

    let stopping = false;
    let live = false;
    let sinceKeyframe = 0;
    // Live once the playlist names a segment; until then, keep asking for keyframes (the decoder needs one to start).
    const poll = setInterval(() => {
      if (live || stopping) return;
      sinceKeyframe += LIVE_POLL_MS;
      if (sinceKeyframe >= KEYFRAME_EVERY_MS) {
        sinceKeyframe = 0;
        void rtp.requestKeyFrames();
      }
      readFile(path.join(req.dir, PLAYLIST), 'utf8').then((text) => {
        if (!live && !stopping && text.includes('#EXTINF')) {
          live = true;
          clearInterval(poll);
          req.onLive();
        }
      }, () => {});
    }, LIVE_POLL_MS);

    rtp.on('exit', (exit) => {
      clearInterval(poll);
      if (!stopping && !exit.requested) req.onFailed(exit.reason ?? 'ffmpeg exited');
    });
    const closed = new Set<string>();
    rtp.on('trackclose', (track) => {
      closed.add(track.producer.producer_id);
      if (!stopping && closed.size >= rtp.tracks.length) req.onSourceGone('source-left');
    });
    const onRoomClose = () => {
      if (!stopping) req.onSourceGone('room-closed');
    };
    req.media.observer.once('close', onRoomClose);

    const pipeline: LivePipeline = {
      get pid() {
        return rtp.ffmpeg.pid;
      },
      async stop() {
        stopping = true;
        clearInterval(poll);
        req.media.observer.off('close', onRoomClose);
        await rtp.stop(5000);
      },
    };
    return pipeline;
  };
}
