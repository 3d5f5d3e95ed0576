// Handlers of the SFU requests: each finds the caller's participant and hands
// the validated payload to the rooms domain's MediaService.

import { AppError } from '../server/errors.js';
import type { Participant } from '../server/rooms/participant.js';
import type { HubContext } from './hubContext.js';
import type { AckResults, ClientPayloads } from './protocol.js';
import type { Session } from './session.js';

type SfuType =
  | 'sfu-capabilities' | 'create-transport' | 'connect-transport' | 'restart-ice' | 'produce' | 'pause-producer'
  | 'resume-producer' | 'close-producer' | 'consume' | 'pause-consumer' | 'resume-consumer' | 'set-consumer-layers'
  | 'produce-data' | 'consume-data' | 'close-data-producer' | 'get-stats';

type Handler<K extends SfuType> = (session: Session, ctx: HubContext, payload: ClientPayloads[K]) => AckResults[K] | Promise<AckResults[K]>;

function inRoom(session: Session): Participant {
  if (!session.participant) throw new AppError('not_in_room', 'join a room first');
  return session.participant;
}

export const sfuHandlers: { [K in SfuType]: Handler<K> } = {
  'sfu-capabilities': (s, ctx) => ctx.media.capabilities(inRoom(s)),
  'create-transport': (s, ctx, p) => ctx.media.createTransport(inRoom(s), p),
  'connect-transport': (s, ctx, p) => ctx.media.connectTransport(inRoom(s), p),
  'restart-ice': (s, ctx, p) => ctx.media.restartIce(inRoom(s), p),
  produce: (s, ctx, p) => ctx.media.produce(inRoom(s), p),
  'pause-producer': (s, ctx, p) => ctx.media.setProducerPaused(inRoom(s), p.producer_id, true),
  'resume-producer': (s, ctx, p) => ctx.media.setProducerPaused(inRoom(s), p.producer_id, false),
  'close-producer': (s, ctx, p) => ctx.media.closeProducer(inRoom(s), p.producer_id),
  consume: (s, ctx, p) => ctx.media.consume(inRoom(s), p),
  'pause-consumer': (s, ctx, p) => ctx.media.setConsumerPaused(inRoom(s), p.consumer_id, true),
  'resume-consumer': (s, ctx, p) => ctx.media.setConsumerPaused(inRoom(s), p.consumer_id, false),
  'set-consumer-layers': (s, ctx, p) => ctx.media.setConsumerLayers(inRoom(s), p),
  'produce-data': (s, ctx, p) => ctx.media.produceData(inRoom(s), p),
  'consume-data': (s, ctx, p) => ctx.media.consumeData(inRoom(s), p),
  'close-data-producer': (s, ctx, p) => ctx.media.closeDataProducer(inRoom(s), p.data_producer_id),
  'get-stats': (s, ctx, p) => ctx.media.stats(inRoom(s), p),
};
