// The SFU bench's world: the server (its own SFU, mediasoup workers), the
// sink processes, the publishers and the real WebRTC bots, the raw-mediasoup
// anchor (--baseline raw), and how to stop them all.

import type { MediaRoom } from '../../sfu/mediaRoom.js';
import { MediaBot } from '../../clients/node/mediaBot.js';
import { startServer, type TestServer } from '../../test/support/server.js';
import type { Options } from './args.js';
import { log } from './common.js';
import { Publisher } from './publisherClient.js';
import { JanusServer } from './janus.js';
import { RawMediasoup } from './rawMediasoup.js';
import { SinkProc } from './sinkProc.js';

export class Bench {
  srv!: TestServer;
  readonly sinks: SinkProc[] = [];
  readonly bots: MediaBot[] = [];
  /** A mediasoup worker died (and was replaced): later steps would measure a different node. */
  workerDied = false;
  /** --baseline raw: mediasoup alone, on its own worker. */
  raw: RawMediasoup | null = null;
  /** --baseline janus: Debian's Janus with a generated config. */
  janus: JanusServer | null = null;
  private readonly publishers = new Set<Publisher>();

  constructor(readonly o: Options) {}

  async start(): Promise<void> {
    log(`starting the server: ${this.o.workers} mediasoup workers, router consumer budget ${this.o.budget}`);
    this.srv = await startServer({
      sfuWorkers: this.o.workers,
      env: { SFU_ROUTER_CONSUMER_BUDGET: String(this.o.budget), MEDIASOUP_LOG_LEVEL: 'error', ROOM_DEFAULT_TYPE: 'broadcast' }, // room control: one room of 1000+
    });
    this.sfu.pool.on('worker-replaced', (slot) => {
      this.workerDied = true;
      log(`!! mediasoup worker ${slot.index} died and was replaced: results after this are invalid`);
    });
    for (let i = 0; i < this.o.sinkProcs; i++) this.sinks.push(SinkProc.start());
    if (this.o.baselines.includes('raw')) {
      this.raw = await RawMediasoup.start();
      this.raw.worker.on('died', () => {
        this.workerDied = true;
        log('!! the raw baseline worker died: results after this are invalid');
      });
      log(`raw baseline: mediasoup worker pid ${this.raw.pid} (same binary), alone`);
    }
    if (this.o.baselines.includes('janus')) this.janus = await JanusServer.start({ log });
  }

  get sfu() {
    return this.srv.app.sfu!;
  }

  async join(user: string, room: string, role: 'host' | 'viewer'): Promise<MediaBot> {
    const token = await this.srv.mint({ userId: user, role, ttlSeconds: 4 * 3600 });
    const bot = await MediaBot.join(this.srv.url, token, room);
    this.bots.push(bot);
    return bot;
  }

  media(room: string): MediaRoom {
    const media = this.srv.app.rooms.getRoom(room)?.media;
    if (!media) throw new Error(`room ${room} has no SFU side`);
    return media;
  }

  /** Publisher (its own process, see publisher.ts): Opus, and VP8 (non-simulcast) capped at --video-kbps when video. */
  async publish(room: string, video: boolean): Promise<Publisher> {
    const token = await this.srv.mint({ userId: `pub-${room}`, role: 'host', ttlSeconds: 4 * 3600 });
    const pub = Publisher.start();
    this.publishers.add(pub);
    const { width, height, fps } = this.o;
    await pub.begin({ url: this.srv.url, token, room, video, width, height, fps, kbps: this.o.videoKbps, bwe: this.o.publisherBwe });
    return pub;
  }

  async unpublish(pub: Publisher): Promise<void> {
    await pub.close();
    this.publishers.delete(pub);
  }

  /** Routers and consumers on each worker. */
  routerLayout() {
    return this.sfu.pool.slots.map((s) => ({ worker: s.index, routers: s.routers.size, consumers: s.consumers }));
  }

  async stop(): Promise<void> {
    for (const p of this.publishers) p.kill();
    for (const b of this.bots.splice(0)) await b.close().catch(() => {});
    for (const s of this.sinks) s.kill();
    this.raw?.close();
    this.janus?.stop();
    await this.srv?.stop().catch(() => {});
  }
}
