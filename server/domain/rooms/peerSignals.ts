// Signaling between participants, relayed in memory and never stored: SDP
// offers and answers, ICE candidates, mute, hold, deafen, reactions and DTMF.

import {
  DTMF_DEFAULT_DURATION_MS,
  DTMF_DEFAULT_GAP_MS,
  encode,
  type ClientPayloads,
  type LiveReaction,
  type Track,
} from '../../../signaling/protocol/protocol.js';
import { AppError } from '../../kernel/errors.js';
import { RateLimiter } from '../../kernel/rateLimiter.js';
import type { Participant } from './participant.js';
import { isAllowed } from './permissions.js';
import type { RoomContext } from './roomContext.js';
import { sendingMedia } from './sdpDirections.js';

export type RelayType = 'offer' | 'answer' | 'ice-candidate';

/** Reactions a participant may send: this many a second, in bursts of up to REACTION_BURST. */
export const REACTION_RATE_PER_SECOND = 2;
export const REACTION_BURST = 8;

/**
 * The relayed message as text: the validated payload with `from`, each field
 * named (one object of a fixed shape and one flat string from JSON.stringify;
 * a spread copy made a dictionary-shaped object, and splicing strings made a
 * cons string that ws then flattened into a second copy of the SDP).
 */
function relayedText(type: RelayType, payload: ClientPayloads[RelayType], from: string): string {
  if (type === 'ice-candidate') {
    const c = payload as ClientPayloads['ice-candidate'];
    return JSON.stringify({
      type,
      payload: { from, to: c.to, candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex },
    });
  }
  const d = payload as ClientPayloads['offer'];
  return JSON.stringify({ type, payload: { from, to: d.to, sdp: d.sdp } });
}

export class PeerSignals {
  /** Each participant's reaction budget (gone with the participant). */
  private readonly reactionLimits = new WeakMap<Participant, RateLimiter>();

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
    target.sink.send(relayedText(type, payload, from.id));
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

  /** Deafened: the participant hears nobody (its client stops playing the room); the others are told. */
  setDeafened(p: Participant, deafened: boolean): void {
    p.deafened = deafened;
    this.ctx.roomOf(p).broadcast({ type: deafened ? 'deafen' : 'undeafen', payload: { from: p.id } }, p);
  }

  /** A reaction goes to everyone in the room, the sender included; `rate_limited` beyond the budget. */
  react(p: Participant, reaction: LiveReaction): void {
    let bucket = this.reactionLimits.get(p);
    if (!bucket) {
      bucket = new RateLimiter(REACTION_RATE_PER_SECOND, REACTION_BURST);
      this.reactionLimits.set(p, bucket);
    }
    if (!bucket.take()) {
      throw new AppError('rate_limited', `too many reactions; at most ${REACTION_RATE_PER_SECOND} per second (burst ${REACTION_BURST})`);
    }
    this.ctx.roomOf(p).broadcast({ type: 'reaction', payload: { participant_id: p.id, reaction } });
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
