// A real WebRTC participant in Node: mediasoup-client (the same library the
// browser SDK uses) on top of libwebrtc from @roamhq/wrtc, with synthetic
// audio and video. Tests and benchmarks publish and subscribe through it.

import wrtc from '@roamhq/wrtc';
import { Device } from 'mediasoup-client';
import type { Consumer, Producer, ProducerOptions, Transport } from 'mediasoup-client/types';
import type { ProducerInfo, Source } from '../../signaling/protocol/protocol.js';
import { wireTransport } from '../shared/transportWiring.js';
import { SignalingClient } from './signalingClient.js';

// @roamhq/wrtc 0.10 can abort in its N-API finalizers while Node tears the
// environment down at a natural exit ("Check failed: node->IsInUse()"). Leaving
// through process.exit() skips that teardown; the exit code is kept.
process.once('beforeExit', (code) => process.exit(process.exitCode ?? code));

// mediasoup-client looks for the WebRTC API on the global object, as in a browser.
const g = globalThis as Record<string, unknown>;
for (const name of ['RTCPeerConnection', 'RTCSessionDescription', 'RTCIceCandidate', 'MediaStream', 'MediaStreamTrack'] as const) {
  g[name] ??= (wrtc as unknown as Record<string, unknown>)[name];
}

export interface VideoOptions {
  width?: number;
  height?: number;
  fps?: number;
  /** Three simulcast layers (quarter, half, full resolution). */
  simulcast?: boolean;
  source?: Source;
  /** Video codec to send (default: the first the router offers, VP8). */
  codec?: 'VP8' | 'VP9' | 'H264';
  /** SVC instead of simulcast, e.g. 'L3T3_KEY' with VP9: one stream with spatial/temporal layers. */
  scalabilityMode?: string;
}

export interface ReceivedTrack {
  consumer: Consumer;
  /** Frames (video) or 10 ms audio chunks decoded so far. */
  frames: number;
  lastWidth: number;
  lastHeight: number;
  stop(): void;
}

export class MediaBot {
  readonly device: Device;
  sendTransport: Transport | null = null;
  recvTransport: Transport | null = null;
  readonly producers = new Map<string, Producer>();
  readonly received = new Map<string, ReceivedTrack>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private recvTransportPromise: Promise<Transport> | null = null;
  forceTcp = false;
  /** Set by close(): nothing new is published after it (a track left running keeps the process alive). */
  private closed = false;

  private constructor(
    readonly signaling: SignalingClient,
    readonly participantId: string,
    readonly roomProducers: ProducerInfo[],
  ) {
    this.device = new Device({ handlerName: 'Chrome111' });
  }

  /** Connects, authenticates, joins and loads the router's capabilities. */
  static async join(url: string, token: string, room: string, opts: { forceTcp?: boolean } = {}): Promise<MediaBot> {
    const signaling = await SignalingClient.connect(url, { room }); // multiproc: ?room= routes to the room's process
    let joined;
    try {
      await signaling.request('auth', { token });
      joined = await signaling.request('join', { room });
    } catch (err) {
      void signaling.close(); // a failed join leaves no connection behind
      throw err;
    }
    const bot = new MediaBot(signaling, joined.participant_id, joined.room_state.producers);
    bot.forceTcp = opts.forceTcp ?? false;
    const { router_rtp_capabilities } = await signaling.request('sfu-capabilities', {});
    await bot.device.load({ routerRtpCapabilities: router_rtp_capabilities as never });
    return bot;
  }

  private async createTransport(direction: 'send' | 'recv'): Promise<Transport> {
    const { transport: options } = await this.signaling.request('create-transport', { direction, sctp: true, force_tcp: this.forceTcp });
    if (this.closed) throw new Error('media bot closed'); // no peer connection after close: nobody would close it
    const transport =
      direction === 'send' ? this.device.createSendTransport(options as never) : this.device.createRecvTransport(options as never);
    wireTransport(transport, this.signaling, { data: true }); // data channels: the bot's transports have SCTP
    return transport;
  }

  private async send(): Promise<Transport> {
    this.sendTransport ??= await this.createTransport('send');
    return this.sendTransport;
  }

  private async recv(): Promise<Transport> {
    this.recvTransportPromise ??= this.createTransport('recv').then((t) => (this.recvTransport = t));
    return this.recvTransportPromise;
  }

