// Ringing users. A call-invite opens a call room with the caller in it and
// rings every device of each invitee until they accept or decline, the caller
// cancels, or CALL_RING_SECONDS pass (missed). The first accept makes the call
// active; a direct (1:1) call ends for both when either leaves. The signaling
// edge moves connections in and out of the call's room; this service keeps
// the call's state, tells devices, and stores it. docs/calls.md.

import { randomUUID } from 'node:crypto';
import {
  encode,
  type CallDeclineReason,
  type CallEndReason,
  type CallMedia,
  type CallParty,
  type CallType,
  type ClientPayloads,
  type Identity,
  type InviteeStatus,
  type ServerMessage,
} from '../../../signaling/protocol/protocol.js';
import { AppError } from '../../kernel/errors.js';
import type { Logger } from '../../kernel/logger.js';
import { RateLimiter } from '../../kernel/rateLimiter.js';
import { storageFailure } from '../../storage/queryError.js';
import type { RingStore } from '../../storage/ringStore.js';
import type { EventName, EventSink, RoomEvent } from '../events.js';
import type { RoomService } from '../rooms/roomService.js';
import type { CallDevice, Presence } from './presence.js';

export interface CallsConfig {
  ringSeconds: number;
  invitesPerMinute: number;
}

/** An invitee's side while the call lives; `accepting` while its join runs. */
interface Invitee {
  userId: string;
  status: InviteeStatus | 'accepting';
  timer: NodeJS.Timeout | null;
  expiresAt: number;
  declineReason: CallDeclineReason | null;
}

interface Call {
  id: string;
  room: string;
  type: CallType;
  media: CallMedia;
  from: CallParty;
  state: 'ringing' | 'active' | 'ended';
  invitees: Map<string, Invitee>;
}

/** A new call, stored and ready for its caller to enter its room. */
export interface OpenedCall {
  callId: string;
  room: string;
  invited: string[];
}

/** Call rooms are named after their call. */
export function callRoomName(callId: string): string {
  return `call-${callId}`;
}

export class CallService {
  private readonly calls = new Map<string, Call>();
  private readonly byRoom = new Map<string, Call>();
  private readonly inviteLimits = new Map<string, RateLimiter>();
  private closed = false;

  constructor(
    private readonly rooms: RoomService,
    private readonly store: RingStore,
    readonly presence: Presence,
    private readonly events: () => EventSink,
    private readonly config: CallsConfig,
    private readonly nodeId: string,
    private readonly log: Logger,
  ) {
    rooms.observer.on('event', (event) => this.onRoomEvent(event));
  }

  get ringing(): number {
    let n = 0;
    for (const c of this.calls.values()) for (const i of c.invitees.values()) if (i.status === 'ringing') n++;
    return n;
  }

  /** Checks and stores a new call; the caller enters its room next, then `ring` starts the ringing. */
  async open(identity: Identity, req: ClientPayloads['call-invite']): Promise<OpenedCall> {
    const to = this.checkInvite(identity, req.to);
    const callId = randomUUID();
    const room = callRoomName(callId);
    const from: CallParty = { user_id: identity.user_id, display_name: req.display_name ?? identity.name };
    const type: CallType = to.length === 1 ? 'direct' : 'group';
    await this.store
      .openRinging({
        callId,
        room,
        nodeId: this.nodeId,
        type,
        initiatorId: identity.user_id,
        media: req.media,
        metadata: req.metadata ?? {},
      })
      .catch((err: unknown) => {
        throw this.storageError(err);
      });
    const call: Call = { id: callId, room, type, media: req.media, from, state: 'ringing', invitees: new Map() };
    for (const userId of to) call.invitees.set(userId, { userId, status: 'invited', timer: null, expiresAt: 0, declineReason: null });
    this.calls.set(callId, call);
    this.byRoom.set(room, call);
    return { callId, room, invited: to };
  }

  /** The caller could not enter the call's room: the call ends `failed` before anything rang. */
  async abandon(callId: string): Promise<void> {
    const call = this.calls.get(callId);
    if (!call) return;
    await this.end(call, 'failed');
  }

