// The SDP that tells ffmpeg what arrives on which port: one m-line per
// mediasoup consumer, from the consumer's own rtpParameters (payload type,
// codec, clock rate, channels, fmtp, SSRC), so what ffmpeg expects is exactly
// what mediasoup sends.

import type { MediaKind, RtpParameters } from 'mediasoup/types';

export interface SdpTrack {
  kind: MediaKind;
  /** Where ffmpeg listens for this track's RTP (and muxed RTCP). */
  port: number;
  rtpParameters: RtpParameters;
}

function fmtp(parameters: Record<string, unknown> | undefined): string | null {
  const entries = Object.entries(parameters ?? {}).filter(([k, v]) => v !== undefined && v !== null && !k.startsWith('x-google-'));
  return entries.length ? entries.map(([k, v]) => `${k}=${String(v)}`).join(';') : null;
}

/** The consumer's media codec (never RTX: recording consumers are made without it). */
export function mediaCodecOf(rtpParameters: RtpParameters) {
  const codec = rtpParameters.codecs.find((c) => !/\/(rtx|red|ulpfec|flexfec)$/i.test(c.mimeType));
  if (!codec) throw new Error('consumer has no media codec');
  return codec;
}

export function buildSdp(tracks: readonly SdpTrack[], ip = '127.0.0.1', sessionName = 'switchboard'): string {
  const family = ip.includes(':') ? 'IP6' : 'IP4';
  const lines = ['v=0', `o=- 0 0 IN ${family} ${ip}`, `s=${sessionName}`, `c=IN ${family} ${ip}`, 't=0 0'];
  for (const track of tracks) {
    const codec = mediaCodecOf(track.rtpParameters);
    const pt = codec.payloadType;
    const [, name] = codec.mimeType.split('/');
    const channels = codec.channels && codec.channels > 1 ? `/${codec.channels}` : '';
    lines.push(`m=${track.kind} ${track.port} RTP/AVPF ${pt}`);
    lines.push(`a=rtpmap:${pt} ${name}/${codec.clockRate}${channels}`);
    const params = fmtp(codec.parameters);
    if (params) lines.push(`a=fmtp:${pt} ${params}`);
    lines.push('a=rtcp-mux', 'a=recvonly');
    const ssrc = track.rtpParameters.encodings?.[0]?.ssrc;
    const cname = track.rtpParameters.rtcp?.cname;
    if (ssrc !== undefined && cname) lines.push(`a=ssrc:${ssrc} cname:${cname}`);
  }
  return `${lines.join('\r\n')}\r\n`;
}
