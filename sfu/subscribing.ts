// A participant receiving the room on this node: consumers and data
// consumers on its recv transport (on whichever router it was placed), and
// the news about the producers behind them.

import type { RtpCapabilities } from 'mediasoup/types';
import { AppError } from '../server/kernel/errors.js';
import type { DataConsumerParams } from './cascade/wire.js';
import { clientCall } from './clientMistakes.js';
import { consumerParams, type ConsumerOptions } from './consumerParams.js';
import type { ConsumerEntry, MediaPeer, TransportEntry } from './mediaPeer.js';
import type { RoomRouters } from './roomRouters.js';
import type { RoomState } from './roomState.js';

export class Subscribing {
  constructor(
    private readonly state: RoomState,
    private readonly routers: RoomRouters,
  ) {}

  async consume(
    peer: MediaPeer,
    entry: TransportEntry,
    req: { producerId: string; rtpCapabilities: RtpCapabilities },
  ): Promise<ConsumerOptions> {
    const { state } = this;
    const peerId = peer.id;
    if (entry.direction !== 'recv') throw new AppError('invalid_payload', 'consume needs a recv transport', 'transport_id');
    const source = state.producers.get(req.producerId);
    if (!source) throw new AppError('not_found', `no producer ${req.producerId} in this room`, 'producer_id');
    const localId = await this.routers.pipedId(entry.slot, 'producer', req.producerId);
    const rtpCapabilities = req.rtpCapabilities;
    const canConsume = await clientCall('consume', async () => entry.slot.router.canConsume({ producerId: localId, rtpCapabilities }));
    if (!canConsume) throw new AppError('invalid_payload', 'your rtp_capabilities cannot receive this producer', 'rtp_capabilities');
    const consumer = await clientCall(
      'consume',
      () =>
        entry.transport.consume({ producerId: localId, rtpCapabilities, paused: true, appData: { peerId, producerId: req.producerId } }),
      (err) => state.suspect(entry.slot, err),
    );
    if (!state.present(peer)) {
      consumer.close();
      throw new AppError('not_in_room', 'you left the room');
    }
    entry.slot.addConsumer();
    if (entry.reserved > 0) {
      entry.reserved--;
      entry.slot.release(1);
    }
    peer.consumers.set(consumer.id, { consumer, slot: entry.slot, producerId: req.producerId });
    // What happens to the consumer's producer is news for its peer (not while the room resets).
    const tell = (fn: () => void) => {
      if (!state.quiet) fn();
    };
    consumer.observer.once('close', () => {
      entry.slot.removeConsumer();
      peer.consumers.delete(consumer.id);
      peer.scores.delete(consumer.id);
    });
    consumer.on('producerclose', () => tell(() => state.news.emit('consumerclose', peerId, consumer.id, req.producerId)));
    consumer.on('producerpause', () => tell(() => state.news.emit('consumerpause', peerId, consumer.id)));
    consumer.on('producerresume', () => tell(() => state.news.emit('consumerresume', peerId, consumer.id)));
    consumer.on('layerschange', (layers) =>
      tell(() => state.news.emit('consumerlayerschange', peerId, consumer.id, layers?.spatialLayer ?? null, layers?.temporalLayer ?? null)),
    );
    consumer.on('score', ({ score }) => state.setScore(peer, consumer.id, score));
    state.dynacast?.watchConsumer(req.producerId, consumer);
    return consumerParams(consumer, req.producerId);
  }

  async setConsumerLayers(entry: ConsumerEntry, spatialLayer: number, temporalLayer?: number): Promise<void> {
    const { consumer, slot } = entry;
    if (consumer.type !== 'simulcast' && consumer.type !== 'svc') {
      throw new AppError('invalid_payload', `a ${consumer.type} consumer has no layers`, 'consumer_id');
    }
    await clientCall(
      'set-consumer-layers',
      () => consumer.setPreferredLayers({ spatialLayer, ...(temporalLayer !== undefined ? { temporalLayer } : {}) }),
      (err) => this.state.suspect(slot, err),
    );
    this.state.dynacast?.refresh(entry.producerId);
  }

  async consumeData(peer: MediaPeer, entry: TransportEntry, dataProducerId: string): Promise<DataConsumerParams> {
    const { state } = this;
    const peerId = peer.id;
    if (entry.direction !== 'recv') throw new AppError('invalid_payload', 'consume-data needs a recv transport', 'transport_id');
    if (!entry.transport.sctpParameters) {
      throw new AppError('invalid_payload', 'this transport has no data channels: create it with sctp: true', 'transport_id');
    }
    if (!state.dataProducers.has(dataProducerId)) throw new AppError('not_found', `no data producer ${dataProducerId}`, 'data_producer_id');
    const localId = await this.routers.pipedId(entry.slot, 'dataProducer', dataProducerId);
    const dataConsumer = await clientCall(
      'consume-data',
      () => entry.transport.consumeData({ dataProducerId: localId, appData: { peerId, dataProducerId } }),
      (err) => state.suspect(entry.slot, err),
    );
    peer.dataConsumers.set(dataConsumer.id, dataConsumer);
    dataConsumer.observer.once('close', () => peer.dataConsumers.delete(dataConsumer.id));
    dataConsumer.on('dataproducerclose', () => {
      if (!state.quiet) state.news.emit('dataconsumerclose', peerId, dataConsumer.id);
    });
    return {
      id: dataConsumer.id,
      dataProducerId,
      sctpStreamParameters: dataConsumer.sctpStreamParameters,
      label: dataConsumer.label,
      protocol: dataConsumer.protocol,
    };
  }
}