  /** Rings the call's invitees that are not ringing yet (after the caller entered its room). */
  async ring(callId: string): Promise<void> {
    const call = this.calls.get(callId);
    if (!call || call.state === 'ended') return;
    const fresh = [...call.invitees.values()].filter((i) => i.status === 'invited');
    const at = new Date();
    await this.store
      .invite(
        call.id,
        fresh.map((i) => i.userId),
        call.from.user_id,
        at,
      )
      .catch((err: unknown) => {
        throw this.storageError(err);
      });
    const expiresAt = at.getTime() + this.config.ringSeconds * 1000;
    const invited = [...call.invitees.keys()];
    const stored: Promise<void>[] = [];
    for (const invitee of fresh) {
      invitee.status = 'ringing';
      invitee.expiresAt = expiresAt;
      invitee.timer = setTimeout(() => void this.missed(call, invitee), this.config.ringSeconds * 1000);
      invitee.timer.unref();
      const devices = this.presence.devices(invitee.userId);
      const busy = this.presence.busy(invitee.userId);
      const incoming = encode({
        type: 'call-incoming',
        payload: { call_id: call.id, room: call.room, from: call.from, media: call.media, invited, expires_at: expiresAt, busy },
      });
      for (const d of devices) d.send(incoming);
      stored.push(
        this.emit('call_ringing', call, {
          user_id: invitee.userId,
          from: call.from,
          media: call.media,
          devices: devices.length,
          busy,
          expires_at: new Date(expiresAt).toISOString(),
        }),
      );
    }
    await Promise.all(stored); // the invite is acknowledged once its webhooks are stored
    this.log.info({ call_id: call.id, room: call.room, from: call.from.user_id, rung: fresh.length }, 'call ringing');
  }

  /** call-invite with call_id: more people into the call `room` the caller is in. */
  async inviteMore(identity: Identity, callerRoom: string | null, req: ClientPayloads['call-invite']): Promise<OpenedCall> {
    const call = req.call_id !== undefined ? this.calls.get(req.call_id) : undefined;
    if (!call || call.state === 'ended' || callerRoom !== call.room) throw new AppError('not_found', 'you are not in that call', 'call_id');
    const to = this.checkInvite(identity, req.to);
    const inCall = new Set([...(this.rooms.getRoom(call.room)?.participants.values() ?? [])].map((p) => p.identity.userId));
    const fresh = to.filter((u) => {
      if (inCall.has(u)) return false;
      const i = call.invitees.get(u);
      return !i || i.status === 'declined' || i.status === 'missed' || i.status === 'cancelled';
    });
    for (const userId of fresh) call.invitees.set(userId, { userId, status: 'invited', timer: null, expiresAt: 0, declineReason: null });
    if (call.type === 'direct' && call.invitees.size > 1) {
      call.type = 'group';
      await this.store
        .setType(call.id, 'group')
        .catch((err: unknown) => this.log.error({ err, call_id: call.id }, 'could not store the call type'));
    }
    await this.ring(call.id);
    return { callId: call.id, room: call.room, invited: fresh };
  }

  /**
   * An invitee's device answers: its ringing stops everywhere else at once.
   * Returns the room to join; `accepted` or `acceptFailed` follows.
   */
  accepting(userId: string, callId: string, device: CallDevice): string {
    const { call, invitee } = this.invitation(userId, callId);
    if (invitee.status === 'accepted' || invitee.status === 'accepting') throw new AppError('conflict', 'this call was already answered');
    if (invitee.status !== 'ringing') throw new AppError('conflict', `this invitation is ${invitee.status}`);
    invitee.status = 'accepting';
    this.stopTimer(invitee);
    const elsewhere = encode({ type: 'call-answered-elsewhere', payload: { call_id: call.id } });
    for (const d of this.presence.devices(userId)) if (d !== device) d.send(elsewhere);
    return call.room;
  }

  /** The invitee is in the call's room: the others hear it, the call is active. */
  accepted(userId: string, callId: string, displayName: string): void {
    const call = this.calls.get(callId);
    const invitee = call?.invitees.get(userId);
    if (!call || !invitee || invitee.status !== 'accepting') return;
    invitee.status = 'accepted';
    call.state = 'active';
    this.storeInvitee(call, invitee, new Date());
    this.toRoom(call, { type: 'call-accepted', payload: { call_id: call.id, by: { user_id: userId, display_name: displayName } } }, userId);
  }

