// The SFU bench's publisher, in its own process: a real WebRTC participant
// (MediaBot = mediasoup-client + libwebrtc from @roamhq/wrtc) publishing a
// synthetic microphone (440 Hz Opus) and optionally a synthetic camera (VP8,
// non-simulcast, capped at maxBitrate). Its own process keeps its event loop
// and encoder away from the bench's bookkeeping, and its sources are clocked
// from the wall clock (late timer ticks catch up) so a busy machine does not
// silently lower the publisher's packet rate. Driven over IPC by run.ts:
//   { id, cmd: 'start', url, token, room, video, width, height, fps, kbps, bwe } -> { id, participantId, producers }
//   { id, cmd: 'stats' } -> { id, stats } (the send side's outbound-rtp: resolution, fps, limitation)
//   { id, cmd: 'close' } -> { id }, then exits
// With `raw` in 'start' (the --baseline raw harness, rawMediasoup.ts) there is no
// server: the device loads the given router capabilities, the send transport is
// made from the given options, and its 'connect' and 'produce' events go up to
// the bench as { up, op: 'connect' | 'produce', ... } -> { up, producerId? | error }.

import wrtc from '@roamhq/wrtc';
import { Device } from 'mediasoup-client';
import type { DtlsParameters, RtpCapabilities, RtpParameters, Transport, TransportOptions } from 'mediasoup-client/types';
import { MediaBot } from '../../clients/node/mediaBot.js';

export interface StartRequest {
  id: number;
  cmd: 'start';
  url: string;
  token: string;
  room: string;
  video: boolean;
  width: number;
  height: number;
  fps: number;
  kbps: number;
  /** false: offer no transport-cc / REMB, so libwebrtc's bitrate follows maxBitrate, not delay estimates. */
  bwe: boolean;
  /** Publish to a bare mediasoup router instead of a Switchboard server (url, token, room unused). */
  raw?: { routerRtpCapabilities: RtpCapabilities; transport: TransportOptions };
  /** Publish to Janus's VideoRoom (janus.ts): a plain RTCPeerConnection whose offer goes up to the bench. */
  janus?: boolean;
}
export type PublisherRequest =
  StartRequest | { id: number; cmd: 'stats' } | { id: number; cmd: 'sending'; on: boolean } | { id: number; cmd: 'close' };

/** A request from the publisher to the bench (raw mode): its send transport's events. */
export type UpCall =
  | { op: 'connect'; dtlsParameters: DtlsParameters }
  | { op: 'produce'; kind: 'audio' | 'video'; rtpParameters: RtpParameters }
  | { op: 'janus-offer'; sdp: string };
export type UpRequest = UpCall & { up: number };
/** The bench's answer to an UpRequest. */
export interface UpReply {
  up: number;
  producerId?: string;
  /** janus-offer: Janus's answer. */
  sdp?: string;
  error?: string;
}

export interface PublisherStats {
  kind: string;
  packetsSent: number;
  bytesSent: number;
  frameWidth?: number;
  frameHeight?: number;
  framesPerSecond?: number;
  framesEncoded?: number;
  qualityLimitationReason?: string;
  targetBitrate?: number;
}

/** Per kind: what the SFU's producer received (packets, bytes, lost) and what the publisher sent (sent). */
export interface PublisherCounters {
  [kind: string]: { packets: number; bytes: number; lost: number; sent: number };
}

let bot: MediaBot | null = null;
let sendTransport: { getStats(): Promise<RTCStatsReport>; close(): void } | null = null;
/** Janus mode: the sources feed nothing while false (the idle side of an interleaved pair). */
let sending = true;
const timers: NodeJS.Timeout[] = [];
let nextUp = 1;
const upCalls = new Map<number, { resolve: (r: UpReply) => void; reject: (e: Error) => void }>();

/** Asks the bench (raw mode) to act on mediasoup for this publisher. */
function up(req: UpCall): Promise<UpReply> {
  const id = nextUp++;
  return new Promise((resolve, reject) => {
    upCalls.set(id, { resolve, reject });
    process.send!({ ...req, up: id });
  });
}

