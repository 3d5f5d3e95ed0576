import type { Consumer } from 'mediasoup/types';
import type { ConsumerParams } from './cascade/wire.js';

/** A consumer as mediasoup-client's `transport.consume` takes it. */
export type ConsumerOptions = Omit<ConsumerParams, 'score'>;

/** What mediasoup-client's `transport.consume` needs of a consumer (the cascade's agent sends the same, plus its score). */
export function consumerParams(consumer: Consumer, producerId: string): ConsumerOptions {
  return {
    id: consumer.id,
    producerId,
    kind: consumer.kind,
    rtpParameters: consumer.rtpParameters,
    type: consumer.type,
    producerPaused: consumer.producerPaused,
  };
}
