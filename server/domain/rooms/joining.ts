// Entering a room: the token must be for this room, and bans, the lock and
// capacity are checked; guests of a room with the lobby on wait there for
// staff. Under the room's lock the participant enters once its row and
// participant_joined event are stored (nothing is acknowledged otherwise).

import { encode, type Identity, type Role, type RoomState } from '../../../signaling/protocol/protocol.js';
import { bestEffort } from '../../kernel/bestEffort.js';
import { AppError } from '../../kernel/errors.js';
import { randomId } from '../../kernel/randomId.js';
import { LobbyWaiter } from './lobby.js';
import { Participant, type ParticipantSink } from './participant.js';
import { isStaff } from './permissions.js';
import type { Room } from './room.js';
import type { RoomContext } from './roomContext.js';
import type { RoomEvents } from './roomEvents.js';
import type { RoomLifecycle } from './roomLifecycle.js';
import type { Leaving } from './leaving.js';

export interface JoinRequest {
  identity: Identity;
  room: string;
  displayName?: string;
  capabilities?: Record<string, unknown>;
  clientIp: string | null;
  sink: ParticipantSink;
  /**
   * Called inside the room's lock once the participant is in, before any
   * other message about the room is sent to it (so `joined` comes first).
   */
  onJoined(participant: Participant, roomState: RoomState): void;
  /** Aborted when the joiner's connection goes away or it leaves (ends a wait in the lobby). */
  signal?: AbortSignal;
  /** Called when the joiner is put in the lobby (the join resolves once admitted). */
  onLobby?(): void;
}

export interface JoinResult {
  participant: Participant;
  roomState: RoomState;
}

function newParticipantId(): string {
  return `PA_${randomId(9)}`;
}

export class Joining {
  constructor(
    private readonly ctx: RoomContext,
    private readonly events: RoomEvents,
    private readonly lifecycle: RoomLifecycle,
    private readonly leaving: Leaving,
  ) {}

  async join(req: JoinRequest): Promise<JoinResult> {
    const { ctx } = this;
    const { identity } = req;
    if (identity.room !== null && identity.room !== req.room) {
      throw new AppError('unauthorized', `this token is only valid for room ${identity.room}`, 'room');
    }
    const first = await ctx.locks.run(req.room, async () => {
      const existing = ctx.rooms.get(req.room);
      const room = existing ?? (await this.lifecycle.openRoom(req.room));
      try {
        const role = this.checkEntry(room, identity);
        if (!room.settings.lobby || isStaff(role)) return await this.enterLocked(room, req, role);
        return { waiter: this.waitInLobby(room, req, role) };
      } catch (err) {
        // A room opened only for a refused joiner is not kept (enterLocked forgets it on storage errors itself).
        if (!existing && ctx.rooms.get(room.name) === room && room.participants.size === 0 && room.lobby.size === 0) {
          await this.lifecycle.forgetRoom(room);
        }
        throw err;
      }
    });
    if (!('waiter' in first)) return first;

    const outcome = await first.waiter.outcome;
    if (!outcome.admitted) throw outcome.error;
    return ctx.locks.run(req.room, async () => {
      const room = ctx.rooms.get(req.room);
      if (!room) throw new AppError('not_in_room', 'the room closed while you waited in the lobby');
      const role = this.checkEntry(room, identity, true);
      return this.enterLocked(room, req, role);
    });
  }

  /** Bans, lock and capacity; returns the joiner's role in this room (a host-given role wins over the token's). */
  private checkEntry(room: Room, identity: Identity, admitted = false): Role {
    const role = room.roleOverrides.get(identity.user_id) ?? identity.role;
    const bannedUntil = room.bans.get(identity.user_id);
    if (bannedUntil !== undefined && bannedUntil > Date.now()) {
      throw new AppError('banned', `you were removed from this room; you may rejoin in ${Math.ceil((bannedUntil - Date.now()) / 1000)} s`);
    }
    if (room.settings.locked && !isStaff(role) && !admitted) throw new AppError('room_locked', 'this room is locked');
    const replacing = room.findByUser(identity.user_id) ? 1 : 0;
    if (room.participants.size - replacing >= room.settings.max_participants) {
      throw new AppError('room_full', `this room is full (${room.settings.max_participants} participants)`);
    }
    return role;
  }

