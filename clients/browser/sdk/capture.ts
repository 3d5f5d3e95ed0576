// Capturing the camera, mic and screen from the browser for `publish`, and
// the constraints for one chosen device (switchDevice, an app's own preview).

import type { MediaKind, Source } from '../../../signaling/protocol/protocol.js';
import { DEFAULT_AUDIO, DEFAULT_VIDEO } from './encodings.js';
import type { PublishOptions } from './types.js';

export interface CapturedTrack {
  track: MediaStreamTrack;
  source: Source;
}

/** The devices chosen for the mic (`audio`) and camera (`video`); null: the browser's default. */
export type DeviceChoice = Record<MediaKind, string | null>;

/**
 * The SDK's capture constraints for the mic (`audio`) or camera (`video`),
 * with a device: `exact` fails when that device is gone, otherwise it is only
 * preferred (Chromium may then pick another one that fits the rest better).
 */
export function deviceConstraints(kind: MediaKind, deviceId?: string | null, exact = false): MediaTrackConstraints {
  const base = kind === 'audio' ? DEFAULT_AUDIO : DEFAULT_VIDEO;
  return deviceId ? { ...base, deviceId: exact ? { exact: deviceId } : { ideal: deviceId } } : { ...base };
}

/** `true` or constraints for one kind, over the defaults and the chosen device (if any). */
function constraintsFor(
  kind: MediaKind,
  wanted: boolean | MediaTrackConstraints | undefined,
  device: string | null,
): MediaTrackConstraints | false {
  if (!wanted) return false;
  return { ...deviceConstraints(kind, device, true), ...(wanted === true ? {} : wanted) };
}

/** getUserMedia with the chosen devices, else (unplugged since) the browser's default ones. */
async function userMedia(opts: PublishOptions, devices: DeviceChoice): Promise<MediaStream> {
  const ask = (chosen: boolean) =>
    navigator.mediaDevices.getUserMedia({
      audio: constraintsFor('audio', opts.audio, chosen ? devices.audio : null),
      video: constraintsFor('video', opts.video, chosen ? devices.video : null),
    });
  try {
    return await ask(true);
  } catch (err) {
    const name = (err as Error)?.name;
    if ((name !== 'OverconstrainedError' && name !== 'NotFoundError') || (!devices.audio && !devices.video)) throw err;
    return ask(false);
  }
}

/**
 * Asks the browser for what `opts` wants, appending each track to `captured`
 * as it arrives, so that a caller can stop them all if a later step fails.
 */
export async function captureMedia(opts: PublishOptions, captured: CapturedTrack[], devices: DeviceChoice): Promise<void> {
  if (opts.audio || opts.video) {
    const stream = await userMedia(opts, devices);
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

/** One track from exactly this device (a switch mid-call). */
export async function captureDevice(kind: MediaKind, deviceId: string): Promise<MediaStreamTrack> {
  const stream = await navigator.mediaDevices.getUserMedia({ [kind]: deviceConstraints(kind, deviceId, true) });
  const [track] = kind === 'audio' ? stream.getAudioTracks() : stream.getVideoTracks();
  if (!track) throw new Error(`no ${kind} track from device ${deviceId}`);
  return track;
}
