// Room control actions: roles, the raise-hand queue, moderator controls,
// settings, the lobby, data messages and the whiteboard. The WebSocket
// handlers and the REST API both call these. Every action runs under the
// room's lock and in the same order: check the caller's role -> persist ->
// change memory -> tell the room. A refused action changes nothing.

import { randomBytes } from 'node:crypto';
import {
  encode,
  type RaisedHand,
  type Role,
  type RoomSettings,
  type RoomType,
  type ServerMessage,
  type Track,
} from '../../../signaling/protocol/protocol.js';
import type { RoomSettingsPatch } from './roomSettingsPatch.js';
import { AppError } from '../../kernel/errors.js';
import type { Logger } from '../../kernel/logger.js';
import type { RoomControlStore, RoomRow } from '../../storage/roomControlStore.js';
import type { Participant } from './participant.js';
import { assertAllowed, isAllowed, mayActOn, roleChangeAllowed, type Action } from './permissions.js';
import type { Room } from './room.js';
import { ROOM_TEMPLATES, defaultSettings, resolveSettings } from './roomSettings.js';
import type { RoomService } from './roomService.js';
import { storageFailure } from '../../storage/queryError.js';

/** Who asks: a participant in the room, or the app's backend over REST (host rights). */
export type Actor = { participant: Participant } | { api: true };

export const API_ACTOR: Actor = { api: true };

/** A room as the app's backend sees it: its row and its settings (the open room's when it runs here). */
export interface RoomInfo {
  name: string;
  created_at: Date;
  settings: RoomSettings;
}

/** A room the app's backend creates ahead of use: a name (generated when absent) and settings over its type's template. */
export interface NewRoom {
  name?: string | undefined;
  type?: RoomType | undefined;
  max_participants?: number | undefined;
  empty_timeout?: number | undefined;
  lobby?: boolean | undefined;
  recording_allowed?: boolean | undefined;
  metadata?: Record<string, unknown> | undefined;
}

/** Most strokes a board keeps; beyond, drawing is refused until a moderator clears it. */
export const WHITEBOARD_MAX_STROKES = 5000;

export class RoomControl {
  constructor(
    private readonly rooms: RoomService,
    private readonly store: RoomControlStore,
    private readonly kickBanSeconds: () => number,
    private readonly log: Logger,
  ) {}

  // ---- plumbing ------------------------------------------------------------

  private roleOf(actor: Actor): Role {
    return 'api' in actor ? 'host' : actor.participant.identity.role;
  }

  private by(actor: Actor): string | null {
    return 'api' in actor ? null : actor.participant.id;
  }

  /** Runs fn under the room's lock with the open room, after the permission check. */
  private inRoom<T>(actor: Actor, roomName: string, action: Action | null, fn: (room: Room) => Promise<T>): Promise<T> {
    return this.rooms.roomLocks.run(roomName, async () => {
      const room = this.rooms.getRoom(roomName);
      if ('participant' in actor) {
        if (!room || actor.participant.gone || room.participants.get(actor.participant.id) !== actor.participant) {
          throw new AppError('not_in_room', 'you are not in a room');
        }
      } else if (!room) {
        throw new AppError('not_found', `room ${roomName} has nobody in it`);
      }
      if (action) assertAllowed(this.roleOf(actor), action, room.settings.type);
      return fn(room);
    });
  }

  private target(room: Room, participantId: string): Participant {
    const p = room.participants.get(participantId);
    if (!p) throw new AppError('peer_not_found', `no participant ${participantId} in this room`, 'participant_id');
    return p;
  }

  private async persist<T>(work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (err) {
      throw storageFailure(err, this.log, 'room control storage error');
    }
  }

  private info(row: RoomRow): RoomInfo {
    const settings = this.rooms.getRoom(row.name)?.settings ?? resolveSettings(row, this.rooms.ctl.emptyTimeoutSeconds);
    return { name: row.name, created_at: row.created_at, settings };
  }

