// What every part of a MediaRoom shares: its participants, the producers
// published in it, the emitters its news goes out on, and the lookups that
// answer a client asking for something it does not have.

import type { EventEmitter } from 'node:events';
import { AppError } from '../server/kernel/errors.js';
import type { Logger } from '../server/kernel/logger.js';
import type { DataProducerInfo, ProducerInfo } from '../server/kernel/media.js';
import type { Dynacast } from './dynacast.js';
import type { ConsumerEntry, MediaPeer, TransportEntry } from './mediaPeer.js';
import type { MediaRoomEvents, MediaRoomObserverEvents } from './mediaRoomEvents.js';
import type { RouterSlot } from './routerSlot.js';
import type { WorkerPool } from './workerPool.js';

export interface RoomStateOptions {
  name: string;
  log: Logger;
  pool: WorkerPool;
  /** The room itself: news for the rooms domain. */
  news: EventEmitter<MediaRoomEvents>;
  /** Producers for recorders and live streams (never for signaling). */
  observer: EventEmitter<MediaRoomObserverEvents>;
  /** Dynacast (null when DYNACAST is off): which layers each publisher should send. */
  dynacast: Dynacast | null;
}

export class RoomState {
  readonly peers = new Map<string, MediaPeer>();
  readonly producers = new Map<string, { peer: MediaPeer; info: ProducerInfo }>();
  readonly dataProducers = new Map<string, { peer: MediaPeer; info: DataProducerInfo }>();
  /** Set while the room resets or closes: the objects closing then are not news. */
  quiet = false;
  closed = false;
  readonly name: string;
  readonly log: Logger;
  readonly news: EventEmitter<MediaRoomEvents>;
  readonly observer: EventEmitter<MediaRoomObserverEvents>;
  readonly dynacast: Dynacast | null;
  private readonly pool: WorkerPool;

  constructor(opts: RoomStateOptions) {
    this.name = opts.name;
    this.log = opts.log;
    this.pool = opts.pool;
    this.news = opts.news;
    this.observer = opts.observer;
    this.dynacast = opts.dynacast;
  }

  /** True while `peer` is still the room's participant of that id (it may have left during an await). */
  present(peer: MediaPeer): boolean {
    return this.peers.get(peer.id) === peer;
  }

  peer(peerId: string): MediaPeer {
    const peer = this.peers.get(peerId);
    if (!peer) throw new AppError('not_in_room', 'you are not in this room');
    return peer;
  }

  transport(peerId: string, transportId: string): TransportEntry {
    const entry = this.peer(peerId).transports.get(transportId);
    if (!entry) throw new AppError('not_found', `you have no transport ${transportId}`, 'transport_id');
    return entry;
  }

  ownProducer(peerId: string, producerId: string) {
    const entry = this.peer(peerId).producers.get(producerId);
    if (!entry) throw new AppError('not_found', `you have no producer ${producerId}`, 'producer_id');
    return entry;
  }

  ownConsumer(peerId: string, consumerId: string): ConsumerEntry {
    const entry = this.peer(peerId).consumers.get(consumerId);
    if (!entry) throw new AppError('not_found', `you have no consumer ${consumerId}`, 'consumer_id');
    return entry;
  }

  /** A mediasoup call failed in a way no client causes: the worker gets a health check now. */
  suspect(slot: RouterSlot, err: unknown): void {
    this.pool.suspect(slot.worker, err);
  }

  /** Records a producer's or consumer's score; a new quality level is news. */
  setScore(peer: MediaPeer, id: string, score: number): void {
    peer.scores.set(id, score);
    const current = peer.currentQuality();
    if (!current || current.quality === peer.quality) return;
    peer.quality = current.quality;
    this.news.emit('quality', peer.id, current.quality, current.score);
  }

  /**
   * Closes all media of `peers` quietly (after `prepare`, e.g. dropping the
   * lost routers), then tells each to rebuild with sfu-reset.
   */
  resetPeers(peers: MediaPeer[], reason: string, prepare: () => void = () => {}): void {
    this.quiet = true;
    prepare();
    for (const peer of peers) peer.closeAll();
    this.quiet = false;
    for (const peer of peers) this.news.emit('reset', peer.id, reason);
  }
}
