// The rooms domain: who is in which room, the call's lifecycle, and the
// signaling between participants. Every change to membership or call state is
// persisted before it is acknowledged; relays are synchronous and in memory.

import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import {
  DTMF_DEFAULT_DURATION_MS,
  DTMF_DEFAULT_GAP_MS,
  encode,
  type ReconnectReason,
  type ClientPayloads,
  type Identity,
  type LeaveReason,
  type Role,
  type RoomSettings,
  type RoomState,
  type RoomType,
  type Track,
} from '../../../signaling/protocol/protocol.js';
import { AppError } from '../../kernel/errors.js';
import type { Logger } from '../../kernel/logger.js';
import type { RoomDirectory } from './roomDirectory.js';
import type { CallRecord, CallStore, ParticipantRecord } from '../../storage/callStore.js';
import type { RoomControlStore } from '../../storage/roomControlStore.js';
import type { EventSink, EventName, RoomEvent } from '../events.js';
import { DeferredWrites } from './deferredWrites.js';
import { KeyedMutex } from '../../kernel/keyedMutex.js';
import { LobbyWaiter } from './lobby.js';
import { Participant, type ParticipantSink } from './participant.js';
import { isAllowed, isStaff } from './permissions.js';
import { sendingMedia } from './sdpDirections.js';
import { Room, roomLiveState, type RoomLiveState } from './room.js';
import { resolveSettings } from './roomSettings.js';
import { storageFailure } from '../../storage/queryError.js';
import { bestEffort } from '../../kernel/bestEffort.js';

/** Room control: what the rooms domain needs beyond calls and participants. */
export interface RoomControlDeps {
  control: RoomControlStore;
  events: EventSink;
  emptyTimeoutSeconds: number;
  kickBanSeconds: number;
  /** Type of rooms made by a first join (ROOM_DEFAULT_TYPE). */
  defaultType: RoomType;
}

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

type RelayType = 'offer' | 'answer' | 'ice-candidate';

/**
 * What the rooms domain tells the rest of the node in process. `event`: every
 * event it records, just before it goes to the webhook outbox (recording
 * listens for room_finished to stop the call's recording).
 */
export interface RoomObserverEvents {
  event: [RoomEvent];
}

/** A room's participants over REST: who is connected now, and every stay in its current (else latest) call. */
export interface RoomParticipants {
  call_id: string | null;
  participants: RoomState['participants'];
  history: ParticipantRecord[];
}

function newParticipantId(): string {
  return `PA_${randomBytes(9).toString('base64url')}`;
}

export class RoomService {
  private readonly rooms = new Map<string, Room>();
  readonly roomLocks = new KeyedMutex();
  /** Listeners must not throw: they run inside the action that records the event. */
  readonly observer = new EventEmitter<RoomObserverEvents>();
  /** Rooms whose room_started event was recorded (room_finished follows only those). */
  private readonly announced = new WeakSet<Room>();
  private participantCount = 0;
  /** Leaves (rows and events) the database refused: stored once it is back. */
  private readonly deferred: DeferredWrites;

  constructor(
    private readonly store: CallStore,
    private readonly directory: RoomDirectory,
    readonly nodeId: string,
    private readonly log: Logger,
    readonly ctl: RoomControlDeps,
  ) {
    this.deferred = new DeferredWrites(log);
  }

  get roomCount(): number {
    return this.rooms.size;
  }

  get participants(): number {
    return this.participantCount;
  }

  getRoom(name: string): Room | undefined {
    return this.rooms.get(name);
  }

