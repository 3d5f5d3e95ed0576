// Signaling between participants, relayed in memory and never stored: SDP
// offers and answers, ICE candidates, mute, hold and DTMF.

import {
  DTMF_DEFAULT_DURATION_MS,
  DTMF_DEFAULT_GAP_MS,
  encode,
  type ClientPayloads,
  type Track,
} from '../../../signaling/protocol/protocol.js';
import { AppError } from '../../kernel/errors.js';
import type { Participant } from './participant.js';
import { isAllowed } from './permissions.js';
import type { RoomContext } from './roomContext.js';
import { sendingMedia } from './sdpDirections.js';

export type RelayType = 'offer' | 'answer' | 'ice-candidate';

export class PeerSignals {
  constructor(private readonly ctx: RoomContext) {}

  relay(from: Participant, type: RelayType, payload: ClientPayloads[RelayType]): void {
    const target = this.ctx.peerOf(from, payload.to);
    // Peer-to-peer media bypasses the SFU's publish check: check the SDP instead.
    if (type !== 'ice-candidate' && !isAllowed(from.identity.role, 'publish', this.ctx.roomOf(from).settings.type)) {
      const sending = sendingMedia((payload as ClientPayloads['offer']).sdp);
      if (sending.length > 0) {
        throw new AppError(
          'forbidden',
          `a ${from.identity.role} may not send media: make ${sending.join(' and ')} recvonly or inactive`,
          'sdp',
        );
      }
    }
    target.sink.send(encode({ type, payload: { ...payload, from: from.id } } as never));
  }

  /** Mute state is signaled to the others and, for SFU calls, enforced by pausing the producer. */
  async setMuted(p: Participant, track: Track, muted: boolean): Promise<void> {
    const room = this.ctx.roomOf(p);
    p.setMuted(track, muted);
    room.broadcast({ type: muted ? 'mute' : 'unmute', payload: { from: p.id, track } }, p);
    await room.media?.setSourcesPaused(p.id, track === 'audio' ? ['mic'] : ['camera'], muted);
  }

  setHold(p: Participant, onHold: boolean): void {
    p.onHold = onHold;
    this.ctx.roomOf(p).broadcast({ type: onHold ? 'hold' : 'unhold', payload: { from: p.id } }, p);
  }

  dtmf(p: Participant, req: ClientPayloads['dtmf']): void {
    const message = {
      type: 'dtmf' as const,
      payload: {
        from: p.id,
        tones: req.tones.toUpperCase(),
        duration: req.duration ?? DTMF_DEFAULT_DURATION_MS,
        gap: req.gap ?? DTMF_DEFAULT_GAP_MS,
      },
    };
    if (req.to !== undefined) this.ctx.peerOf(p, req.to).sink.send(encode(message));
    else this.ctx.roomOf(p).broadcast(message, p);
  }
}
