// A participant leaves its room: by itself, by a dropped connection, by a kick
// or replaced by a newer connection of the same user. The participant is gone
// at once; its row and participant_left event are stored, or retried until
// the database is back. An emptied room waits out its empty timeout.

import type { LeaveReason } from '../../../signaling/protocol/protocol.js';
import type { Participant } from './participant.js';
import type { Room } from './room.js';
import type { RoomContext } from './roomContext.js';
import type { RoomEvents } from './roomEvents.js';
import type { RoomLifecycle } from './roomLifecycle.js';

export class Leaving {
  constructor(
    private readonly ctx: RoomContext,
    private readonly events: RoomEvents,
    private readonly lifecycle: RoomLifecycle,
  ) {}

  /** Removes a participant (leave or disconnect). Safe to call twice. */
  async leave(participant: Participant, reason: LeaveReason): Promise<void> {
    if (participant.gone) return;
    await this.ctx.locks.run(participant.roomName, async () => {
      const room = this.ctx.rooms.get(participant.roomName);
      if (!room || participant.gone) return;
      await this.removeLocked(room, participant, reason);
      // An empty room stays open for its empty_timeout, so a quick rejoin finds the same call;
      // its SFU router is freed now (it is made again on the next media request).
      if (room.participants.size === 0) {
        room.media?.close();
        room.media = null;
        // empty_timeout 0: the call ends with the last leave, before it is acknowledged.
        if (room.lobby.size === 0 && room.settings.empty_timeout === 0) await this.lifecycle.closeRoomLocked(room, 'empty');
        else if (room.lobby.size === 0) this.lifecycle.armEmptyTimer(room);
      }
    });
  }

  /** Takes the participant out of the room (under the room's lock), tells the others, stores the leave. */
  async removeLocked(room: Room, p: Participant, reason: LeaveReason): Promise<void> {
    const { ctx } = this;
    p.gone = true;
    room.participants.delete(p.id);
    room.media?.removePeer(p.id);
    ctx.participantCount--;
    if (reason === 'replaced' || reason === 'kicked' || reason === 'removed') p.sink.removed(reason);
    const at = new Date();
    let stored = true;
    try {
      await ctx.store.participantLeft(p.id, at, reason);
    } catch (err) {
      // The participant is gone anyway (and the leave acknowledged): the row is written once the database is back.
      ctx.log.error({ err, participant_id: p.id }, 'could not record leave; retrying until the database is back');
      stored = false;
    }
    room.broadcast({ type: 'peer-left', payload: { participant_id: p.id, reason } });
    // An explicit leave or a kick gives up a raised hand; a dropped connection keeps its place.
    if (room.hands.some((h) => h.user_id === p.identity.userId)) {
      if (reason === 'left' || reason === 'kicked' || reason === 'removed') {
        try {
          await ctx.ctl.control.lowerHand(room.name, p.identity.userId);
          room.hands = room.hands.filter((h) => h.user_id !== p.identity.userId);
        } catch (err) {
          ctx.log.error({ err, room: room.name }, 'could not lower the hand of a participant who left');
        }
      }
      room.sendHandQueue();
    }
    // The call of this leave, even if the event is stored after the room moved on to another call.
    const event = { call_id: room.callId, participant: { ...p.info(), left_at: at.toISOString() }, reason };
    const emitLeft = () => this.events.emit('participant_left', room, event);
    if (stored) {
      try {
        await emitLeft();
        return;
      } catch (err) {
        ctx.log.error({ err, room: room.name }, 'could not record participant_left; retrying until the database is back');
      }
    }
    // Row first (it is guarded by left_at IS NULL, so a retry never overwrites), then the event.
    ctx.deferred.add(`leave of ${p.id}`, async () => {
      if (!stored) {
        await ctx.store.participantLeft(p.id, at, reason);
        stored = true;
      }
      await emitLeft();
    });
  }
}
