// A participant's WebRTC transports on this node: one to send (on the
// primary router) and one to receive (wherever RoomRouters places it).

import type { DtlsParameters, WebRtcTransport } from 'mediasoup/types';
import { AppError } from '../server/kernel/errors.js';
import type { TransportOptions } from './cascade/wire.js';
import { clientCall } from './clientMistakes.js';
import type { MediaPeer, TransportEntry } from './mediaPeer.js';
import type { RouterSlot } from './routerSlot.js';
import type { RoomState } from './roomState.js';

/**
 * Opens the peer's transport on `slot`, where `reserved` consumers are
 * already reserved for it (given back if the transport cannot be made).
 */
export async function openTransport(
  state: RoomState,
  peer: MediaPeer,
  slot: RouterSlot,
  opts: { direction: 'send' | 'recv'; reserved: number; sctp: boolean; forceTcp: boolean },
): Promise<TransportOptions> {
  const { direction, reserved } = opts;
  let transport: WebRtcTransport;
  try {
    transport = await slot.router.createWebRtcTransport({
      webRtcServer: slot.worker.webRtcServer,
      enableUdp: !opts.forceTcp, // for networks that block UDP: ICE over the worker's TCP port
      enableTcp: true,
      preferUdp: true,
      enableSctp: opts.sctp,
      initialAvailableOutgoingBitrate: 1_000_000,
      appData: { peerId: peer.id, direction },
    });
  } catch (err) {
    slot.release(reserved);
    throw err;
  }
  const entry: TransportEntry = {
    transport,
    direction,
    slot,
    reserved,
    connected: false,
    mids: new Set(),
    ssrcs: new Set(),
    rids: new Set(),
    streamIds: new Set(),
  };
  transport.observer.once('close', () => {
    peer.transports.delete(transport.id);
    slot.release(entry.reserved);
  });
  if (!state.present(peer) || state.closed) {
    transport.close();
    throw new AppError('not_in_room', 'you left the room');
  }
  peer.transports.set(transport.id, entry);
  transport.on('dtlsstatechange', (dtls) => {
    if (dtls === 'failed' || dtls === 'closed')
      state.log.warn({ room: state.name, peer: peer.id, direction, state: dtls }, 'transport dtls');
  });
  return {
    id: transport.id,
    iceParameters: transport.iceParameters,
    iceCandidates: transport.iceCandidates,
    dtlsParameters: transport.dtlsParameters,
    ...(transport.sctpParameters ? { sctpParameters: transport.sctpParameters } : {}),
  };
}

/** DTLS-connects a local transport; mediasoup's unexpected failures get its worker a health check. */
export async function connectLocal(state: RoomState, entry: TransportEntry, dtlsParameters: DtlsParameters): Promise<void> {
  const { transport, slot } = entry;
  await clientCall(
    'connect-transport',
    () => transport.connect({ dtlsParameters }),
    (err) => state.suspect(slot, err),
  );
}

/** DTLS connects once per transport (here or remote); mediasoup would answer a second time with a plain Error. */
export async function connectOnce(entry: { connected: boolean }, connect: () => Promise<unknown>): Promise<void> {
  if (entry.connected)
    throw new AppError('conflict', 'this transport is already connected; create a new one or restart ICE', 'transport_id');
  entry.connected = true;
  try {
    await connect();
  } catch (err) {
    entry.connected = false; // refused parameters: the client may try again
    throw err;
  }
}