  /** The invitee's join failed: it rings again (or is missed, if its time ran out meanwhile). */
  acceptFailed(userId: string, callId: string): void {
    const call = this.calls.get(callId);
    const invitee = call?.invitees.get(userId);
    if (!call || !invitee || invitee.status !== 'accepting') return;
    invitee.status = 'ringing';
    const left = invitee.expiresAt - Date.now();
    invitee.timer = setTimeout(() => void this.missed(call, invitee), Math.max(0, left));
    invitee.timer.unref();
  }

  async decline(by: CallParty, callId: string, reason: CallDeclineReason): Promise<void> {
    const userId = by.user_id;
    const { call, invitee } = this.invitation(userId, callId);
    if (invitee.status !== 'ringing') throw new AppError('conflict', `this invitation is ${invitee.status}`);
    invitee.status = 'declined';
    invitee.declineReason = reason;
    this.stopTimer(invitee);
    this.storeInvitee(call, invitee, new Date());
    this.toDevices(userId, { type: 'call-ended', payload: { call_id: call.id, reason: reason === 'busy' ? 'busy' : 'declined' } });
    this.toRoom(call, { type: 'call-declined', payload: { call_id: call.id, by, reason } });
    await this.settle(call);
  }

  /** The caller gives up before anyone answered. */
  async cancel(userId: string, callId: string, callerRoom: string | null): Promise<void> {
    const call = this.calls.get(callId);
    if (!call || call.state === 'ended' || callerRoom !== call.room) throw new AppError('not_found', 'you are not in that call', 'call_id');
    if (call.from.user_id !== userId) throw new AppError('forbidden', 'only the caller can cancel a call');
    if (call.state !== 'ringing') throw new AppError('conflict', 'the call was answered: leave it to hang up');
    await this.end(call, 'cancelled');
  }

  /** Server shutdown: timers stop; the restart ends what was ringing (`failed`). */
  shutdown(): void {
    this.closed = true;
    for (const call of this.calls.values()) for (const i of call.invitees.values()) this.stopTimer(i);
  }

  // ---- internals ----

  private checkInvite(identity: Identity, to: string[]): string[] {
    if (identity.room !== null) {
      throw new AppError('unauthorized', `this token is bound to room ${identity.room}; it cannot place calls`);
    }
    const users = [...new Set(to)];
    if (users.includes(identity.user_id)) throw new AppError('invalid_payload', 'you cannot call yourself', 'to');
    let limiter = this.inviteLimits.get(identity.user_id);
    if (!limiter) {
      limiter = new RateLimiter(this.config.invitesPerMinute / 60, Math.min(this.config.invitesPerMinute, 10));
      this.inviteLimits.set(identity.user_id, limiter);
    }
    if (!limiter.take()) throw new AppError('rate_limited', `at most ${this.config.invitesPerMinute} call invites a minute`);
    return users;
  }

  private invitation(userId: string, callId: string): { call: Call; invitee: Invitee } {
    const call = this.calls.get(callId);
    const invitee = call?.invitees.get(userId);
    if (!call || !invitee || call.state === 'ended') throw new AppError('not_found', 'you are not invited to that call', 'call_id');
    return { call, invitee };
  }

  private async missed(call: Call, invitee: Invitee): Promise<void> {
    invitee.timer = null;
    if (invitee.status !== 'ringing' || call.state === 'ended' || this.closed) return;
    invitee.status = 'missed';
    this.storeInvitee(call, invitee, new Date());
    this.toRoom(call, { type: 'call-missed', payload: { call_id: call.id, user_id: invitee.userId } });
    this.toDevices(invitee.userId, { type: 'call-ended', payload: { call_id: call.id, reason: 'missed' } });
    await this.emit('call_missed', call, { user_id: invitee.userId, from: call.from, media: call.media });
    await this.settle(call);
  }

