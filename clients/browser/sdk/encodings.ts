// How the camera is encoded (simulcast or SVC layers, per codec) and the
// default capture constraints.

import type { RtpEncodingParameters } from 'mediasoup-client/types';
import type { VideoCodec } from './types.js';

/** Camera simulcast: quarter, half and full resolution; three temporal layers each. */
export const CAMERA_SIMULCAST: RtpEncodingParameters[] = [
  { rid: 'r0', scaleResolutionDownBy: 4, maxBitrate: 150_000, scalabilityMode: 'L1T3' },
  { rid: 'r1', scaleResolutionDownBy: 2, maxBitrate: 500_000, scalabilityMode: 'L1T3' },
  { rid: 'r2', scaleResolutionDownBy: 1, maxBitrate: 1_500_000, scalabilityMode: 'L1T3' },
];

/**
 * VP9 carries its layers in one stream (SVC, K-SVC as Chrome sends it): the
 * SFU still picks a spatial/temporal layer per subscriber, like simulcast.
 */
export const CAMERA_SVC: RtpEncodingParameters[] = [{ scalabilityMode: 'L3T3_KEY', maxBitrate: 1_500_000 }];
/** H264 simulcast without temporal-layer modes (not every H264 encoder has them). */
const CAMERA_SIMULCAST_H264: RtpEncodingParameters[] = CAMERA_SIMULCAST.map(({ scalabilityMode: _drop, ...e }) => e);

/** The layered camera encodings for a codec (VP8 when none is set). */
export function cameraEncodings(codec: VideoCodec | undefined): RtpEncodingParameters[] {
  if (codec === 'VP9') return CAMERA_SVC;
  if (codec === 'H264') return CAMERA_SIMULCAST_H264;
  return CAMERA_SIMULCAST;
}

export const DEFAULT_VIDEO: MediaTrackConstraints = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } };
export const DEFAULT_AUDIO: MediaTrackConstraints = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
