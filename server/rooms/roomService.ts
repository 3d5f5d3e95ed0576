// The rooms domain: who is in which room, the call's lifecycle, and the
// signaling between participants. Every change to membership or call state is
// persisted before it is acknowledged; relays are synchronous and in memory.

import { randomBytes } from 'node:crypto';
import {
  DTMF_DEFAULT_DURATION_MS, DTMF_DEFAULT_GAP_MS, encode,
  type ClientPayloads, type Identity, type LeaveReason, type RoomState, type Track,
} from '../../signaling/protocol.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RoomDirectory } from '../cluster/roomDirectory.js';
import type { CallRecord, CallStore, ParticipantRecord } from '../storage/callStore.js';
import { KeyedMutex } from '../util/keyedMutex.js';
import { Participant, type ParticipantSink } from './participant.js';
import { Room } from './room.js';

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
}

export interface JoinResult {
  participant: Participant;
  roomState: RoomState;
}

type RelayType = 'offer' | 'answer' | 'ice-candidate';

function newParticipantId(): string {
  return `PA_${randomBytes(9).toString('base64url')}`;
}

export class RoomService {
  private readonly rooms = new Map<string, Room>();
  private readonly roomLocks = new KeyedMutex();
  private participantCount = 0;

  constructor(
    private readonly store: CallStore,
    private readonly directory: RoomDirectory,
    private readonly nodeId: string,
    private readonly log: Logger,
  ) {}

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
    return this.roomLocks.run(req.room, async () => {
      const room = this.rooms.get(req.room) ?? (await this.openRoom(req.room));

      // One connection per user and room: a reconnect replaces the stale connection.
      const previous = room.findByUser(identity.user_id);
      if (previous) await this.removeLocked(room, previous, 'replaced');

      const participant = new Participant(
        newParticipantId(),
        room.name,
        { userId: identity.user_id, displayName: req.displayName ?? identity.name, role: identity.role },
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
          role: identity.role,
          joinedAt: participant.joinedAt,
          clientIp: req.clientIp,
          metadata: req.capabilities ? { capabilities: req.capabilities } : {},
        });
        if (activates) await this.store.markCallActive(room.callId, new Date());
      } catch (err) {
        // Nothing is acknowledged: undo what may have been written and what is in memory.
        await this.store.participantLeft(participant.id, new Date(), 'join-failed').catch(() => {});
        if (room.participants.size === 0) await this.forgetRoom(room);
        throw this.storageError(err);
      }

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
      return { participant, roomState };
    });
  }

  /** Removes a participant (leave or disconnect). Safe to call twice. */
  async leave(participant: Participant, reason: LeaveReason): Promise<void> {
    if (participant.gone) return;
    await this.roomLocks.run(participant.roomName, async () => {
      const room = this.rooms.get(participant.roomName);
      if (!room || participant.gone) return;
      await this.removeLocked(room, participant, reason);
      if (room.participants.size === 0) await this.closeRoomLocked(room, 'empty');
    });
  }

  /** A host ends the call for everyone. */
  async endCall(by: Participant): Promise<void> {
    if (by.identity.role !== 'host') throw new AppError('forbidden', 'only a host can end the call for everyone');
    await this.roomLocks.run(by.roomName, async () => {
      const room = this.rooms.get(by.roomName);
      if (!room || by.gone) throw new AppError('not_in_room', 'you are not in a room');
      await this.closeRoomLocked(room, 'ended-by-host');
    });
  }

  relay(from: Participant, type: RelayType, payload: ClientPayloads[RelayType]): void {
    const target = this.peerOf(from, payload.to);
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

  /** Everyone leaves (server shutting down); their rows and calls are closed. */
  async shutdown(): Promise<void> {
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
      const call = await this.store.openCall(name, this.nodeId);
      const room = new Room(name, call.id, call.status);
      this.rooms.set(name, room);
      this.log.info({ room: name, call_id: call.id }, 'room opened');
      return room;
    } catch (err) {
      await this.directory.release(name).catch(() => {});
      throw this.storageError(err);
    }
  }

  /** Drops an empty room from memory without ending its call (a failed first join). */
  private async forgetRoom(room: Room): Promise<void> {
    this.rooms.delete(room.name);
    await this.directory.release(room.name).catch(() => {});
  }

  /** Database trouble becomes `unavailable` for the client; the cause goes to the log only. */
  private storageError(err: unknown): AppError {
    if (err instanceof AppError) return err;
    this.log.error({ err }, 'storage error');
    return new AppError('unavailable', 'storage is unavailable; try again');
  }

  private async removeLocked(room: Room, p: Participant, reason: LeaveReason): Promise<void> {
    p.gone = true;
    room.participants.delete(p.id);
    room.media?.removePeer(p.id);
    this.participantCount--;
    if (reason === 'replaced') p.sink.removed(reason);
    try {
      await this.store.participantLeft(p.id, new Date(), reason);
    } catch (err) {
      // The row stays open; it is closed when the call ends or at the next start.
      this.log.error({ err, participant_id: p.id }, 'could not record leave');
    }
    room.broadcast({ type: 'peer-left', payload: { participant_id: p.id, reason } });
  }

  /** Ends the room's call, tells everyone still in it, and forgets the room. */
  private async closeRoomLocked(room: Room, reason: string): Promise<void> {
    const leaveReason: LeaveReason = reason === 'server-shutdown' ? 'server-shutdown' : 'call-ended';
    const remaining = [...room.participants.values()];
    for (const p of remaining) p.gone = true;
    this.participantCount -= remaining.length;
    room.participants.clear();
    room.media?.close();
    room.media = null;
    this.rooms.delete(room.name);
    room.callState = 'ended';
    try {
      await this.store.endCall(room.callId, new Date(), reason);
    } catch (err) {
      this.log.error({ err, call_id: room.callId }, 'could not record call end');
    }
    const ended = encode({ type: 'call-state-changed', payload: { call_id: room.callId, state: 'ended', reason } });
    for (const p of remaining) {
      p.sink.send(ended);
      p.sink.removed(leaveReason);
    }
    await this.directory.release(room.name).catch((err) => this.log.warn({ err, room: room.name }, 'release failed'));
    this.log.info({ room: room.name, call_id: room.callId, reason }, 'room closed');
  }
}
