// A room's life on this node: it opens on a first join (claiming it in the
// directory and loading its call and room control state), waits out its empty
// timeout, and is taken down when its call ends or it moves to another node.

import { CHAT_HISTORY, encode, type LeaveReason, type ReconnectReason } from '../../../signaling/protocol/protocol.js';
import { bestEffort } from '../../kernel/bestEffort.js';
import { AppError } from '../../kernel/errors.js';
import type { CallRecord } from '../../storage/callStore.js';
import type { Participant } from './participant.js';
import { Room } from './room.js';
import type { RoomContext } from './roomContext.js';
import type { RoomEvents } from './roomEvents.js';
import { resolveSettings } from './roomSettings.js';

export class RoomLifecycle {
  constructor(
    private readonly ctx: RoomContext,
    private readonly events: RoomEvents,
  ) {}

  /** Claims the room for this node and loads its call (taken over from a dead node if need be) and its room control state. */
  async openRoom(name: string): Promise<Room> {
    const { ctx } = this;
    const owner = await ctx.directory.claim(name);
    if (owner !== ctx.nodeId) {
      throw new AppError('unavailable', `room ${name} is served by node ${owner}`);
    }
    try {
      const { room: row, call, stored } = await ctx.store.openRoom(name, ctx.ctl.defaultType, ctx.nodeId);
      // Cluster: the call another node ran moves here (rows it left open died with it).
      if (call.node_id !== null && call.node_id !== ctx.nodeId) {
        const closed = await ctx.store.takeOverCall(call.id, ctx.nodeId, new Date(), 'node-failure');
        ctx.log.info(
          { room: name, call_id: call.id, from_node: call.node_id, closed_participants: closed },
          'call taken over from another node',
        );
      }
      const room = new Room(name, call.id, call.status, resolveSettings(row, ctx.ctl.emptyTimeoutSeconds));
      const [hands, strokes, users, chat] = await Promise.all([
        stored.hands ? ctx.ctl.control.listHands(name) : [],
        stored.strokes ? ctx.ctl.control.listStrokes(name) : [],
        stored.users ? ctx.ctl.control.listRoomUsers(name) : [],
        stored.chat ? ctx.ctl.chat.list(call.id, CHAT_HISTORY) : [],
      ]);
      room.hands = hands;
      room.whiteboard = strokes;
      room.chat = chat;
      for (const u of users) {
        if (u.role) room.roleOverrides.set(u.user_id, u.role);
        if (u.banned_until) room.bans.set(u.user_id, u.banned_until.getTime());
      }
      ctx.rooms.set(name, room);
      ctx.log.info({ room: name, call_id: call.id }, 'room opened');
      return room;
    } catch (err) {
      await bestEffort(ctx.log, `releasing room ${name}`, ctx.directory.release(name));
      throw ctx.storageError(err);
    }
  }

  /** Drops an empty room from memory without ending its call (a failed first join). */
  async forgetRoom(room: Room): Promise<void> {
    this.ctx.rooms.delete(room.name);
    await bestEffort(this.ctx.log, `releasing room ${room.name}`, this.ctx.directory.release(room.name));
  }

  /** Starts the countdown that ends the call of an empty room (0: at once). */
  armEmptyTimer(room: Room): void {
    this.disarmEmptyTimer(room);
    const fire = () => {
      void this.ctx.locks
        .run(room.name, async () => {
          room.emptyTimer = null;
          if (this.ctx.rooms.get(room.name) !== room || room.participants.size > 0) return;
          await this.closeRoomLocked(room, 'empty');
        })
        .catch((err) => this.ctx.log.error({ err, room: room.name }, 'closing an empty room failed'));
    };
    room.emptyTimer = setTimeout(fire, room.settings.empty_timeout * 1000);
    room.emptyTimer.unref();
  }

  disarmEmptyTimer(room: Room): void {
    if (room.emptyTimer) clearTimeout(room.emptyTimer);
    room.emptyTimer = null;
  }

  /** A host ends the call for everyone. */
  async endCall(by: Participant): Promise<void> {
    if (by.identity.role !== 'host') throw new AppError('forbidden', 'only a host can end the call for everyone');
    await this.endRoom(by.roomName, 'ended-by-host', by);
  }

  /**
   * Ends a room's call for everyone (host or REST); `by` must still be in it
   * when given. `lastWord`: a message (encoded) everyone in it gets first,
   * right before they are out of the room.
   */
  async endRoom(name: string, reason: string, by?: Participant, lastWord?: string): Promise<boolean> {
    return this.ctx.locks.run(name, async () => {
      const room = this.ctx.rooms.get(name);
      if (by && (!room || by.gone)) throw new AppError('not_in_room', 'you are not in a room');
      if (!room) return false;
      await this.closeRoomLocked(room, reason, lastWord);
      return true;
    });
  }

  /** Pre-creates a call (REST), so the app has a call id before anyone joins. */
  async createCall(room: string, metadata: Record<string, unknown>): Promise<CallRecord> {
    const { ctx } = this;
    return ctx.locks.run(room, async () => {
      const call = await ctx.store.createCall(room, ctx.nodeId, metadata).catch((err) => {
        throw ctx.storageError(err);
      });
      if (!call) throw new AppError('conflict', `room ${room} already has a call in progress`);
      return call;
    });
  }