  // ---- rooms (REST) --------------------------------------------------------

  async listRooms(limit: number): Promise<RoomInfo[]> {
    return (await this.persist(this.store.listRooms(limit))).map((row) => this.info(row));
  }

  /** The room (not_found when it was never made or was deleted). */
  async roomInfo(name: string): Promise<RoomInfo> {
    const row = await this.persist(this.store.getRoom(name));
    if (!row) throw new AppError('not_found', `no room ${name}`);
    return this.info(row);
  }

  /** Makes the room's row (conflict when it exists); its call starts with the first join. */
  async createRoom(req: NewRoom): Promise<RoomInfo> {
    const name = req.name ?? `room-${randomBytes(6).toString('hex')}`;
    const base = defaultSettings(req.type ?? this.rooms.ctl.defaultType, this.rooms.ctl.emptyTimeoutSeconds);
    const settings: RoomSettings = {
      ...base,
      ...(req.max_participants !== undefined ? { max_participants: req.max_participants } : {}),
      ...(req.empty_timeout !== undefined ? { empty_timeout: req.empty_timeout } : {}),
      ...(req.lobby !== undefined ? { lobby: req.lobby } : {}),
      ...(req.recording_allowed !== undefined ? { recording_allowed: req.recording_allowed } : {}),
      ...(req.metadata !== undefined ? { metadata: req.metadata } : {}),
    };
    const created = await this.rooms.roomLocks.run(name, () => this.persist(this.store.createRoom(name, settings)));
    if (!created) throw new AppError('conflict', `room ${name} already exists`);
    return this.roomInfo(name);
  }

  /** Ends the room's call for everyone and forgets its settings, hands and board; call history stays. */
  async deleteRoom(name: string): Promise<void> {
    await this.roomInfo(name);
    await this.rooms.endRoom(name, 'deleted');
    await this.rooms.roomLocks.run(name, () => this.persist(this.store.deleteRoom(name)));
  }

  // ---- roles ---------------------------------------------------------------

  setRole(actor: Actor, roomName: string, participantId: string, role: Role): Promise<void> {
    return this.inRoom(actor, roomName, 'set-role', async (room) => {
      const target = this.target(room, participantId);
      if (!roleChangeAllowed(this.roleOf(actor), target.identity.role, role)) {
        throw new AppError('forbidden', `a ${this.roleOf(actor)} may not make a ${target.identity.role} a ${role}`);
      }
      await this.applyRole(room, target, role, this.by(actor));
    });
  }

  /** Persists and applies a role; losing publish rights closes the participant's producers. */
  private async applyRole(room: Room, target: Participant, role: Role, by: string | null): Promise<void> {
    if (target.identity.role === role) return;
    await this.persist(this.store.setRole(room.name, target.identity.userId, role));
    room.roleOverrides.set(target.identity.userId, role);
    target.identity.role = role;
    room.broadcast({ type: 'role-changed', payload: { participant_id: target.id, role, by } });
    this.closeProducersIfNotAllowed(room, target);
  }

  private closeProducersIfNotAllowed(room: Room, p: Participant): void {
    if (!room.media || isAllowed(p.identity.role, 'publish', room.settings.type)) return;
    for (const producer of room.media.producerList()) {
      if (producer.participant_id === p.id) room.media.closeProducer(p.id, producer.producer_id);
    }
  }

  // ---- raise hand ----------------------------------------------------------

