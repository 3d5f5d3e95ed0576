// Handlers of the SFU requests: each finds the caller's participant and hands
// the validated payload to the rooms domain's MediaService.

import type { HubContext } from './hubContext.js';
import type { AckResults, ClientPayloads } from './protocol/protocol.js';
import type { Client } from './client.js';

type SfuType =
  | 'sfu-capabilities'
  | 'create-transport'
  | 'connect-transport'
  | 'restart-ice'
  | 'produce'
  | 'pause-producer'
  | 'resume-producer'
  | 'close-producer'
  | 'consume'
  | 'pause-consumer'
  | 'resume-consumer'
  | 'set-consumer-layers'
  | 'produce-data'
  | 'consume-data'
  | 'close-data-producer'
  | 'get-stats';

type Handler<K extends SfuType> = (session: Client, ctx: HubContext, payload: ClientPayloads[K]) => AckResults[K] | Promise<AckResults[K]>;

export const sfuHandlers: { [K in SfuType]: Handler<K> } = {
  'sfu-capabilities': (s, ctx) => ctx.media.capabilities(s.inRoom()),
  'create-transport': (s, ctx, p) => ctx.media.createTransport(s.inRoom(), p),
  'connect-transport': (s, ctx, p) => ctx.media.connectTransport(s.inRoom(), p),
  'restart-ice': (s, ctx, p) => ctx.media.restartIce(s.inRoom(), p),
  produce: (s, ctx, p) => ctx.media.produce(s.inRoom(), p),
  'pause-producer': (s, ctx, p) => ctx.media.setProducerPaused(s.inRoom(), p.producer_id, true),
  'resume-producer': (s, ctx, p) => ctx.media.setProducerPaused(s.inRoom(), p.producer_id, false),
  'close-producer': (s, ctx, p) => ctx.media.closeProducer(s.inRoom(), p.producer_id),
  consume: (s, ctx, p) => ctx.media.consume(s.inRoom(), p),
  'pause-consumer': (s, ctx, p) => ctx.media.setConsumerPaused(s.inRoom(), p.consumer_id, true),
  'resume-consumer': (s, ctx, p) => ctx.media.setConsumerPaused(s.inRoom(), p.consumer_id, false),
  'set-consumer-layers': (s, ctx, p) => ctx.media.setConsumerLayers(s.inRoom(), p),
  'produce-data': (s, ctx, p) => ctx.media.produceData(s.inRoom(), p),
  'consume-data': (s, ctx, p) => ctx.media.consumeData(s.inRoom(), p),
  'close-data-producer': (s, ctx, p) => ctx.media.closeDataProducer(s.inRoom(), p.data_producer_id),
  'get-stats': (s, ctx, p) => ctx.media.stats(s.inRoom(), p),
};