  async join(req: JoinRequest): Promise<JoinResult> {
    const { identity } = req;
    if (identity.room !== null && identity.room !== req.room) {
      throw new AppError('unauthorized', `this token is only valid for room ${identity.room}`, 'room');
    }
    const first = await this.roomLocks.run(req.room, async () => {
      const existing = this.rooms.get(req.room);
      const room = existing ?? (await this.openRoom(req.room));
      try {
        const role = this.checkEntry(room, identity);
        if (!room.settings.lobby || isStaff(role)) return await this.enterLocked(room, req, role);
        return { waiter: this.waitInLobby(room, req, role) };
      } catch (err) {
        // A room opened only for a refused joiner is not kept (enterLocked forgets it on storage errors itself).
        if (!existing && this.rooms.get(room.name) === room && room.participants.size === 0 && room.lobby.size === 0) {
          await this.forgetRoom(room);
        }
        throw err;
      }
    });
    if (!('waiter' in first)) return first;

    const outcome = await first.waiter.outcome;
    if (!outcome.admitted) throw outcome.error;
    return this.roomLocks.run(req.room, async () => {
      const room = this.rooms.get(req.room);
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
        if (room.participants.size === 0 && room.lobby.size === 0 && this.rooms.get(room.name) === room) this.armEmptyTimer(room);
      }
    });
    req.sink.send(encode({ type: 'lobby-waiting', payload: { room: room.name } }));
    req.onLobby?.();
    room.broadcastToStaff({ type: 'lobby-updated', payload: { waiting: room.lobbyList() } });
    return waiter;
  }

  private async enterLocked(room: Room, req: JoinRequest, role: Role): Promise<JoinResult> {
    const { identity } = req;
    // One connection per user and room: a reconnect replaces the stale connection.
    const previous = room.findByUser(identity.user_id);
    if (previous) await this.removeLocked(room, previous, 'replaced');

    const participant = new Participant(
      newParticipantId(),
      room.name,
      { userId: identity.user_id, displayName: req.displayName ?? identity.name, role },
      new Date(),
      req.sink,
    );
    const activates = room.callState === 'pending' && room.participants.size >= 1;
    try {
      await this.store.addParticipant({
        id: participant.id,
        callId: room.callId,
        userId: identity.user_id,
        displayName: participant.identity.displayName,
        role,
        joinedAt: participant.joinedAt,
        clientIp: req.clientIp,
        metadata: req.capabilities ? { capabilities: req.capabilities } : {},
      });
      if (activates) await this.store.markCallActive(room.callId, new Date());
      if (!this.announced.has(room)) await this.emit('room_started', room, { settings: room.settings });
      this.announced.add(room);
      await this.emit('participant_joined', room, { participant: participant.info() });
    } catch (err) {
      // Nothing is acknowledged: undo what may have been written and what is in memory.
      await bestEffort(this.log, 'undoing a failed join', this.store.participantLeft(participant.id, new Date(), 'join-failed'));
      if (room.participants.size === 0 && room.lobby.size === 0) await this.forgetRoom(room);
      throw this.storageError(err);
    }
    this.disarmEmptyTimer(room);

    room.broadcast({ type: 'peer-joined', payload: { participant: participant.info() } });
    room.participants.set(participant.id, participant);
    this.participantCount++;
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

  /** A room's settings: the open room's, else its row's (null: no such room). For REST and the recording side. */
  async roomSettings(name: string): Promise<RoomSettings | null> {
    const open = this.rooms.get(name);
    if (open) return open.settings;
    const row = await this.ctl.control.getRoom(name);
    return row ? resolveSettings(row, this.ctl.emptyTimeoutSeconds) : null;
  }

  /** May this room be recorded now? (Recording checks this before it starts.) */
  async recordingAllowed(name: string): Promise<boolean> {
    return (await this.roomSettings(name))?.recording_allowed ?? true;
  }

  /** Records a webhook event (the observer hears it first); the outbox write happens before the action is acknowledged. */
  async emit(name: EventName, room: Room, data: Record<string, unknown>): Promise<void> {
    const event: RoomEvent = { name, room: room.name, data: { call_id: room.callId, ...data } };
    this.observer.emit('event', event);
    await this.ctl.events.emit(event);
  }

  /**
   * Records an event of something that has happened anyway (a track published
   * or closed): if the database refuses it, it is retried until the database
   * is back instead of being lost. Never rejects.
   */
  async emitDurably(what: string, name: EventName, room: Room, data: Record<string, unknown>): Promise<void> {
    const event = { call_id: room.callId, ...data };
    try {
      await this.emit(name, room, event);
    } catch (err) {
      this.log.error({ err, room: room.name, event: name }, 'could not record a webhook event; retrying until the database is back');
      this.deferred.add(what, () => this.emit(name, room, event));
    }
  }

  /** Starts the countdown that ends the call of an empty room (0: at once). */
  armEmptyTimer(room: Room): void {
    this.disarmEmptyTimer(room);
    const fire = () => {
      void this.roomLocks
        .run(room.name, async () => {
          room.emptyTimer = null;
          if (this.rooms.get(room.name) !== room || room.participants.size > 0) return;
          await this.closeRoomLocked(room, 'empty');
        })
        .catch((err) => this.log.error({ err, room: room.name }, 'closing an empty room failed'));
    };
    room.emptyTimer = setTimeout(fire, room.settings.empty_timeout * 1000);
    room.emptyTimer.unref();
  }

  private disarmEmptyTimer(room: Room): void {
    if (room.emptyTimer) clearTimeout(room.emptyTimer);
    room.emptyTimer = null;
  }

  /** Removes a participant (leave or disconnect). Safe to call twice. */
  async leave(participant: Participant, reason: LeaveReason): Promise<void> {
    if (participant.gone) return;
    await this.roomLocks.run(participant.roomName, async () => {
      const room = this.rooms.get(participant.roomName);
      if (!room || participant.gone) return;
      await this.removeLocked(room, participant, reason);
      // An empty room stays open for its empty_timeout, so a quick rejoin finds the same call;
      // its SFU router is freed now (it is made again on the next media request).
      if (room.participants.size === 0) {
        room.media?.close();
        room.media = null;
        // empty_timeout 0: the call ends with the last leave, before it is acknowledged.
        if (room.lobby.size === 0 && room.settings.empty_timeout === 0) await this.closeRoomLocked(room, 'empty');
        else if (room.lobby.size === 0) this.armEmptyTimer(room);
      }
    });
  }

  /** A host ends the call for everyone. */
  async endCall(by: Participant): Promise<void> {
    if (by.identity.role !== 'host') throw new AppError('forbidden', 'only a host can end the call for everyone');
    await this.endRoom(by.roomName, 'ended-by-host', by);
  }

  /** Ends a room's call for everyone (host or REST); `by` must still be in it when given. */
  async endRoom(name: string, reason: string, by?: Participant): Promise<boolean> {
    return this.roomLocks.run(name, async () => {
      const room = this.rooms.get(name);
      if (by && (!room || by.gone)) throw new AppError('not_in_room', 'you are not in a room');
      if (!room) return false;
      await this.closeRoomLocked(room, reason);
      return true;
    });
  }

  relay(from: Participant, type: RelayType, payload: ClientPayloads[RelayType]): void {
    const target = this.peerOf(from, payload.to);
    // Peer-to-peer media bypasses the SFU's publish check: check the SDP instead.
    if (type !== 'ice-candidate' && !isAllowed(from.identity.role, 'publish', this.roomOf(from).settings.type)) {
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
    const room = this.roomOf(p);
    p.setMuted(track, muted);
    room.broadcast({ type: muted ? 'mute' : 'unmute', payload: { from: p.id, track } }, p);
    await room.media?.setSourcesPaused(p.id, track === 'audio' ? ['mic'] : ['camera'], muted);
  }

  setHold(p: Participant, onHold: boolean): void {
    p.onHold = onHold;
    this.roomOf(p).broadcast({ type: onHold ? 'hold' : 'unhold', payload: { from: p.id } }, p);
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
    if (req.to !== undefined) this.peerOf(p, req.to).sink.send(encode(message));
    else this.roomOf(p).broadcast(message, p);
  }

  /** Pre-creates a call (REST), so the app has a call id before anyone joins. */
  async createCall(room: string, metadata: Record<string, unknown>): Promise<CallRecord> {
    return this.roomLocks.run(room, async () => {
      const call = await this.store.createCall(room, this.nodeId, metadata).catch((err) => {
        throw this.storageError(err);
      });
      if (!call) throw new AppError('conflict', `room ${room} already has a call in progress`);
      return call;
    });
  }

  async getCall(callId: string): Promise<{ call: CallRecord; participants: ParticipantRecord[] }> {
    try {
      const call = await this.store.getCall(callId);
      if (!call) throw new AppError('not_found', `no call ${callId}`);
      return { call, participants: await this.store.listParticipants(callId) };
    } catch (err) {
      throw this.storageError(err);
    }
  }

  /** The room's participants: connected now (open room) and the rows of its current or latest call (not_found: no such room). */
  async roomParticipants(name: string): Promise<RoomParticipants> {
    const room = this.rooms.get(name);
    try {
      const callId = room?.callId ?? (await this.ctl.control.latestCallId(name));
      if (!room && !callId && !(await this.ctl.control.getRoom(name))) throw new AppError('not_found', `no room ${name}`);
      const history = callId ? await this.store.listParticipants(callId) : [];
      return { call_id: callId, participants: room ? room.state().participants : [], history };
    } catch (err) {
      throw this.storageError(err);
    }
  }

  /** The live state of those of these rooms that are open on this node. */
  liveStates(names: string[]): Map<string, RoomLiveState> {
    const out = new Map<string, RoomLiveState>();
    for (const name of names) {
      const room = this.rooms.get(name);
      if (room) out.set(name, roomLiveState(room, this.nodeId));
    }
    return out;
  }

  /** Everyone leaves (server shutting down); their rows and calls are closed. */
  async shutdown(): Promise<void> {
    this.deferred.close();
    await Promise.all(
      [...this.rooms.values()].map((room) =>
        this.roomLocks.run(room.name, async () => {
          if (this.rooms.get(room.name) !== room) return;
          await this.closeRoomLocked(room, 'server-shutdown');
        }),
      ),
    );
  }

  private peerOf(from: Participant, to: string): Participant {
    const target = this.roomOf(from).participants.get(to);
    if (!target || target === from) throw new AppError('peer_not_found', `no participant ${to} in this room`, 'to');
    return target;
  }

  roomOf(p: Participant): Room {
    const room = this.rooms.get(p.roomName);
    if (!room || p.gone) throw new AppError('not_in_room', 'you are not in a room');
    return room;
  }

  private async openRoom(name: string): Promise<Room> {
    const owner = await this.directory.claim(name);
    if (owner !== this.nodeId) {
      throw new AppError('unavailable', `room ${name} is served by node ${owner}`);
    }
    try {
      const row = await this.ctl.control.loadRoom(name, this.ctl.defaultType);
      const call = await this.store.openCall(name, this.nodeId);
      // Cluster: the call another node ran moves here (rows it left open died with it).
      if (call.node_id !== null && call.node_id !== this.nodeId) {
        const closed = await this.store.takeOverCall(call.id, this.nodeId, new Date(), 'node-failure');
        this.log.info(
          { room: name, call_id: call.id, from_node: call.node_id, closed_participants: closed },
          'call taken over from another node',
        );
      }
      const room = new Room(name, call.id, call.status, resolveSettings(row, this.ctl.emptyTimeoutSeconds));
      const [hands, strokes, users] = await Promise.all([
        this.ctl.control.listHands(name),
        this.ctl.control.listStrokes(name),
        this.ctl.control.listRoomUsers(name),
      ]);
      room.hands = hands;
      room.whiteboard = strokes;
      for (const u of users) {
        if (u.role) room.roleOverrides.set(u.user_id, u.role);
        if (u.banned_until) room.bans.set(u.user_id, u.banned_until.getTime());
      }
      this.rooms.set(name, room);
      this.log.info({ room: name, call_id: call.id }, 'room opened');
      return room;
    } catch (err) {
      await bestEffort(this.log, `releasing room ${name}`, this.directory.release(name));
      throw this.storageError(err);
    }
  }

  /** Drops an empty room from memory without ending its call (a failed first join). */
  private async forgetRoom(room: Room): Promise<void> {
    this.rooms.delete(room.name);
    await bestEffort(this.log, `releasing room ${room.name}`, this.directory.release(room.name));
  }

  /** Database trouble becomes `unavailable` for the client (data errors do not: see storageFailure); the cause goes to the log only. */
  private storageError(err: unknown): AppError {
    return storageFailure(err, this.log, 'storage error');
  }

  async removeLocked(room: Room, p: Participant, reason: LeaveReason): Promise<void> {
    p.gone = true;
    room.participants.delete(p.id);
    room.media?.removePeer(p.id);
    this.participantCount--;
    if (reason === 'replaced' || reason === 'kicked' || reason === 'removed') p.sink.removed(reason);
    const at = new Date();
    let stored = true;
    try {
      await this.store.participantLeft(p.id, at, reason);
    } catch (err) {
      // The participant is gone anyway (and the leave acknowledged): the row is written once the database is back.
      this.log.error({ err, participant_id: p.id }, 'could not record leave; retrying until the database is back');
      stored = false;
    }
    room.broadcast({ type: 'peer-left', payload: { participant_id: p.id, reason } });
    // An explicit leave or a kick gives up a raised hand; a dropped connection keeps its place.
    if (room.hands.some((h) => h.user_id === p.identity.userId)) {
      if (reason === 'left' || reason === 'kicked' || reason === 'removed') {
        try {
          await this.ctl.control.lowerHand(room.name, p.identity.userId);
          room.hands = room.hands.filter((h) => h.user_id !== p.identity.userId);
        } catch (err) {
          this.log.error({ err, room: room.name }, 'could not lower the hand of a participant who left');
        }
      }
      room.sendHandQueue();
    }
    // The call of this leave, even if the event is stored after the room moved on to another call.
    const event = { call_id: room.callId, participant: { ...p.info(), left_at: at.toISOString() }, reason };
    const emitLeft = () => this.emit('participant_left', room, event);
    if (stored) {
      try {
        await emitLeft();
        return;
      } catch (err) {
        this.log.error({ err, room: room.name }, 'could not record participant_left; retrying until the database is back');
      }
    }
    // Row first (it is guarded by left_at IS NULL, so a retry never overwrites), then the event.
    this.deferred.add(`leave of ${p.id}`, async () => {
      if (!stored) {
        await this.store.participantLeft(p.id, at, reason);
        stored = true;
      }
      await emitLeft();
    });
  }

  /** Ends the room's call, tells everyone still in it, and forgets the room. */
  async closeRoomLocked(room: Room, reason: string): Promise<void> {
    const leaveReason: LeaveReason = reason === 'server-shutdown' ? 'server-shutdown' : 'call-ended';
    const remaining = this.detachLocked(room, 'the room closed');
    room.callState = 'ended';
    try {
      await this.store.endCall(room.callId, new Date(), reason);
    } catch (err) {
      this.log.error({ err, call_id: room.callId }, 'could not record call end');
    }
    // A real end forgets hands, whiteboard and given roles; a shutdown keeps them for the restart.
    if (reason !== 'server-shutdown') {
      await this.ctl.control.endSession(room.name).catch((err) => this.log.error({ err, room: room.name }, 'could not clear room state'));
    }
    if (this.announced.has(room)) {
      try {
        for (const p of remaining)
          await this.emit('participant_left', room, {
            participant: { ...p.info(), left_at: new Date().toISOString() },
            reason: leaveReason,
          });
        await this.emit('room_finished', room, { reason });
      } catch (err) {
        this.log.error({ err, room: room.name }, 'could not record room_finished');
      }
    }
    const ended = encode({ type: 'call-state-changed', payload: { call_id: room.callId, state: 'ended', reason } });
    await this.sendOff(room, remaining, ended, leaveReason);
    this.log.info({ room: room.name, call_id: room.callId, reason }, 'room closed');
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
    this.participantCount -= remaining.length;
    room.participants.clear();
    room.media?.close();
    room.media = null;
    this.rooms.delete(room.name);
    return remaining;
  }

  /** The last half: those who were in it get a last message and their connections are closed; the room's directory entry is released. */
  private async sendOff(room: Room, people: Participant[], farewell: string, reason: LeaveReason): Promise<void> {
    for (const p of people) {
      p.sink.send(farewell);
      p.sink.removed(reason);
    }
    await this.directory.release(room.name).catch((err) => this.log.warn({ err, room: room.name }, 'release failed'));
  }

  // ---- Cluster ----

  /** Names of the rooms open on this node (their directory leases are renewed with each heartbeat). */
  roomNames(): string[] {
    return [...this.rooms.keys()];
  }

  /**
   * Moves a room off this node (drain, or another node owns it now): everyone
   * in it is told to reconnect and their connections close; their rows say
   * `migrated`; the call stays open, so the node they land on carries it on.
   */
  async evacuate(name: string, reason: ReconnectReason, retryAfterMs = 0): Promise<boolean> {
    return this.roomLocks.run(name, async () => {
      const room = this.rooms.get(name);
      if (!room) return false;
      const leaving = this.detachLocked(room, 'the room moved to another node: reconnect and join again');
      const at = new Date();
      const stored = await Promise.all(
        leaving.map((p) =>
          this.store.participantLeft(p.id, at, 'migrated').then(
            () => true,
            (err) => {
              this.log.error({ err, participant_id: p.id }, 'could not record leave; retrying until the database is back');
              return false;
            },
          ),
        ),
      );
      const announced = this.announced.has(room);
      for (const [i, p] of leaving.entries()) {
        const event = { call_id: room.callId, participant: { ...p.info(), left_at: at.toISOString() }, reason: 'migrated' };
        let done = stored[i];
        if (
          done &&
          announced &&
          (await this.emit('participant_left', room, event).then(
            () => true,
            () => false,
          ))
        )
          continue;
        if (done && !announced) continue;
        this.deferred.add(`migration of ${p.id}`, async () => {
          if (!done) {
            await this.store.participantLeft(p.id, at, 'migrated');
            done = true;
          }
          if (announced) await this.emit('participant_left', room, event);
        });
      }
      const notice = encode({ type: 'reconnect', payload: { reason, room: name, retry_after_ms: retryAfterMs } });
      await this.sendOff(room, leaving, notice, 'migrated');
      this.log.info({ room: name, participants: leaving.length, reason }, 'room moved off this node');
      return true;
    });
  }
}