  /** Raises the hand of the actor (or, over REST, of a user in the room); once per user. */
  raiseHand(actor: Actor, roomName: string, userId?: string): Promise<{ position: number }> {
    return this.inRoom(actor, roomName, null, async (room) => {
      const who = 'participant' in actor ? actor.participant : room.findByUser(userId ?? '');
      if (!who) throw new AppError('not_found', `user ${userId} is not in room ${roomName}`, 'user_id');
      assertAllowed(who.identity.role, 'raise-hand', room.settings.type);
      const existing = room.hands.findIndex((h) => h.user_id === who.identity.userId);
      if (existing >= 0) return { position: existing + 1 };
      const at = new Date();
      const added = await this.persist(this.store.raiseHand(room.name, who.identity.userId, who.identity.displayName, at));
      if (added) {
        room.hands.push({
          user_id: who.identity.userId,
          participant_id: who.id,
          display_name: who.identity.displayName,
          raised_at: at.toISOString(),
        });
      } else {
        room.hands = await this.persist(this.store.listHands(room.name)); // the row was there already: the table decides the place
      }
      this.sendQueue(room);
      return { position: room.hands.findIndex((h) => h.user_id === who.identity.userId) + 1 };
    });
  }

  /** Lowers one's own hand, or (staff, REST) anyone's. */
  lowerHand(actor: Actor, roomName: string, userId?: string): Promise<void> {
    return this.inRoom(actor, roomName, null, async (room) => {
      const own = 'participant' in actor ? actor.participant.identity.userId : null;
      const whose = userId ?? own;
      if (!whose) throw new AppError('invalid_payload', 'user_id is required', 'user_id');
      if (whose !== own) assertAllowed(this.roleOf(actor), 'lower-other-hand', room.settings.type);
      if (!room.hands.some((h) => h.user_id === whose)) throw new AppError('not_found', `user ${whose} has no raised hand`, 'user_id');
      await this.persist(this.store.lowerHand(room.name, whose));
      room.hands = room.hands.filter((h) => h.user_id !== whose);
      this.sendQueue(room);
    });
  }

  /** Takes the head of the queue (or a given user's hand) off it; `promote` makes a viewer a speaker. */
  acknowledgeHand(actor: Actor, roomName: string, userId?: string, promote = false): Promise<{ hand: RaisedHand }> {
    return this.inRoom(actor, roomName, 'acknowledge-hand', async (room) => {
      const queue = room.handQueue();
      const hand = userId === undefined ? queue[0] : queue.find((h) => h.user_id === userId);
      if (!hand)
        throw new AppError('not_found', userId === undefined ? 'no hands are raised' : `user ${userId} has no raised hand`, 'user_id');
      await this.persist(this.store.lowerHand(room.name, hand.user_id));
      room.hands = room.hands.filter((h) => h.user_id !== hand.user_id);
      room.broadcast({
        type: 'hand-acknowledged',
        payload: { user_id: hand.user_id, participant_id: hand.participant_id, by: this.by(actor) },
      });
      this.sendQueue(room);
      const who = room.findByUser(hand.user_id);
      if (promote && who && who.identity.role === 'viewer') await this.applyRole(room, who, 'speaker', this.by(actor));
      return { hand };
    });
  }

  listHands(roomName: string): Promise<RaisedHand[]> {
    const room = this.rooms.getRoom(roomName);
    if (room) return Promise.resolve(room.handQueue());
    return this.persist(this.store.listHands(roomName));
  }

  private sendQueue(room: Room): void {
    room.sendHandQueue();
  }

  // ---- moderator controls --------------------------------------------------

  muteParticipant(actor: Actor, roomName: string, participantId: string, track: Track): Promise<void> {
    return this.inRoom(actor, roomName, 'mute-participant', async (room) => {
      const target = this.target(room, participantId);
      if (!mayActOn(this.roleOf(actor), target.identity.role)) {
        throw new AppError('forbidden', `a ${this.roleOf(actor)} may not mute a ${target.identity.role}`);
      }
      await this.mute(room, target, track, this.by(actor));
    });
  }

