import type { Consumer, DataConsumer, DataProducer, Producer, WebRtcTransport } from 'mediasoup/types';
import type { Quality, Source } from '../server/kernel/media.js';
import type { RemoteRouter } from './cascade/remoteRouter.js';
import { METHOD } from './cascade/wire.js';
import type { RouterSlot } from './routerSlot.js';

export interface TransportEntry {
  transport: WebRtcTransport;
  direction: 'send' | 'recv';
  slot: RouterSlot;
  /** Consumers reserved on the slot for this receiver and not created yet. */
  reserved: number;
  /** connect-transport was accepted (or is under way): DTLS connects once. */
  connected: boolean;
  // What the worker's RTP listener and SCTP association hold unique per
  // transport, taken when a request is accepted (before mediasoup answers, so
  // two requests at once cannot both pass) and given back when it fails or
  // its producer closes. A clash is the client's mistake, answered as such.
  readonly mids: Set<string>;
  readonly ssrcs: Set<number>;
  /** RIDs of producers without a mid (the worker keys those by RID). */
  readonly rids: Set<string>;
  readonly streamIds: Set<number>;
}

export interface ConsumerEntry {
  consumer: Consumer;
  slot: RouterSlot;
  /** The publisher's producer id (the consumer may read from a piped copy). */
  producerId: string;
}

/** A viewer's recv transport on another node's router (cascade). */
export interface RemoteTransportEntry {
  id: string;
  router: RemoteRouter;
  connected: boolean;
}

/** A consumer that lives on another node; the owner keeps what the viewer's requests need. */
export interface RemoteConsumerEntry {
  router: RemoteRouter;
  producerId: string;
  type: string;
  // Dynacast: what the viewer asked for through this node (it starts paused, on the top layer).
  paused: boolean;
  /** The preferred spatial layer asked for (null: none asked, the top). */
  spatialLayer: number | null;
  /** Drops the consumer's dynacast want (when it is forgotten). */
  release: () => void;
}

/** One participant's media objects in a room, and the scores behind its connection quality. */
export class MediaPeer {
  readonly transports = new Map<string, TransportEntry>();
  readonly producers = new Map<string, { producer: Producer; source: Source }>();
  readonly consumers = new Map<string, ConsumerEntry>();
  readonly dataProducers = new Map<string, DataProducer>();
  readonly dataConsumers = new Map<string, DataConsumer>();
  /** Latest mediasoup score (0-10) per producer (upstream) and consumer (downstream). */
  readonly scores = new Map<string, number>();
  quality: Quality | null = null;
  // Cascade: this peer's recv side on another node (at most one transport).
  readonly remoteTransports = new Map<string, RemoteTransportEntry>();
  readonly remoteConsumers = new Map<string, RemoteConsumerEntry>();
  readonly remoteDataConsumers = new Map<string, RemoteRouter>();

  constructor(readonly id: string) {}

  transportOf(direction: 'send' | 'recv'): TransportEntry | undefined {
    for (const t of this.transports.values()) if (t.direction === direction) return t;
    return undefined;
  }

  /** Worst score of everything this peer sends or receives, as a quality level. */
  currentQuality(): { quality: Quality; score: number } | null {
    if (this.scores.size === 0) return null;
    const score = Math.min(...this.scores.values());
    const quality: Quality = score >= 7 ? 'excellent' : score >= 4 ? 'good' : score >= 1 ? 'poor' : 'lost';
    return { quality, score };
  }

  closeAll(): void {
    // Closing a transport closes its producers, consumers and data channels.
    // On a worker whose request builder broke, close() throws after marking
    // the transport closed; the worker's health check replaces that worker.
    for (const t of this.transports.values()) {
      try {
        t.transport.close();
      } catch {
        // closed on our side; the worker is being replaced
      }
    }
    for (const t of this.remoteTransports.values()) t.router.tell(METHOD.transportOp, { transportId: t.id, op: 'close' });
    this.dropRemote();
  }

  /** Forgets what lived on remote routers (all of them, or one that is gone). */
  dropRemote(router?: RemoteRouter): void {
    for (const [id, t] of this.remoteTransports) {
      if (router && t.router !== router) continue;
      this.remoteTransports.delete(id);
      t.router.removeTransport(id);
    }
    for (const [id, c] of this.remoteConsumers) {
      if (router && c.router !== router) continue;
      this.remoteConsumers.delete(id);
      this.scores.delete(id);
      c.release();
    }
    for (const [id, r] of this.remoteDataConsumers) if (!router || r === router) this.remoteDataConsumers.delete(id);
  }
}
