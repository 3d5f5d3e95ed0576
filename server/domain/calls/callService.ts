// Ringing users. A call-invite opens a call room with the caller in it and
// rings every device of each invitee until they accept or decline, the caller
// cancels, or CALL_RING_SECONDS pass (missed). The first accept makes the call
// active; a direct (1:1) call ends for both when either leaves. The signaling
// edge moves connections in and out of the call's room; this service keeps
// the call's state, tells devices, and stores it. The REST API (the app's
// backend) opens calls with nobody in their room yet, ends them, and reads
// their history (callHistory.ts). docs/calls.md.

import { randomUUID } from 'node:crypto';
import {
  encode,
  type CallDeclineReason,
  type CallEndReason,
  type CallParty,
  type CallType,
  type ClientPayloads,
  type IceServer,
  type Identity,
  type ServerMessage,
  type ServerPayloads,
} from '../../../signaling/protocol/protocol.js';
import { AppError } from '../../kernel/errors.js';
import type { Logger } from '../../kernel/logger.js';
import { storageFailure } from '../../storage/queryError.js';
import type { RingStore } from '../../storage/ringStore.js';
import type { EventName, EventSink, RoomEvent } from '../events.js';
import type { RoomService } from '../rooms/roomService.js';
import { callRoomName, newInvitee, type ApiCallRequest, type Call, type CallsConfig, type Invitee, type OpenedCall } from './call.js';
import { CallHistory, type CallJson } from './callHistory.js';
import { InviteLimits, ringingOutcome } from './inviteRules.js';
import type { CallNetwork } from './callNetwork.js';
import type { Presence } from './presence.js';

export interface CallServiceDeps {
  rooms: RoomService;
  store: RingStore;
  presence: Presence;
  events: () => EventSink;
  config: CallsConfig;
  nodeId: string;
  log: Logger;
  /** The STUN/TURN servers (with fresh credentials) a user's call-incoming carries; null or absent: none. */
  iceServers?: (userId: string) => IceServer[] | null;
  /** Cluster: the users' devices on other nodes; absent on a single node. */
  network?: CallNetwork;
}

export class CallService {
  private readonly calls = new Map<string, Call>();
  private readonly byRoom = new Map<string, Call>();
  private readonly inviteLimits: InviteLimits;
  private closed = false;
  /** Stored calls as REST shows them (history, one call). */
  readonly records: CallHistory;

  private readonly rooms: RoomService;
  private readonly store: RingStore;
  readonly presence: Presence;
  private readonly events: () => EventSink;
  private readonly config: CallsConfig;
  private readonly nodeId: string;
  private readonly log: Logger;
  private readonly iceServers: (userId: string) => IceServer[] | null;
  private readonly network: CallNetwork | null;

  constructor(deps: CallServiceDeps) {
    ({
      rooms: this.rooms,
      store: this.store,
      presence: this.presence,
      events: this.events,
      config: this.config,
      nodeId: this.nodeId,
      log: this.log,
    } = deps);
    this.iceServers = deps.iceServers ?? (() => null);
    this.network = deps.network ?? null;
    this.inviteLimits = new InviteLimits(this.config.invitesPerMinute);
    this.records = new CallHistory(this.store, this.log);
    this.rooms.observer.on('event', (event) => this.onRoomEvent(event));
  }

  get ringing(): number {
    let n = 0;
    for (const c of this.calls.values()) for (const i of c.invitees.values()) if (i.status === 'ringing') n++;
    return n;
  }

  /** The call rings or runs on this node. */
  has(callId: string): boolean {
    return this.calls.has(callId);
  }

  /** Cluster: the node a call that is not over rings or runs on (null: unknown, ended, or the database is away). */
  async nodeOf(callId: string): Promise<string | null> {
    if (this.calls.has(callId)) return this.nodeId;
    return this.store.nodeOf(callId).catch((err: unknown) => {
      this.log.warn({ err, call_id: callId }, 'could not look up the node of a call');
      return null;
    });
  }

  /** Rings the user's devices on this node (for a call here or, in a cluster, on another node). */
  ringHere(userId: string, incoming: ServerPayloads['call-incoming']): { devices: number; busy: boolean } {
    const devices = this.presence.devices(userId);
    const busy = this.presence.busy(userId);
    const encoded = encode({ type: 'call-incoming', payload: { ...incoming, busy: incoming.busy || busy } });
    for (const d of devices) d.send(encoded);
    return { devices: devices.length, busy };
  }

  /** Sends to the user's devices on this node, but `exceptDevice`. */
  deliverHere(userId: string, encoded: string, exceptDevice: string | null): void {
    for (const d of this.presence.devices(userId)) if (d.id !== exceptDevice) d.send(encoded);
  }