/** Raw mode: a device on the bare router's capabilities and a send transport whose events go to the bench. */
async function rawTransport(raw: NonNullable<StartRequest['raw']>): Promise<Transport> {
  const device = new Device({ handlerName: 'Chrome111' });
  await device.load({ routerRtpCapabilities: raw.routerRtpCapabilities });
  const transport = device.createSendTransport(raw.transport);
  transport.on('connect', ({ dtlsParameters }, callback, errback) => {
    up({ op: 'connect', dtlsParameters }).then(() => callback(), errback);
  });
  transport.on('produce', ({ kind, rtpParameters }, callback, errback) => {
    up({ op: 'produce', kind, rtpParameters }).then((r) => callback({ id: r.producerId! }), errback);
  });
  return transport;
}

/** Runs `tick` once per `periodMs` of wall-clock time, catching up (at most `maxBurst` at once) when the timer is late. */
function clocked(periodMs: number, maxBurst: number, tick: () => void): void {
  const start = performance.now();
  let done = 0;
  timers.push(
    setInterval(() => {
      const due = Math.floor((performance.now() - start) / periodMs);
      if (due - done > maxBurst) done = due - maxBurst;
      while (done < due) {
        if (sending) tick();
        done++;
      }
    }, periodMs / 2),
  );
}

/**
 * Without bandwidth estimation feedback the publisher is a fixed input (its
 * rate no longer backs off when a saturated box delays packets): mediasoup-client
 * negotiates only what the router capabilities it loads offer, so drop
 * transport-cc and REMB from them in this process.
 */
function disableBwe(): void {
  const load = Device.prototype.load;
  Device.prototype.load = function (this: Device, opts: Parameters<Device['load']>[0]) {
    const caps = opts.routerRtpCapabilities;
    const routerRtpCapabilities: RtpCapabilities = {
      codecs: caps.codecs?.map((c) => ({
        ...c,
        rtcpFeedback: (c.rtcpFeedback ?? []).filter((f) => f.type !== 'transport-cc' && f.type !== 'goog-remb'),
      })),
      headerExtensions: caps.headerExtensions?.filter((h) => !h.uri.includes('transport-wide-cc') && !h.uri.includes('abs-send-time')),
    };
    return load.call(this, { ...opts, routerRtpCapabilities });
  };
}

/** Drops transport-cc, REMB and their header extensions from an SDP (janus mode without --publisher-bwe). */
function stripBwe(sdp: string): string {
  return sdp
    .split('\r\n')
    .filter((l) => !/^a=rtcp-fb:\S+ (transport-cc|goog-remb)/.test(l) && !/^a=extmap:\d+\S* \S*(transport-wide-cc|abs-send-time)/.test(l))
    .join('\r\n');
}

/**
 * Janus's answer carries no x-google-start-bitrate; Switchboard's (and the raw
 * router's) VP8 has 1000 (sfu/codecs.ts), which mediasoup-client puts in the
 * answer it applies. Without BWE feedback libwebrtc would otherwise start at
 * 300 kbps and ramp, so the same parameter goes into Janus's answer here.
 */
function withStartBitrate(sdp: string): string {
  const pt = /a=rtpmap:(\d+) VP8\/90000/i.exec(sdp)?.[1];
  if (!pt) return sdp;
  const fmtp = new RegExp(`^a=fmtp:${pt} (.*)$`, 'm');
  if (fmtp.test(sdp))
    return sdp.replace(fmtp, (line) => (line.includes('x-google-start-bitrate') ? line : `${line};x-google-start-bitrate=1000`));
  return sdp.replace(new RegExp(`^(a=rtpmap:${pt} VP8/90000)`, 'mi'), `$1\r\na=fmtp:${pt} x-google-start-bitrate=1000`);
}

