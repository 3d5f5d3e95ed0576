// Capturing the camera, mic and screen from the browser for `publish`.

import type { Source } from '../../../signaling/protocol/protocol.js';
import { DEFAULT_AUDIO, DEFAULT_VIDEO } from './encodings.js';
import type { PublishOptions } from './types.js';

export interface CapturedTrack {
  track: MediaStreamTrack;
  source: Source;
}

/**
 * Asks the browser for what `opts` wants, appending each track to `captured`
 * as it arrives, so that a caller can stop them all if a later step fails.
 */
export async function captureMedia(opts: PublishOptions, captured: CapturedTrack[]): Promise<void> {
  if (opts.audio || opts.video) {
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: opts.audio ? (opts.audio === true ? DEFAULT_AUDIO : opts.audio) : false,
      video: opts.video ? (opts.video === true ? DEFAULT_VIDEO : opts.video) : false,
    });
    for (const track of stream.getAudioTracks()) captured.push({ track, source: 'mic' });
    for (const track of stream.getVideoTracks()) captured.push({ track, source: 'camera' });
  }
  if (opts.screen) {
    const stream = await navigator.mediaDevices.getDisplayMedia(opts.screen === true ? { video: true, audio: true } : opts.screen);
    for (const track of stream.getVideoTracks()) {
      track.contentHint = 'detail';
      captured.push({ track, source: 'screen' });
    }
    for (const track of stream.getAudioTracks()) captured.push({ track, source: 'screen-audio' });
  }
}
