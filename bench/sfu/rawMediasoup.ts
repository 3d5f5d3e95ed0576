// The --baseline raw anchor: the same load through mediasoup alone, with no
// Switchboard layer. One worker (the same binary, resolved as the server
// resolves it), a WebRtcServer with the same listen options as the server's
// pool, one router per fan-out room with the same codecs, the publisher's
// WebRTC send transport made as the server makes it (publisher.ts drives it over
// IPC), and each cheap subscriber one plain transport with SRTP, made exactly as
// sfu/plainSubscribers.ts makes it, with the same capabilities (transport-cc per
// --tcc). What Switchboard adds and this does not: signaling, budgets and pipes,
// the speaking observers, score events and health checks.

import * as mediasoup from 'mediasoup';
import type { Consumer, PlainTransport, Producer, Router, WebRtcServer, WebRtcTransport, Worker } from 'mediasoup/types';
import { MEDIA_CODECS } from '../../sfu/codecs.js';
import type { PlainSubscriberOptions } from '../../sfu/plainSubscribers.js';
import { resolveWorkerBin } from '../../sfu/workerBinary.js';
import type { PublisherCounters, PublisherStats, UpRequest } from './publisher.js';
import { Publisher } from './publisherClient.js';

const LISTEN_IP = '127.0.0.1';

export class RawMediasoup {
  private readonly rooms = new Set<RawRoom>();

  private constructor(
    readonly worker: Worker,
    readonly webRtcServer: WebRtcServer,
  ) {}

  /** Starts the worker and its WebRtcServer (udp + tcp, 4 MiB socket buffers on udp, as sfu/workerPool.ts). */
  static async start(): Promise<RawMediasoup> {
    const worker = await mediasoup.createWorker({
      workerBin: resolveWorkerBin(process.env['MEDIASOUP_WORKER_BIN'] ?? null),
      logLevel: 'error',
    });
    const listen = (protocol: 'udp' | 'tcp') => ({
      protocol,
      ip: LISTEN_IP,
      ...(protocol === 'udp' ? { recvBufferSize: 4 * 1024 * 1024, sendBufferSize: 4 * 1024 * 1024 } : {}),
    });
    const webRtcServer = await worker.createWebRtcServer({ listenInfos: [listen('udp'), listen('tcp')] });
    return new RawMediasoup(worker, webRtcServer);
  }

  get pid(): number {
    return this.worker.pid;
  }

  /** CPU time and memory of the worker, read the way the server's pool reads its own (sampling.ts). */
  async usage(): Promise<Array<{ index: number; pid: number; cpu_ms: number; rss_kb: number }>> {
    const u = await this.worker.getResourceUsage();
    return [{ index: 0, pid: this.worker.pid, cpu_ms: u.ru_utime + u.ru_stime, rss_kb: u.ru_maxrss }];
  }

  /** A fan-out room: a router with Switchboard's codecs and a publisher process sending into it. */
  async room(opts: { video: boolean; width: number; height: number; fps: number; kbps: number; bwe: boolean }): Promise<RawRoom> {
    const router = await this.worker.createRouter({ mediaCodecs: MEDIA_CODECS });
    const room = new RawRoom(router, this.webRtcServer);
    this.rooms.add(room);
    router.observer.once('close', () => this.rooms.delete(room));
    try {
      await room.publish(opts);
    } catch (err) {
      room.close();
      throw err;
    }
    return room;
  }

  /** Closes the rooms (their publisher processes go too) and the worker. */
  close(): void {
    for (const room of this.rooms) room.close();
    this.worker.close();
  }
}

/** One router, its publisher and its plain subscribers (a PlainTarget for subscribers.ts's addCheap). */
export class RawRoom {
  readonly routerCount = 1;
  /** Consumers on the router (the one worker): for addCheap's placement bookkeeping. */
  consumerCount = 0;
  /** kind -> producer id, as Publisher.producers. */
  producers: Record<string, string> = {};
  private readonly producerById = new Map<string, Producer>();
  private sendTransport: WebRtcTransport | null = null;
  pub: Publisher | null = null;

  constructor(
    readonly router: Router,
    private readonly webRtcServer: WebRtcServer,
  ) {}

