// Plain (RTP) subscribers: producers sent as plain RTP (optionally SRTP) to
// an ip:port, for recorders (ffmpeg) and benchmark sinks. Placed like a
// subscriber, so they count against router budgets and land on piped routers.

import type { Consumer, PlainTransport, RtpCapabilities, SrtpParameters } from 'mediasoup/types';
import { AppError } from '../server/kernel/errors.js';
import type { RoomRouters } from './roomRouters.js';

/** Where plain-RTP consumers send: recorders (ffmpeg) and benchmark sinks. */
export interface PlainSubscriberOptions {
  ip: string;
  port: number;
  rtpCapabilities: RtpCapabilities;
  srtp?: SrtpParameters;
  paused?: boolean;
}

/**
 * Sends several producers over ONE plain transport to ip:port (each stream
 * keeps its own SSRC), like a subscriber's single receive transport: one
 * socket, one set of RTCP and congestion-control timers for all its streams.
 */
export async function createPlainSubscriber(
  room: {
    routers: RoomRouters;
    hasProducer: (id: string) => boolean;
    listenIp: string;
    /** Dynacast: the consumer's demand counts for the producer's layers. */
    watch?: (producerId: string, consumer: Consumer) => void;
  },
  producerIds: string[],
  opts: PlainSubscriberOptions,
): Promise<{ transport: PlainTransport; consumers: Consumer[] }> {
  if (producerIds.length === 0) throw new AppError('invalid_payload', 'name at least one producer', 'producer_ids');
  for (const id of producerIds) {
    if (!room.hasProducer(id)) throw new AppError('not_found', `no producer ${id} in this room`);
  }
  const slot = await room.routers.recvSlot(producerIds.length);
  let reserved = producerIds.length;
  const settle = () => {
    slot.release(reserved);
    reserved = 0;
  };
  let localIds: string[];
  try {
    localIds = await Promise.all(producerIds.map((id) => room.routers.pipedId(slot, 'producer', id)));
  } catch (err) {
    settle();
    throw err;
  }
  const transport = await slot.router
    .createPlainTransport({
      listenInfo: { protocol: 'udp', ip: room.listenIp },
      rtcpMux: true,
      comedia: false,
      enableSrtp: Boolean(opts.srtp),
      ...(opts.srtp ? { srtpCryptoSuite: opts.srtp.cryptoSuite } : {}),
    })
    .catch((err) => {
      settle();
      throw err;
    });
  const consumers: Consumer[] = [];
  try {
    await transport.connect({ ip: opts.ip, port: opts.port, ...(opts.srtp ? { srtpParameters: opts.srtp } : {}) });
    for (const [i, localId] of localIds.entries()) {
      const consumer = await transport.consume({
        producerId: localId,
        rtpCapabilities: opts.rtpCapabilities,
        paused: opts.paused ?? false,
      });
      slot.addConsumer();
      consumer.observer.once('close', () => slot.removeConsumer());
      room.watch?.(producerIds[i], consumer);
      // The transport lives for its streams: it goes with the last of them.
      consumer.on('producerclose', () => {
        if (consumers.every((c) => c.closed)) transport.close();
      });
      consumers.push(consumer);
    }
    settle();
    return { transport, consumers };
  } catch (err) {
    settle();
    transport.close();
    throw err;
  }
}