  /** Publishes synthetic video: a moving gradient, so the encoder has real work. */
  async publishVideo(opts: VideoOptions = {}): Promise<Producer> {
    const wanted = opts.codec?.toLowerCase();
    const codec = wanted && this.device.rtpCapabilities.codecs?.find((c) => c.mimeType.toLowerCase() === `video/${wanted}`);
    if (opts.codec && !codec) throw new Error(`${opts.codec} is not in this device's capabilities (libwebrtc of @roamhq/wrtc has no H264)`);
    const width = opts.width ?? 640;
    const height = opts.height ?? 360;
    const fps = opts.fps ?? 15;
    const source = new wrtc.nonstandard.RTCVideoSource();
    const track = source.createTrack();
    const data = new Uint8Array(width * height * 1.5);
    let n = 0;
    const timer = setInterval(() => {
      n++;
      for (let y = 0; y < height; y += 4) data.fill((y + n * 3) & 0xff, y * width, y * width + width);
      source.onFrame({ width, height, data });
    }, 1000 / fps);
    this.timers.add(timer);
    const producer = await this.produceTrack(track, timer, {
      ...(codec ? { codec } : {}),
      appData: { source: opts.source ?? 'camera' },
      ...(opts.simulcast
        ? {
            encodings: [
              { rid: 'r0', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
              { rid: 'r1', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
              { rid: 'r2', scaleResolutionDownBy: 1, maxBitrate: 1_500_000 },
            ],
          }
        : opts.scalabilityMode
          ? { encodings: [{ scalabilityMode: opts.scalabilityMode, maxBitrate: 1_500_000 }] }
          : {}),
    });
    return producer;
  }

  /**
   * Publishes a synthetic track fed by `timer`. If publishing fails, or the bot
   * closed meanwhile, the timer and the native track stop (an unstopped wrtc
   * track kept the process alive after a test).
   */
  private async produceTrack(track: MediaStreamTrack, timer: NodeJS.Timeout, options: Omit<ProducerOptions, 'track'>): Promise<Producer> {
    const stop = () => {
      clearInterval(timer);
      this.timers.delete(timer);
      track.stop();
    };
    let producer: Producer;
    try {
      if (this.closed) throw new Error('media bot closed');
      const transport = await this.send();
      producer = await transport.produce({ track, ...options });
    } catch (err) {
      stop();
      throw err;
    }
    producer.observer.on('close', stop);
    if (this.closed) {
      producer.close();
      throw new Error('media bot closed');
    }
    this.producers.set(producer.id, producer);
    return producer;
  }

  /**
   * Publishes a synthetic 440 Hz tone as the microphone. `amplitude` 0 is
   * silence (someone who does not speak); `talk` cuts the tone into
   * syllable-like bursts, which is what speaker detection recognises as speech.
   */
  async publishAudio(opts: { amplitude?: number; talk?: boolean } = {}): Promise<Producer> {
    const amplitude = opts.amplitude ?? 8000;
    const talk = opts.talk ?? false;
    const source = new wrtc.nonstandard.RTCAudioSource();
    const track = source.createTrack();
    const sampleRate = 48000;
    const samples = new Int16Array(sampleRate / 100);
    let t = 0;
    const timer = setInterval(() => {
      // Talking: 250 ms of tone, 150 ms of pause.
      const level = talk && (t / sampleRate) % 0.4 >= 0.25 ? 0 : amplitude;
      for (let i = 0; i < samples.length; i++, t++) samples[i] = Math.round(level * Math.sin((2 * Math.PI * 440 * t) / sampleRate));
      source.onData({ samples, sampleRate });
    }, 10);
    this.timers.add(timer);
    return this.produceTrack(track, timer, { appData: { source: 'mic' } });
  }

  /** Opens a data channel to the room (chat, whiteboard...). */
  async produceData(label: string) {
    const transport = await this.send();
    return transport.produceData({ label, ordered: true });
  }

  /** Receives another participant's data channel. */
  async consumeData(dataProducerId: string) {
    const transport = await this.recv();
    const { data_consumer } = await this.signaling.request('consume-data', {
      transport_id: transport.id,
      data_producer_id: dataProducerId,
    });
    return transport.consumeData({
      id: data_consumer.id,
      dataProducerId: data_consumer.dataProducerId,
      sctpStreamParameters: data_consumer.sctpStreamParameters as never,
      label: data_consumer.label,
      protocol: data_consumer.protocol,
    });
  }

  /** Forgets every transport (after `sfu-reset`): the next publish/consume makes new ones. */
  resetTransports(): void {
    this.sendTransport?.close();
    this.recvTransport?.close();
    this.sendTransport = null;
    this.recvTransport = null;
    this.recvTransportPromise = null;
    this.producers.clear();
  }

  /** Consumes a producer, resumes it, and counts what is decoded. */
  async consume(producerId: string): Promise<ReceivedTrack> {
    const transport = await this.recv();
    const { consumer: params } = await this.signaling.request('consume', {
      transport_id: transport.id,
      producer_id: producerId,
      rtp_capabilities: this.device.recvRtpCapabilities as never,
    });
    const consumer = await transport.consume({
      id: params.id,
      producerId: params.producerId,
      kind: params.kind,
      rtpParameters: params.rtpParameters as never,
    });
    if (this.closed) {
      consumer.close();
      throw new Error('media bot closed');
    }
    const received: ReceivedTrack = { consumer, frames: 0, lastWidth: 0, lastHeight: 0, stop: () => {} };
    if (consumer.kind === 'video') {
      const sink = new wrtc.nonstandard.RTCVideoSink(consumer.track);
      sink.onframe = ({ frame }: { frame: { width: number; height: number } }) => {
        received.frames++;
        received.lastWidth = frame.width;
        received.lastHeight = frame.height;
      };
      received.stop = () => sink.stop();
    } else {
      const sink = new wrtc.nonstandard.RTCAudioSink(consumer.track);
      sink.ondata = () => {
        received.frames++;
      };
      received.stop = () => sink.stop();
    }
    consumer.observer.on('close', () => received.stop());
    this.received.set(consumer.id, received);
    await this.signaling.request('resume-consumer', { consumer_id: consumer.id });
    return received;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    for (const r of this.received.values()) r.stop();
    for (const p of this.producers.values()) p.close();
    this.sendTransport?.close();
    this.recvTransport?.close();
    await this.signaling.close();
  }
}