/** Janus mode: one peer connection sending the tracks; the offer goes up, Janus's answer comes back. */
async function janusPublish(req: StartRequest, tracks: Array<{ kind: 'audio' | 'video'; track: MediaStreamTrack }>) {
  const pc = new wrtc.RTCPeerConnection({ iceServers: [] });
  const transceivers = tracks.map(({ kind, track }) =>
    pc.addTransceiver(track, {
      direction: 'sendonly',
      ...(kind === 'video' && req.kbps > 0 ? { sendEncodings: [{ maxBitrate: req.kbps * 1000 }] } : {}),
    }),
  );
  await pc.setLocalDescription(await pc.createOffer());
  // No trickle: wait for the candidates (loopback only, so at once).
  const deadline = Date.now() + 5000;
  while (pc.iceGatheringState !== 'complete' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const sdp = pc.localDescription!.sdp;
  const answer = await up({ op: 'janus-offer', sdp: req.bwe ? sdp : stripBwe(sdp) });
  await pc.setRemoteDescription({ type: 'answer', sdp: withStartBitrate(answer.sdp!) });
  sendTransport = pc;
  const producers: Record<string, string> = {};
  tracks.forEach(({ kind }, i) => (producers[kind] = transceivers[i].mid ?? String(i)));
  return { participantId: 'janus', producers };
}

async function start(req: StartRequest) {
  if (!req.bwe) disableBwe();
  const tracks: Array<{ kind: 'audio' | 'video'; track: MediaStreamTrack }> = [];
  const audioSource = new wrtc.nonstandard.RTCAudioSource();
  tracks.push({ kind: 'audio', track: audioSource.createTrack() });
  const sampleRate = 48000;
  const samples = new Int16Array(sampleRate / 100);
  let t = 0;
  clocked(10, 20, () => {
    for (let i = 0; i < samples.length; i++, t++) samples[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * t) / sampleRate));
    audioSource.onData({ samples, sampleRate });
  });
  if (req.video) {
    const { width, height, fps } = req;
    const source = new wrtc.nonstandard.RTCVideoSource();
    tracks.push({ kind: 'video', track: source.createTrack() });
    const data = new Uint8Array(width * height * 1.5);
    let n = 0;
    // A camera that is late drops frames rather than bursting: catch up by one at most.
    clocked(1000 / fps, 1, () => {
      n++;
      for (let y = 0; y < height; y += 4) data.fill((y + n * 3) & 0xff, y * width, y * width + width);
      source.onFrame({ width, height, data });
    });
  }
  if (req.janus) return janusPublish(req, tracks);

  let transport: Transport;
  if (req.raw) {
    transport = await rawTransport(req.raw);
  } else {
    bot = await MediaBot.join(req.url, req.token, req.room);
    // MediaBot's own sources tick on plain 10 ms / frame timers that fall behind on a busy
    // machine; produce clocked sources on its send transport instead (made by its private send()).
    transport = await (bot as unknown as { send(): Promise<Transport> }).send();
  }
  sendTransport = transport;
  const producers: Record<string, string> = {};
  for (const { kind, track } of tracks) {
    const producer = await transport.produce({
      track,
      appData: { source: kind === 'audio' ? 'mic' : 'camera' },
      // wrtc rejects RTCRtpSender.setParameters, so the cap must be in the initial encodings.
      ...(kind === 'video' && req.kbps > 0 ? { encodings: [{ maxBitrate: req.kbps * 1000 }] } : {}),
    });
    bot?.producers.set(producer.id, producer);
    producers[kind] = producer.id;
  }
  return { participantId: bot?.participantId ?? 'raw', producers };
}

async function stats(): Promise<PublisherStats[]> {
  const out: PublisherStats[] = [];
  const report = await sendTransport!.getStats();
  report.forEach((x: Record<string, unknown>) => {
    if (x['type'] !== 'outbound-rtp') return;
    const s: PublisherStats = {
      kind: String(x['kind'] ?? x['mediaType']),
      packetsSent: Number(x['packetsSent'] ?? 0),
      bytesSent: Number(x['bytesSent'] ?? 0),
    };
    for (const key of ['frameWidth', 'frameHeight', 'framesPerSecond', 'framesEncoded', 'targetBitrate'] as const) {
      if (x[key] !== undefined) s[key] = Number(x[key]);
    }
    if (x['qualityLimitationReason'] !== undefined) s.qualityLimitationReason = String(x['qualityLimitationReason']);
    out.push(s);
  });
  return out;
}

process.on('message', (msg: PublisherRequest | UpReply) => {
  if ('up' in msg) {
    const call = upCalls.get(msg.up);
    upCalls.delete(msg.up);
    if (msg.error) call?.reject(new Error(msg.error));
    else call?.resolve(msg);
    return;
  }
  const req = msg;
  const run = async () => {
    switch (req.cmd) {
      case 'start':
        return start(req);
      case 'stats':
        return { stats: await stats() };
      case 'sending':
        sending = req.on;
        return {};
      case 'close':
        for (const t of timers) clearInterval(t);
        await bot?.close().catch(() => {});
        if (!bot) sendTransport?.close();
        setTimeout(() => process.exit(0), 100);
        return {};
    }
  };
  run().then(
    (reply) => process.send!({ id: req.id, ...reply }),
    (err: unknown) => process.send!({ id: req.id, error: String((err as Error)?.stack ?? err) }),
  );
});
process.on('disconnect', () => process.exit(0));