  /** The publisher's send transport as sfu/peerTransports.ts opens it; the publisher's events are answered here. */
  async publish(opts: { video: boolean; width: number; height: number; fps: number; kbps: number; bwe: boolean }): Promise<void> {
    const transport = await this.router.createWebRtcTransport({
      webRtcServer: this.webRtcServer,
      enableUdp: true,
      enableTcp: true,
      preferUdp: true,
      enableSctp: true, // MediaBot asks for SCTP (data channels) on its transports
      initialAvailableOutgoingBitrate: 1_000_000,
    });
    this.sendTransport = transport;
    const pub = Publisher.start();
    this.pub = pub;
    pub.onUp = (req: UpRequest) => this.answer(transport, req);
    await pub.begin({
      url: '',
      token: '',
      room: '',
      ...opts,
      raw: {
        routerRtpCapabilities: this.router.rtpCapabilities as never,
        transport: {
          id: transport.id,
          iceParameters: transport.iceParameters,
          iceCandidates: transport.iceCandidates,
          dtlsParameters: transport.dtlsParameters,
          ...(transport.sctpParameters ? { sctpParameters: transport.sctpParameters } : {}),
        },
      },
    });
    this.producers = pub.producers;
  }

  private async answer(transport: WebRtcTransport, req: UpRequest): Promise<{ producerId?: string }> {
    if (req.op === 'connect') {
      await transport.connect({ dtlsParameters: req.dtlsParameters });
      return {};
    }
    if (req.op !== 'produce') throw new Error(`raw mediasoup: unexpected ${req.op}`);
    const producer = await transport.produce({ kind: req.kind, rtpParameters: req.rtpParameters, paused: false });
    this.producerById.set(producer.id, producer);
    return { producerId: producer.id };
  }

  /** Pauses or resumes every producer (the idle side of an interleaved pair forwards nothing). */
  async setPaused(paused: boolean): Promise<void> {
    await Promise.all([...this.producerById.values()].map((p) => (paused ? p.pause() : p.resume())));
  }

  /** As sfu/plainSubscribers.ts: one plain transport (rtcpMux, no comedia, SRTP) carrying a consumer per producer. */
  async createPlainSubscriber(
    producerIds: string[],
    opts: PlainSubscriberOptions,
  ): Promise<{ transport: PlainTransport; consumers: Consumer[] }> {
    const transport = await this.router.createPlainTransport({
      listenInfo: { protocol: 'udp', ip: LISTEN_IP },
      rtcpMux: true,
      comedia: false,
      enableSrtp: Boolean(opts.srtp),
      ...(opts.srtp ? { srtpCryptoSuite: opts.srtp.cryptoSuite } : {}),
    });
    const consumers: Consumer[] = [];
    try {
      await transport.connect({ ip: opts.ip, port: opts.port, ...(opts.srtp ? { srtpParameters: opts.srtp } : {}) });
      for (const producerId of producerIds) {
        const consumer = await transport.consume({ producerId, rtpCapabilities: opts.rtpCapabilities, paused: opts.paused ?? false });
        this.consumerCount++;
        consumer.observer.once('close', () => this.consumerCount--);
        consumers.push(consumer);
      }
      return { transport, consumers };
    } catch (err) {
      transport.close();
      throw err;
    }
  }

  /** What the producers received and what the publisher says it sent, per kind (as sampling.ts's publisherCounters). */
  async counters(): Promise<PublisherCounters> {
    const out: PublisherCounters = {};
    const sender = this.pub ? this.pub.stats().catch(() => [] as PublisherStats[]) : Promise.resolve([] as PublisherStats[]);
    await Promise.all(
      Object.entries(this.producers).map(async ([kind, id]) => {
        const producer = this.producerById.get(id);
        const c = { packets: 0, bytes: 0, lost: 0, sent: 0 };
        for (const s of producer ? await producer.getStats() : []) {
          c.packets += s.packetCount;
          c.bytes += s.byteCount;
          c.lost += s.packetsLost;
        }
        out[kind] = c;
      }),
    );
    for (const x of await sender) if (out[x.kind]) out[x.kind].sent += x.packetsSent;
    return out;
  }

  async unpublish(): Promise<void> {
    await this.pub?.close();
    this.pub = null;
  }

  close(): void {
    this.pub?.kill();
    this.sendTransport?.close();
    if (!this.router.closed) this.router.close();
  }
}