  /** A ringing call where nobody rings or answers any more ends with the last outcome. */
  private async settle(call: Call): Promise<void> {
    if (call.state !== 'ringing') return;
    const outcomes = [...call.invitees.values()];
    if (outcomes.some((i) => i.status === 'ringing' || i.status === 'accepting' || i.status === 'invited')) return;
    const declined = outcomes.filter((i) => i.status === 'declined');
    const reason: CallEndReason =
      declined.length === 0
        ? 'missed'
        : declined.every((i) => i.declineReason === 'busy') && declined.length === outcomes.length
          ? 'busy'
          : 'declined';
    await this.end(call, reason);
  }

  /** Ends the call: ringing stops, the room's people hear why and are out of it (their connections stay). */
  private async end(call: Call, reason: CallEndReason): Promise<void> {
    if (call.state === 'ended') return;
    call.state = 'ended';
    this.calls.delete(call.id);
    this.byRoom.delete(call.room);
    const at = new Date();
    for (const invitee of call.invitees.values()) {
      this.stopTimer(invitee);
      if (invitee.status !== 'ringing' && invitee.status !== 'accepting' && invitee.status !== 'invited') continue;
      const wasRinging = invitee.status !== 'invited';
      invitee.status = 'cancelled';
      if (wasRinging) {
        this.storeInvitee(call, invitee, at);
        this.toDevices(invitee.userId, { type: 'call-cancelled', payload: { call_id: call.id } });
      }
    }
    this.toRoom(call, { type: 'call-ended', payload: { call_id: call.id, reason } });
    const closed = await this.rooms.endRoom(call.room, reason).catch((err: unknown) => {
      this.log.error({ err, call_id: call.id }, 'could not close the room of an ended call');
      return false;
    });
    if (!closed) {
      await this.store
        .endCall(call.id, reason, at)
        .catch((err: unknown) => this.log.error({ err, call_id: call.id }, 'could not store the end of a call'));
    }
    this.log.info({ call_id: call.id, room: call.room, reason }, 'call ended');
  }

  /** Leaves and ends in call rooms: a direct call ends for both; an empty call room ends at once. */
  private onRoomEvent(event: RoomEvent): void {
    if (event.name !== 'participant_left') return;
    const call = this.byRoom.get(event.room);
    if (!call || call.state === 'ended') return;
    const room = this.rooms.getRoom(call.room);
    const left = room?.participants.size ?? 0;
    if (call.state === 'ringing' && left === 0) void this.end(call, 'cancelled');
    else if (call.state === 'active' && (call.type === 'direct' || left === 0)) void this.end(call, 'completed');
  }

  private stopTimer(invitee: Invitee): void {
    if (invitee.timer) clearTimeout(invitee.timer);
    invitee.timer = null;
  }

  private storeInvitee(call: Call, invitee: Invitee, at: Date): void {
    const status = invitee.status === 'accepting' ? 'ringing' : invitee.status;
    this.store
      .setInvitee(call.id, invitee.userId, status, at)
      .catch((err: unknown) => this.log.error({ err, call_id: call.id, user_id: invitee.userId, status }, 'could not store an invitee'));
  }

  private toDevices(userId: string, message: ServerMessage): void {
    const encoded = encode(message);
    for (const d of this.presence.devices(userId)) d.send(encoded);
  }

  /** To everyone in the call's room (but `except`'s devices). */
  private toRoom(call: Call, message: ServerMessage, exceptUser?: string): void {
    const room = this.rooms.getRoom(call.room);
    if (!room) return;
    const encoded = encode(message);
    for (const p of room.participants.values()) if (p.identity.userId !== exceptUser) p.sink.send(encoded);
  }

  /** Stores a call webhook event; a failure is logged (the call goes on). */
  private emit(name: EventName, call: Call, data: Record<string, unknown>): Promise<void> {
    return this.events()
      .emit({ name, room: call.room, data: { call_id: call.id, ...data } })
      .catch((err: unknown) => this.log.error({ err, call_id: call.id, event: name }, 'could not record a call event'));
  }

  private storageError(err: unknown): AppError {
    return storageFailure(err, this.log, 'call storage error');
  }
}