  /** Checks and stores a new call; the caller enters its room next, then `ring` starts the ringing. */
  async open(identity: Identity, req: ClientPayloads['call-invite']): Promise<OpenedCall> {
    this.checkCaller(identity, req.to);
    const from: CallParty = { user_id: identity.user_id, display_name: req.display_name ?? identity.name };
    const call = await this.create({ from, to: req.to, media: req.media, ...(req.metadata ? { metadata: req.metadata } : {}) });
    return { callId: call.id, room: call.room, invited: [...call.invitees.keys()] };
  }

  /**
   * POST /api/v1/calls: stores the call and rings at once, with nobody in its
   * room; the caller's app joins the room itself. Returns when the ringing
   * and its webhooks are stored, with the time the ringing runs out.
   */
  async openForApi(req: ApiCallRequest): Promise<OpenedCall & { expiresAt: number }> {
    const call = await this.create(req);
    try {
      await this.ring(call.id);
    } catch (err) {
      await this.end(call, 'failed');
      throw err;
    }
    const expiresAt = Math.max(...[...call.invitees.values()].map((i) => i.expiresAt));
    return { callId: call.id, room: call.room, invited: [...call.invitees.keys()], expiresAt };
  }

  /**
   * POST /api/v1/calls/:call_id/end: a ringing call ends `cancelled`, an
   * active one `completed` (everyone in its room is out of it). Returns the
   * call as history shows it; `not_found` when no call with that id rings
   * or runs on this node.
   */
  async endByApi(callId: string): Promise<CallJson> {
    const call = this.calls.get(callId);
    if (!call || call.state === 'ended') throw new AppError('not_found', `no ringing or active call ${callId}`, 'call_id');
    await this.end(call, call.state === 'ringing' ? 'cancelled' : 'completed');
    const json = await this.records.call(call.id);
    if (!json) throw new AppError('not_found', `no call ${callId}`, 'call_id');
    return json;
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
      const ice = this.iceServers(invitee.userId);
      const payload: ServerPayloads['call-incoming'] = {
        call_id: call.id,
        room: call.room,
        from: call.from,
        media: call.media,
        invited,
        expires_at: expiresAt,
        busy: this.presence.busy(invitee.userId),
        ...(ice ? { ice_servers: ice } : {}),
      };
      const here = this.ringHere(invitee.userId, payload);
      stored.push(
        (async () => {
          const there = (await this.network?.ring(invitee.userId, payload)) ?? { devices: 0, busy: false };
          await this.emit('call_ringing', call, {
            user_id: invitee.userId,
            from: call.from,
            media: call.media,
            devices: here.devices + there.devices,
            busy: here.busy || there.busy,
            expires_at: new Date(expiresAt).toISOString(),
          });
        })(),
      );
    }
    await Promise.all(stored); // the invite is acknowledged once its webhooks are stored
    this.log.info({ call_id: call.id, room: call.room, from: call.from.user_id, rung: fresh.length }, 'call ringing');
  }

  /** call-invite with call_id: more people into the call `room` the caller is in. */
  async inviteMore(identity: Identity, callerRoom: string | null, req: ClientPayloads['call-invite']): Promise<OpenedCall> {
    const call = req.call_id !== undefined ? this.calls.get(req.call_id) : undefined;
    if (!call || call.state === 'ended' || callerRoom !== call.room) throw new AppError('not_found', 'you are not in that call', 'call_id');
    this.checkCaller(identity, req.to);
    const to = this.inviteLimits.check(identity.user_id, req.to);
    const inCall = new Set([...(this.rooms.getRoom(call.room)?.participants.values() ?? [])].map((p) => p.identity.userId));
    const fresh = to.filter((u) => {
      if (inCall.has(u)) return false;
      const i = call.invitees.get(u);
      return !i || i.status === 'declined' || i.status === 'missed' || i.status === 'cancelled';
    });
    for (const userId of fresh) call.invitees.set(userId, newInvitee(userId));
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
  accepting(userId: string, callId: string, deviceId: string | null): string {
    const { call, invitee } = this.invitation(userId, callId);
    if (invitee.status === 'accepted' || invitee.status === 'accepting') throw new AppError('conflict', 'this call was already answered');
    if (invitee.status !== 'ringing') throw new AppError('conflict', `this invitation is ${invitee.status}`);
    invitee.status = 'accepting';
    this.stopTimer(invitee);
    const elsewhere = encode({ type: 'call-answered-elsewhere', payload: { call_id: call.id } });
    this.deliverHere(userId, elsewhere, deviceId);
    this.network?.deliver(userId, elsewhere, deviceId);
    return call.room;
  }

  /** The invitee is in the call's room: the others hear it, the call is active. */
  accepted(userId: string, callId: string, displayName: string): void {
    const call = this.calls.get(callId);
    const invitee = call?.invitees.get(userId);
    if (!call || !invitee || invitee.status !== 'accepting') return;
    invitee.status = 'accepted';
    call.state = 'active';
    void this.storeInvitee(call, invitee, new Date());
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
    void this.storeInvitee(call, invitee, new Date());
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

  /** Tokens bound to one room place no calls; a token's `may_call` claim limits whom it rings. */
  private checkCaller(identity: Identity, to: string[]): void {
    if (identity.room !== null) {
      throw new AppError('unauthorized', `this token is bound to room ${identity.room}; it cannot place calls`);
    }
    const allowed = identity.may_call;
    const refused = allowed ? to.find((u) => !allowed.includes(u)) : undefined;
    if (refused !== undefined) throw new AppError('forbidden', `this token may not call ${refused}`, 'to');
  }

  /** Checks the invitees and the caller's invite limit, stores the call (ringing), and keeps it. */
  private async create(req: ApiCallRequest): Promise<Call> {
    const to = this.inviteLimits.check(req.from.user_id, req.to);
    const callId = randomUUID();
    const room = callRoomName(callId);
    const type: CallType = to.length === 1 ? 'direct' : 'group';
    await this.store
      .openRinging({
        callId,
        room,
        nodeId: this.nodeId,
        type,
        initiatorId: req.from.user_id,
        media: req.media,
        metadata: req.metadata ?? {},
      })
      .catch((err: unknown) => {
        throw this.storageError(err);
      });
    const call: Call = { id: callId, room, type, media: req.media, from: req.from, state: 'ringing', invitees: new Map() };
    for (const userId of to) call.invitees.set(userId, newInvitee(userId));
    this.calls.set(callId, call);
    this.byRoom.set(room, call);
    return call;
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
    void this.storeInvitee(call, invitee, new Date());
    this.toRoom(call, { type: 'call-missed', payload: { call_id: call.id, user_id: invitee.userId } });
    this.toDevices(invitee.userId, { type: 'call-ended', payload: { call_id: call.id, reason: 'missed' } });
    await this.emit('call_missed', call, { user_id: invitee.userId, from: call.from, media: call.media });
    await this.settle(call);
  }

  /** A ringing call where nobody rings or answers any more ends with the last outcome. */
  private async settle(call: Call): Promise<void> {
    if (call.state !== 'ringing') return;
    const reason = ringingOutcome(call.invitees.values());
    if (reason) await this.end(call, reason);
  }

  /** Ends the call: ringing stops, the room's people hear why and are out of it (their connections stay). */
  private async end(call: Call, reason: CallEndReason): Promise<void> {
    if (call.state === 'ended') return;
    call.state = 'ended';
    this.calls.delete(call.id);
    this.byRoom.delete(call.room);
    const at = new Date();
    const stored: Promise<void>[] = [];
    for (const invitee of call.invitees.values()) {
      this.stopTimer(invitee);
      if (invitee.status !== 'ringing' && invitee.status !== 'accepting' && invitee.status !== 'invited') continue;
      const wasRinging = invitee.status !== 'invited';
      invitee.status = 'cancelled';
      if (wasRinging) {
        stored.push(this.storeInvitee(call, invitee, at));
        this.toDevices(invitee.userId, { type: 'call-cancelled', payload: { call_id: call.id } });
      }
    }
    // call-ended is the room's last word: each gets it right before being out of the room, so a client
    // that reads it may take the next call at once.
    const ended = encode({ type: 'call-ended', payload: { call_id: call.id, reason } });
    const closed = await this.rooms.endRoom(call.room, reason, undefined, ended).catch((err: unknown) => {
      this.log.error({ err, call_id: call.id }, 'could not close the room of an ended call');
      return false;
    });
    if (!closed) {
      await this.store
        .endCall(call.id, reason, at)
        .catch((err: unknown) => this.log.error({ err, call_id: call.id }, 'could not store the end of a call'));
    }
    await Promise.all(stored); // the end is reported once the invitees' rows say so
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

  /** Stores an invitee's status; a failure is logged (the call goes on), so the promise never rejects. */
  private storeInvitee(call: Call, invitee: Invitee, at: Date): Promise<void> {
    const status = invitee.status === 'accepting' ? 'ringing' : invitee.status;
    return this.store
      .setInvitee(call.id, invitee.userId, status, at)
      .catch((err: unknown) => this.log.error({ err, call_id: call.id, user_id: invitee.userId, status }, 'could not store an invitee'));
  }

  private toDevices(userId: string, message: ServerMessage): void {
    const encoded = encode(message);
    this.deliverHere(userId, encoded, null);
    this.network?.deliver(userId, encoded, null);
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
