// The mediasoup-client transport events that become signaling requests
// ('connect', 'produce', 'producedata'), shared by the browser SDK
// (clients/browser/sdk/transports.ts) and the Node media bot
// (clients/node/mediaBot.ts). DOM-safe: it imports only types.

import type { Transport } from 'mediasoup-client/types';
import type { ClientPayloads, ClientType, Source } from '../../signaling/protocol/protocol.js';
import type { Reply } from './requests.js';

/** The one thing the wiring needs from a signaling connection. */
export interface Requester {
  request<K extends ClientType>(type: K, payload: ClientPayloads[K]): Promise<Reply<K>>;
}

/**
 * Answers the transport's events with signaling requests: 'connect' always;
 * on a send transport 'produce' (a track's source from its appData, else mic
 * or camera) and, with `data`, 'producedata' (data channels over SCTP).
 */
export function wireTransport(transport: Transport, signaling: Requester, opts: { data?: boolean } = {}): void {
  transport.on('connect', ({ dtlsParameters }, callback, errback) => {
    signaling.request('connect-transport', { transport_id: transport.id, dtls_parameters: dtlsParameters }).then(() => callback(), errback);
  });
  if (transport.direction !== 'send') return;
  transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
    signaling
      .request('produce', {
        transport_id: transport.id,
        kind,
        rtp_parameters: rtpParameters as unknown as ClientPayloads['produce']['rtp_parameters'],
        source: (appData['source'] as Source | undefined) ?? (kind === 'audio' ? 'mic' : 'camera'),
      })
      .then(({ producer_id }) => callback({ id: producer_id }), errback);
  });
  if (!opts.data) return;
  transport.on('producedata', ({ sctpStreamParameters, label, protocol }, callback, errback) => {
    signaling
      .request('produce-data', {
        transport_id: transport.id,
        sctp_stream_parameters: sctpStreamParameters as unknown as ClientPayloads['produce-data']['sctp_stream_parameters'],
        ...(label ? { label } : {}),
        ...(protocol ? { protocol } : {}),
      })
      .then(({ data_producer_id }) => callback({ id: data_producer_id }), errback);
  });
}