  /** Everyone leaves (server shutting down); their rows and calls are closed. */
  async shutdown(): Promise<void> {
    const { ctx } = this;
    ctx.deferred.close();
    await Promise.all(
      [...ctx.rooms.values()].map((room) =>
        ctx.locks.run(room.name, async () => {
          if (ctx.rooms.get(room.name) !== room) return;
          await this.closeRoomLocked(room, 'server-shutdown');
        }),
      ),
    );
  }

  /** Ends the room's call, tells everyone still in it, and forgets the room. */
  async closeRoomLocked(room: Room, reason: string, lastWord?: string): Promise<void> {
    const { ctx, events } = this;
    const leaveReason: LeaveReason = reason === 'server-shutdown' ? 'server-shutdown' : 'call-ended';
    const remaining = this.detachLocked(room, 'the room closed');
    room.callState = 'ended';
    try {
      await ctx.store.endCall(room.callId, new Date(), reason);
    } catch (err) {
      ctx.log.error({ err, call_id: room.callId }, 'could not record call end');
    }
    // A real end forgets hands, whiteboard and given roles; a shutdown keeps them for the restart.
    if (reason !== 'server-shutdown') {
      await ctx.ctl.control.endSession(room.name).catch((err) => ctx.log.error({ err, room: room.name }, 'could not clear room state'));
    }
    if (events.wasAnnounced(room)) {
      try {
        for (const p of remaining)
          await events.emit('participant_left', room, {
            participant: { ...p.info(), left_at: new Date().toISOString() },
            reason: leaveReason,
          });
        await events.emit('room_finished', room, { reason });
      } catch (err) {
        ctx.log.error({ err, room: room.name }, 'could not record room_finished');
      }
    }
    const ended = encode({ type: 'call-state-changed', payload: { call_id: room.callId, state: 'ended', reason } });
    await this.sendOff(room, remaining, lastWord ? [lastWord, ended] : [ended], leaveReason);
    ctx.log.info({ room: room.name, call_id: room.callId, reason }, 'room closed');
  }

  /**
   * Moves a room off this node (drain, or another node owns it now): everyone
   * in it is told to reconnect and their connections close; their rows say
   * `migrated`; the call stays open, so the node they land on carries it on.
   */
  async evacuate(name: string, reason: ReconnectReason, retryAfterMs = 0): Promise<boolean> {
    const { ctx, events } = this;
    return ctx.locks.run(name, async () => {
      const room = ctx.rooms.get(name);
      if (!room) return false;
      const leaving = this.detachLocked(room, 'the room moved to another node: reconnect and join again');
      const at = new Date();
      const stored = await Promise.all(
        leaving.map((p) =>
          ctx.store.participantLeft(p.id, at, 'migrated').then(
            () => true,
            (err) => {
              ctx.log.error({ err, participant_id: p.id }, 'could not record leave; retrying until the database is back');
              return false;
            },
          ),
        ),
      );
      const announced = events.wasAnnounced(room);
      for (const [i, p] of leaving.entries()) {
        const event = { call_id: room.callId, participant: { ...p.info(), left_at: at.toISOString() }, reason: 'migrated' };
        let done = stored[i];
        if (
          done &&
          announced &&
          (await events.emit('participant_left', room, event).then(
            () => true,
            () => false,
          ))
        )
          continue;
        if (done && !announced) continue;
        ctx.deferred.add(`migration of ${p.id}`, async () => {
          if (!done) {
            await ctx.store.participantLeft(p.id, at, 'migrated');
            done = true;
          }
          if (announced) await events.emit('participant_left', room, event);
        });
      }
      const notice = encode({ type: 'reconnect', payload: { reason, room: name, retry_after_ms: retryAfterMs } });
      await this.sendOff(room, leaving, [notice], 'migrated');
      ctx.log.info({ room: name, participants: leaving.length, reason }, 'room moved off this node');
      return true;
    });
  }

  /**
   * The first half of taking a room down (its call ends, or it moves to
   * another node): the lobby is turned away, everyone in it is marked gone,
   * its media is freed and the node forgets it. Returns who was in it.
   */
  private detachLocked(room: Room, lobbyReason: string): Participant[] {
    this.disarmEmptyTimer(room);
    for (const w of room.lobby.values()) w.deny(lobbyReason);
    room.lobby.clear();
    const remaining = [...room.participants.values()];
    for (const p of remaining) p.gone = true;
    this.ctx.participantCount -= remaining.length;
    room.participants.clear();
    room.media?.close();
    room.media = null;
    this.ctx.rooms.delete(room.name);
    return remaining;
  }

  /** The last half: those who were in it get a last message and their connections are closed; the room's directory entry is released. */
  private async sendOff(room: Room, people: Participant[], farewell: string[], reason: LeaveReason): Promise<void> {
    for (const p of people) {
      for (const text of farewell) p.sink.send(text);
      p.sink.removed(reason);
    }
    await this.ctx.directory.release(room.name).catch((err) => this.ctx.log.warn({ err, room: room.name }, 'release failed'));
  }
}
