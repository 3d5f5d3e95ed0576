// A participant's tracks and data channels going into the room: producers on
// its send transport, their pausing, and the news they make.

import type { RtpParameters, SctpStreamParameters } from 'mediasoup/types';
import { AppError } from '../server/kernel/errors.js';
import { SOURCE_KIND, type DataProducerInfo, type MediaKind, type ProducerInfo, type Source } from '../server/kernel/media.js';
import type { RoomCascade } from './cascade/cascade.js';
import { claimRtpIds, claimStreamId, clientCall } from './clientMistakes.js';
import { spatialLayersOf } from './dynacast.js';
import type { MediaPeer, TransportEntry } from './mediaPeer.js';
import type { RoomState } from './roomState.js';
import type { Speakers } from './speakers.js';

export interface ProduceRequest {
  transportId: string;
  kind: MediaKind;
  rtpParameters: RtpParameters;
  source: Source;
  paused: boolean;
}

export interface ProduceDataRequest {
  transportId: string;
  sctpStreamParameters: SctpStreamParameters;
  label: string;
  protocol: string;
}

export class Publishing {
  constructor(
    private readonly state: RoomState,
    private readonly speakers: Speakers,
    private readonly remote: RoomCascade | null,
  ) {}

  async produce(peer: MediaPeer, entry: TransportEntry, req: ProduceRequest): Promise<string> {
    const { state } = this;
    if (entry.direction !== 'send') throw new AppError('invalid_payload', 'produce needs a send transport', 'transport_id');
    if (SOURCE_KIND[req.source] !== req.kind) {
      throw new AppError('invalid_payload', `source ${req.source} carries ${SOURCE_KIND[req.source]}, not ${req.kind}`, 'source');
    }
    for (const p of peer.producers.values()) {
      if (p.source === req.source) throw new AppError('conflict', `you already publish a ${req.source} track; close it first`);
    }
    const release = claimRtpIds(entry, req.rtpParameters);
    let producer;
    try {
      producer = await clientCall(
        'produce',
        () =>
          entry.transport.produce({
            kind: req.kind,
            rtpParameters: req.rtpParameters,
            paused: req.paused,
            appData: { peerId: peer.id, source: req.source },
          }),
        (err) => state.suspect(entry.slot, err),
      );
    } catch (err) {
      release();
      throw err;
    }
    producer.observer.once('close', release);
    const info: ProducerInfo = {
      producer_id: producer.id,
      participant_id: peer.id,
      kind: req.kind,
      source: req.source,
      paused: producer.paused,
    };
    peer.producers.set(producer.id, { producer, source: req.source });
    state.producers.set(producer.id, { peer, info });
    producer.on('score', () => this.rescore(producer.id));
    state.dynacast?.addProducer(producer.id, spatialLayersOf(producer));
    producer.observer.once('close', () => {
      state.dynacast?.removeProducer(producer.id);
      peer.producers.delete(producer.id);
      peer.scores.delete(producer.id);
      state.producers.delete(producer.id);
      if (!state.quiet) state.news.emit('producerclose', info);
      state.observer.emit('producerclose', info);
    });
    if (req.source === 'mic') this.speakers.addMic(producer.id);
    this.remote?.producerAdded(producer.id);
    state.news.emit('newproducer', info);
    state.observer.emit('produceradd', info);
    return producer.id;
  }

  /**
   * The producer's score for its publisher's connection quality: its worst
   * stream, leaving out the layers dynacast told the publisher not to send.
   */
  rescore(producerId: string): void {
    const entry = this.state.producers.get(producerId);
    const producer = entry?.peer.producers.get(producerId)?.producer;
    if (!entry || !producer || producer.closed) return;
    const counted = this.state.dynacast?.scoredLayer(producerId);
    const scores = producer.score.filter((s) => counted === undefined || (counted !== null && s.encodingIdx <= counted));
    this.state.setScore(entry.peer, producerId, scores.length ? Math.min(...scores.map((s) => s.score)) : 10);
  }

  /** Pauses or resumes a producer of the room (nothing when it is gone or already so). */
  async pause(producerId: string, paused: boolean): Promise<void> {
    const entry = this.state.producers.get(producerId);
    if (!entry) return;
    const producer = entry.peer.producers.get(producerId)?.producer;
    if (!producer || producer.paused === paused) return;
    if (paused) await producer.pause();
    else await producer.resume();
    entry.info.paused = paused;
    this.state.news.emit(paused ? 'producerpause' : 'producerresume', entry.info);
    this.state.observer.emit(paused ? 'producerpause' : 'producerresume', entry.info);
  }

  async produceData(peer: MediaPeer, entry: TransportEntry, req: ProduceDataRequest): Promise<string> {
    const { state } = this;
    const release = claimStreamId(entry, req.sctpStreamParameters);
    let dataProducer;
    try {
      dataProducer = await clientCall(
        'produce-data',
        () =>
          entry.transport.produceData({
            sctpStreamParameters: req.sctpStreamParameters,
            label: req.label,
            protocol: req.protocol,
            appData: { peerId: peer.id },
          }),
        (err) => state.suspect(entry.slot, err),
      );
    } catch (err) {
      release();
      throw err;
    }
    dataProducer.observer.once('close', release);
    const info: DataProducerInfo = { data_producer_id: dataProducer.id, participant_id: peer.id, label: req.label, protocol: req.protocol };
    peer.dataProducers.set(dataProducer.id, dataProducer);
    state.dataProducers.set(dataProducer.id, { peer, info });
    dataProducer.observer.once('close', () => {
      peer.dataProducers.delete(dataProducer.id);
      state.dataProducers.delete(dataProducer.id);
      if (!state.quiet) state.news.emit('dataproducerclose', info);
    });
    state.news.emit('newdataproducer', info);
    return dataProducer.id;
  }
}
