// The mediasoup half of an ffmpeg input: for each producer to record, a
// PlainTransport (rtcp-mux, comedia off) and a consumer sending its RTP to a
// port ffmpeg listens on. Consumers start paused; `start()` resumes them and
// asks the publishers for keyframes once ffmpeg is listening, so the first
// thing written is decodable. Producers that close on the way are reported
// and simply stop sending: ffmpeg keeps writing the other tracks.

import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import type { Consumer, MediaKind, PlainTransport, RtpCapabilities } from 'mediasoup/types';
import type { MediaRoom } from '../sfu/mediaRoom.js';
import type { ProducerInfo } from '../server/kernel/media.js';
import { allocateRtpPorts, releaseRtpPorts } from './ports.js';
import { buildSdp, mediaCodecOf } from './sdp.js';

export interface RtpTrack {
  producer: ProducerInfo;
  kind: MediaKind;
  /** ffmpeg's port for this track (it also binds port + 1). */
  port: number;
  transport: PlainTransport;
  consumer: Consumer;
  /** e.g. 'video/VP8', 'audio/opus'. */
  mimeType: string;
}

export interface RtpInputEvents {
  /** The track's producer closed (participant left or unpublished). */
  trackclose: [RtpTrack];
}

/**
 * What a recording consumer asks for: the router's codecs without RTX/FEC
 * (ffmpeg neither sends NACKs nor repairs streams) and no header extensions
 * (ffmpeg ignores them; none are needed to depacketize).
 */
export function recorderCapabilities(router: RtpCapabilities): RtpCapabilities {
  return {
    codecs: (router.codecs ?? []).filter((c) => !/\/(rtx|red|ulpfec|flexfec)$/i.test(c.mimeType)),
    headerExtensions: [],
  };
}

/**
 * An RTCP BYE (RFC 3550 6.6) naming two SSRCs: 12 bytes, because ffmpeg drops
 * anything shorter than an RTP header before it looks at RTCP.
 */
function rtcpBye(ssrc: number): Buffer {
  const b = Buffer.alloc(12);
  b[0] = 0x82; // V=2, P=0, SC=2
  b[1] = 203; // BYE
  b.writeUInt16BE(2, 2); // length in 32-bit words minus one
  b.writeUInt32BE(ssrc >>> 0, 4);
  b.writeUInt32BE(ssrc >>> 0, 8);
  return b;
}

export class RtpInput extends EventEmitter<RtpInputEvents> {
  private closed = false;
  private readonly byes = new Set<RtpTrack>();

  private constructor(
    readonly tracks: readonly RtpTrack[],
    readonly ip: string,
  ) {
    super();
    for (const track of tracks) {
      track.consumer.on('producerclose', () => {
        if (this.closed) return;
        // The stream is over for good: say so, so ffmpeg does not wait for it (see bye()).
        void this.bye([track]);
        this.emit('trackclose', track);
      });
    }
  }

  /**
   * Plain consumers for these producers, audio first then video (stable
   * stream order for ffmpeg's -map), sending to fresh ports on `ip`.
   */
  static async open(media: MediaRoom, producers: readonly ProducerInfo[], ip = '127.0.0.1'): Promise<RtpInput> {
    if (producers.length === 0) throw new Error('an RTP input needs at least one producer');
    const ordered = [...producers].sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'audio' ? -1 : 1));
    const ports = await allocateRtpPorts(ip, ordered.length);
    const rtpCapabilities = recorderCapabilities(await media.rtpCapabilities());
    const tracks: RtpTrack[] = [];
    try {
      for (const [i, producer] of ordered.entries()) {
        const port = ports[i];
        const { transport, consumer } = await media.createPlainConsumer(producer.producer_id, { ip, port, rtpCapabilities, paused: true });
        tracks.push({ producer, kind: consumer.kind, port, transport, consumer, mimeType: mediaCodecOf(consumer.rtpParameters).mimeType });
      }
    } catch (err) {
      for (const t of tracks) t.transport.close();
      releaseRtpPorts(ports);
      throw err;
    }
    return new RtpInput(tracks, ip);
  }

  /** The SDP ffmpeg reads to receive these tracks. */
  sdp(sessionName?: string): string {
    return buildSdp(
      this.tracks.map((t) => ({ kind: t.kind, port: t.port, rtpParameters: t.consumer.rtpParameters })),
      this.ip,
      sessionName,
    );
  }

  get ports(): number[] {
    return this.tracks.map((t) => t.port);
  }

  /** Media starts flowing: resume every consumer and ask for a keyframe. */
  async start(): Promise<void> {
    await Promise.all(this.live().map((t) => t.consumer.resume()));
    await this.requestKeyFrames();
  }

  /** PLI/FIR to every video publisher (harmless for audio, skipped). */
  async requestKeyFrames(): Promise<void> {
    await Promise.all(
      this.live()
        .filter((t) => t.kind === 'video')
        .map((t) => t.consumer.requestKeyFrame().catch(() => {})), // a hint; a closed consumer needs none
    );
  }

  /**
   * Sends ffmpeg an RTCP BYE for these tracks (default: all not said yet).
   * ffmpeg's RTP reader ends its input (EOF: the file is finalized, exit code
   * 0) once every stream got one, which is the fast clean way to stop it:
   * SIGINT is only noticed between packets, so a silent input would keep it
   * waiting 10 s. Exactly one BYE per stream: ffmpeg counts them.
   */
  async bye(tracks: readonly RtpTrack[] = this.tracks): Promise<void> {
    const due = tracks.filter((t) => !this.byes.has(t));
    if (due.length === 0) return;
    for (const t of due) this.byes.add(t);
    const socket = dgram.createSocket(this.ip.includes(':') ? 'udp6' : 'udp4');
    try {
      await Promise.all(
        due.map(
          (t) =>
            new Promise<void>((resolve) => {
              socket.send(rtcpBye(t.consumer.rtpParameters.encodings?.[0]?.ssrc ?? 0), t.port, this.ip, () => resolve());
            }),
        ),
      );
    } finally {
      socket.close();
    }
  }

  /** Closes the transports (and so the consumers) and frees the ports. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.tracks) t.transport.close();
    releaseRtpPorts(this.ports);
  }

  private live(): RtpTrack[] {
    return this.tracks.filter((t) => !t.consumer.closed);
  }
}
