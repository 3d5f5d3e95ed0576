// What a MediaRoom tells its owner (the rooms domain), mediasoup-style: typed
// events on the room itself. The domain turns them into messages for the
// participants and into webhooks; the SFU never knows how they are spoken.
// Events about one participant's own objects name that participant first.
// Watchers that must see every producer, even while the room resets or
// closes (recorders, live streams), use `MediaRoom.observer` instead.

import type { DataProducerInfo, ProducerInfo, Quality } from '../server/kernel/media.js';

export interface MediaRoomEvents {
  /** A participant published a track; everyone else may consume it. */
  newproducer: [producer: ProducerInfo];
  producerclose: [producer: ProducerInfo];
  producerpause: [producer: ProducerInfo];
  producerresume: [producer: ProducerInfo];
  newdataproducer: [dataProducer: DataProducerInfo];
  dataproducerclose: [dataProducer: DataProducerInfo];
  /** The producer behind a participant's consumer closed, paused, resumed or changed layers. */
  consumerclose: [peerId: string, consumerId: string, producerId: string];
  consumerpause: [peerId: string, consumerId: string];
  consumerresume: [peerId: string, consumerId: string];
  consumerlayerschange: [peerId: string, consumerId: string, spatialLayer: number | null, temporalLayer: number | null];
  dataconsumerclose: [peerId: string, dataConsumerId: string];
  /** The loudest microphones (every AUDIO_LEVEL_INTERVAL_MS), empty on silence. */
  audiolevels: [levels: { peerId: string; volume: number }[]];
  activespeaker: [peerId: string];
  /** A participant's connection quality changed (the lowest score of its producers and consumers, 0-10). */
  quality: [peerId: string, quality: Quality, score: number];
  /**
   * Dynacast: the publisher of a layered video producer should send spatial
   * layers 0..maxSpatialLayer only (null: none; nobody receives it).
   */
  publisherlayers: [peerId: string, producerId: string, maxSpatialLayer: number | null];
  /** A participant's media is gone with its worker or remote router: it must rebuild (reason: worker-died, worker-unhealthy, or the router's). */
  reset: [peerId: string, reason: string];
}

// Recording and live streaming: what recorders watch, mediasoup-style.
export interface MediaRoomObserverEvents {
  produceradd: [ProducerInfo];
  producerclose: [ProducerInfo];
  producerpause: [ProducerInfo];
  producerresume: [ProducerInfo];
  close: [];
  /** Live streaming: the dominant speaker changed (participant id), for a stream that follows it. */
  activespeaker: [string];
}