  /** Mutes everyone but hosts and moderators. */
  muteAll(actor: Actor, roomName: string, track: Track = 'audio'): Promise<{ muted: number }> {
    return this.inRoom(actor, roomName, 'mute-all', async (room) => {
      let muted = 0;
      for (const p of [...room.participants.values()]) {
        if (p.identity.role === 'host' || p.identity.role === 'moderator') continue;
        await this.mute(room, p, track, this.by(actor));
        muted++;
      }
      return { muted };
    });
  }

  /** Server-side mute: the producer is paused, the target and the room are told. */
  private async mute(room: Room, target: Participant, track: Track, by: string | null): Promise<void> {
    target.setMuted(track, true);
    await room.media?.setSourcesPaused(target.id, track === 'audio' ? ['mic', 'screen-audio'] : ['camera'], true);
    room.broadcast({ type: 'participant-muted', payload: { participant_id: target.id, track, by } });
    room.broadcast({ type: 'mute', payload: { from: target.id, track } }, target);
  }

  /** Removes a participant, tells them why, and bans the user from the room for KICK_BAN_SECONDS. */
  kick(actor: Actor, roomName: string, participantId: string, reason = 'removed by a moderator'): Promise<void> {
    return this.inRoom(actor, roomName, 'kick', async (room) => {
      const target = this.target(room, participantId);
      if ('participant' in actor && target === actor.participant)
        throw new AppError('invalid_payload', 'use leave to leave', 'participant_id');
      if (!mayActOn(this.roleOf(actor), target.identity.role)) {
        throw new AppError('forbidden', `a ${this.roleOf(actor)} may not kick a ${target.identity.role}`);
      }
      const banSeconds = this.kickBanSeconds();
      if (banSeconds > 0) {
        const until = new Date(Date.now() + banSeconds * 1000);
        await this.persist(this.store.ban(room.name, target.identity.userId, until));
        room.bans.set(target.identity.userId, until.getTime());
      }
      target.sink.send(encode({ type: 'kicked', payload: { reason, by: this.by(actor), ban_seconds: banSeconds } }));
      await this.rooms.removeLocked(room, target, 'kicked');
    });
  }

  /** The app's backend takes a participant out (REST leave): no ban. */
  remove(roomName: string, participantId: string): Promise<void> {
    return this.inRoom(API_ACTOR, roomName, null, async (room) => {
      await this.rooms.removeLocked(room, this.target(room, participantId), 'removed');
    });
  }

  setLocked(actor: Actor, roomName: string, locked: boolean): Promise<RoomSettings> {
    return this.changeSettings(actor, roomName, 'lock-room', (s) => ({ ...s, locked }));
  }

  updateSettings(actor: Actor, roomName: string, patch: RoomSettingsPatch): Promise<RoomSettings> {
    return this.changeSettings(actor, roomName, 'update-room', (s) => {
      const type = patch.type ?? s.type;
      return {
        ...s,
        ...patch,
        type,
        // A new type brings its template's size unless one is given.
        max_participants:
          patch.max_participants ?? (patch.type && patch.type !== s.type ? ROOM_TEMPLATES[type].max_participants : s.max_participants),
      };
    });
  }

  /**
   * Settings of an open room change in memory and for everyone in it; REST
   * may also change a room nobody is in (only its row).
   */
  private changeSettings(actor: Actor, roomName: string, action: Action, change: (s: RoomSettings) => RoomSettings): Promise<RoomSettings> {
    if ('api' in actor && !this.rooms.getRoom(roomName)) {
      return this.rooms.roomLocks.run(roomName, async () => {
        if (this.rooms.getRoom(roomName)) return this.changeSettings(actor, roomName, action, change);
        const row = await this.persist(this.store.getRoom(roomName));
        if (!row) throw new AppError('not_found', `no room ${roomName}`);
        const next = change(resolveSettings(row, this.rooms.ctl.emptyTimeoutSeconds));
        await this.persist(this.store.saveSettings(roomName, next));
        return next;
      });
    }
    return this.inRoom(actor, roomName, action, async (room) => {
      const next = change(room.settings);
      await this.persist(this.store.saveSettings(room.name, next));
      room.settings = next;
      if (room.participants.size === 0 && room.lobby.size === 0) this.rooms.armEmptyTimer(room); // a new empty_timeout counts from now
      room.broadcast({ type: 'room-updated', payload: { settings: next } });
      for (const p of room.participants.values()) this.closeProducersIfNotAllowed(room, p);
      // Turning the lobby off lets in whoever waits (they still pass the ban and capacity checks).
      if (!next.lobby && room.lobby.size > 0) {
        for (const w of room.lobby.values()) w.admit();
        room.lobby.clear();
        room.broadcastToStaff({ type: 'lobby-updated', payload: { waiting: [] } });
      }
      return next;
    });
  }

