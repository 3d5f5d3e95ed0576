// The SFU's events for one room, told to its participants: the one place that
// turns MediaRoomEvents into wire messages. Track events also go to the
// caller's `onTrack` first (the track webhooks), in the order they happened.

import { encode, type ServerMessage } from '../../../signaling/protocol/protocol.js';
import type { ProducerInfo } from '../../kernel/media.js';
import type { MediaRoom } from '../../../sfu/mediaRoom.js';
import type { Room } from './room.js';

export type TrackEvent = 'track_published' | 'track_unpublished';
export type TrackPayload = ProducerInfo | Pick<ProducerInfo, 'producer_id' | 'participant_id'>;

export function tellParticipants(media: MediaRoom, room: Room, onTrack: (event: TrackEvent, track: TrackPayload) => void): void {
  const sendTo = (id: string, message: ServerMessage) => room.participants.get(id)?.sink.send(encode(message));
  const broadcast = (message: ServerMessage, except?: string) => {
    const encoded = encode(message);
    for (const q of room.participants.values()) if (q.id !== except) q.sink.send(encoded);
  };
  const ids = (p: ProducerInfo) => ({ producer_id: p.producer_id, participant_id: p.participant_id });

  media.on('newproducer', (info) => {
    onTrack('track_published', { ...info });
    broadcast({ type: 'producer-added', payload: info }, info.participant_id);
  });
  media.on('producerclose', (info) => {
    onTrack('track_unpublished', ids(info));
    broadcast({ type: 'producer-removed', payload: ids(info) });
  });
  media.on('producerpause', (info) => broadcast({ type: 'producer-paused', payload: ids(info) }));
  media.on('producerresume', (info) => broadcast({ type: 'producer-resumed', payload: ids(info) }));
  media.on('newdataproducer', (info) => broadcast({ type: 'data-producer-added', payload: info }, info.participant_id));
  media.on('dataproducerclose', (info) =>
    broadcast({ type: 'data-producer-removed', payload: { data_producer_id: info.data_producer_id, participant_id: info.participant_id } }),
  );
  media.on('consumerclose', (peerId, consumerId, producerId) =>
    sendTo(peerId, { type: 'consumer-closed', payload: { consumer_id: consumerId, producer_id: producerId } }),
  );
  media.on('consumerpause', (peerId, consumerId) => sendTo(peerId, { type: 'consumer-paused', payload: { consumer_id: consumerId } }));
  media.on('consumerresume', (peerId, consumerId) => sendTo(peerId, { type: 'consumer-resumed', payload: { consumer_id: consumerId } }));
  media.on('consumerlayerschange', (peerId, consumerId, spatial, temporal) =>
    sendTo(peerId, {
      type: 'consumer-layers-changed',
      payload: { consumer_id: consumerId, spatial_layer: spatial, temporal_layer: temporal },
    }),
  );
  media.on('publisherlayers', (peerId, producerId, maxSpatialLayer) =>
    sendTo(peerId, { type: 'publisher-layers', payload: { producer_id: producerId, max_spatial_layer: maxSpatialLayer } }),
  );
  media.on('dataconsumerclose', (peerId, dataConsumerId) =>
    sendTo(peerId, { type: 'data-consumer-closed', payload: { data_consumer_id: dataConsumerId } }),
  );
  media.on('audiolevels', (levels) =>
    broadcast({ type: 'audio-levels', payload: { levels: levels.map((l) => ({ participant_id: l.peerId, volume: l.volume })) } }),
  );
  media.on('activespeaker', (peerId) => broadcast({ type: 'active-speaker', payload: { participant_id: peerId } }));
  media.on('quality', (peerId, quality, score) =>
    broadcast({ type: 'connection-quality', payload: { participant_id: peerId, quality, score } }),
  );
  media.on('reset', (peerId, reason) => sendTo(peerId, { type: 'sfu-reset', payload: { reason } }));
}