  /** Hands the joiner to the lobby; the room's staff see the list change. */
  private waitInLobby(room: Room, req: JoinRequest, role: Role): LobbyWaiter {
    const { identity } = req;
    room.lobby.get(identity.user_id)?.cancel('you joined the lobby from another connection');
    const waiter = new LobbyWaiter(identity.user_id, req.displayName ?? identity.name, role);
    room.lobby.set(identity.user_id, waiter);
    const gone = () => {
      waiter.cancel('you left the lobby');
    };
    if (req.signal?.aborted)
      gone(); // the socket closed while the room was opening
    else req.signal?.addEventListener('abort', gone, { once: true });
    void waiter.outcome.then(() => {
      req.signal?.removeEventListener('abort', gone);
      // Leaves the list however it ended (admit/deny remove it themselves, under the room lock).
      if (room.lobby.get(identity.user_id) === waiter) {
        room.lobby.delete(identity.user_id);
        room.broadcastToStaff({ type: 'lobby-updated', payload: { waiting: room.lobbyList() } });
        if (room.participants.size === 0 && room.lobby.size === 0 && this.ctx.rooms.get(room.name) === room) {
          this.lifecycle.armEmptyTimer(room);
        }
      }
    });
    req.sink.send(encode({ type: 'lobby-waiting', payload: { room: room.name } }));
    req.onLobby?.();
    room.broadcastToStaff({ type: 'lobby-updated', payload: { waiting: room.lobbyList() } });
    return waiter;
  }

  /** The participant enters (under the room's lock): stored first, then announced to the room. */
  private async enterLocked(room: Room, req: JoinRequest, role: Role): Promise<JoinResult> {
    const { ctx, events } = this;
    const { identity } = req;
    // One connection per user and room: a reconnect replaces the stale connection.
    const previous = room.findByUser(identity.user_id);
    if (previous) await this.leaving.removeLocked(room, previous, 'replaced');

    const participant = new Participant(
      newParticipantId(),
      room.name,
      { userId: identity.user_id, displayName: req.displayName ?? identity.name, role },
      new Date(),
      req.sink,
    );
    const activates = (room.callState === 'pending' || room.callState === 'ringing') && room.participants.size >= 1;
    try {
      await ctx.store.addParticipant({
        id: participant.id,
        callId: room.callId,
        userId: identity.user_id,
        displayName: participant.identity.displayName,
        role,
        joinedAt: participant.joinedAt,
        clientIp: req.clientIp,
        metadata: req.capabilities ? { capabilities: req.capabilities } : {},
      });
      if (activates) await ctx.store.markCallActive(room.callId, new Date());
      if (!events.wasAnnounced(room)) await events.emit('room_started', room, { settings: room.settings });
      events.markAnnounced(room);
      await events.emit('participant_joined', room, { participant: participant.info() });
    } catch (err) {
      // Nothing is acknowledged: undo what may have been written and what is in memory.
      await bestEffort(ctx.log, 'undoing a failed join', ctx.store.participantLeft(participant.id, new Date(), 'join-failed'));
      if (room.participants.size === 0 && room.lobby.size === 0) await this.lifecycle.forgetRoom(room);
      throw ctx.storageError(err);
    }
    this.lifecycle.disarmEmptyTimer(room);

    room.broadcast({ type: 'peer-joined', payload: { participant: participant.info() } });
    room.participants.set(participant.id, participant);
    ctx.participantCount++;
    if (activates) room.callState = 'active';

    // The joiner hears `joined` before anything else about the room.
    const roomState = room.state();
    req.onJoined(participant, roomState);
    if (activates) {
      room.broadcast({ type: 'call-state-changed', payload: { call_id: room.callId, state: 'active' } });
    }
    if (isStaff(role) && room.lobby.size > 0) {
      req.sink.send(encode({ type: 'lobby-updated', payload: { waiting: room.lobbyList() } }));
    }
    if (room.hands.some((h) => h.user_id === identity.user_id)) {
      room.sendHandQueue(); // the hand now has a participant again
    }
    return { participant, roomState };
  }
}