  // ---- lobby -----------------------------------------------------------------

  admit(actor: Actor, roomName: string, userId: string): Promise<void> {
    return this.lobbyDecision(actor, roomName, userId, (w) => w.admit());
  }

  deny(actor: Actor, roomName: string, userId: string, reason = 'a moderator declined your request to join'): Promise<void> {
    return this.lobbyDecision(actor, roomName, userId, (w) => w.deny(reason));
  }

  private lobbyDecision(
    actor: Actor,
    roomName: string,
    userId: string,
    decide: (w: import('./lobby.js').LobbyWaiter) => void,
  ): Promise<void> {
    return this.inRoom(actor, roomName, 'admit', async (room) => {
      const waiter = room.lobby.get(userId);
      if (!waiter) throw new AppError('not_found', `user ${userId} is not waiting in the lobby`, 'user_id');
      room.lobby.delete(userId);
      decide(waiter);
      room.broadcastToStaff({ type: 'lobby-updated', payload: { waiting: room.lobbyList() } });
    });
  }

  lobbyList(roomName: string) {
    return this.rooms.getRoom(roomName)?.lobbyList() ?? [];
  }

  // ---- data messages and whiteboard ---------------------------------------

  /** A reliable message on a topic to the room (but the sender) or to one participant. */
  sendData(actor: Actor, roomName: string, topic: string, data: unknown, to?: string): Promise<void> {
    return this.inRoom(actor, roomName, 'send-data', async (room) => {
      const from = this.by(actor);
      const message: ServerMessage = { type: 'data', payload: { from, topic, data, ...(to !== undefined ? { to } : {}) } };
      if (to !== undefined) {
        const target = this.target(room, to);
        if (target.id === from) throw new AppError('peer_not_found', 'cannot send data to yourself', 'to');
        target.sink.send(encode(message));
      } else {
        room.broadcast(message, 'participant' in actor ? actor.participant : undefined);
      }
    });
  }

  draw(actor: { participant: Participant }, stroke: Record<string, unknown>): Promise<{ stroke_id: string }> {
    const p = actor.participant;
    return this.inRoom(actor, p.roomName, 'whiteboard-draw', async (room) => {
      if (room.whiteboard.length >= WHITEBOARD_MAX_STROKES) {
        throw new AppError('conflict', `the whiteboard is full (${WHITEBOARD_MAX_STROKES} strokes); a moderator must clear it`);
      }
      const strokeId = await this.persist(this.store.addStroke(room.name, p.id, p.identity.userId, stroke));
      const entry = { stroke_id: strokeId, participant_id: p.id, user_id: p.identity.userId, stroke };
      room.whiteboard.push(entry);
      room.broadcast({ type: 'whiteboard-stroke', payload: entry }, p);
      return { stroke_id: strokeId };
    });
  }

  clearWhiteboard(actor: Actor, roomName: string): Promise<void> {
    return this.inRoom(actor, roomName, 'whiteboard-clear', async (room) => {
      await this.persist(this.store.clearStrokes(room.name));
      room.whiteboard = [];
      room.broadcast({ type: 'whiteboard-cleared', payload: { by: this.by(actor) } });
    });
  }
}
