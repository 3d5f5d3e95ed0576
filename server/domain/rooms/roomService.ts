// The rooms domain: who is in which room, the call's lifecycle, and the
// signaling between participants. Every change to membership or call state is
// persisted before it is acknowledged; relays are synchronous and in memory.
//
// RoomService is the facade the edges, live, recordings and the wiring use;
// the work is done by one module per job, sharing a RoomContext:
//   joining.ts        entry checks, lobby hand-off, entering under the lock
//   leaving.ts        leaves, disconnects, kicks and replacements
//   roomLifecycle.ts  opening, empty timers, closing, evacuation, shutdown
//   roomEvents.ts     webhook events (observer first, durable retries)
//   peerSignals.ts    SDP/ICE relay, mute, hold, DTMF
//   roomReads.ts      read models (settings, participants, calls, live states)

import type { EventEmitter } from 'node:events';
import type {
  ClientPayloads,
  LeaveReason,
  LiveReaction,
  ReconnectReason,
  RoomSettings,
  Track,
} from '../../../signaling/protocol/protocol.js';
import type { KeyedMutex } from '../../kernel/keyedMutex.js';
import type { Logger } from '../../kernel/logger.js';
import type { CallRecord, CallStore, ParticipantRecord } from '../../storage/callStore.js';
import type { EventName } from '../events.js';
import { Joining, type JoinRequest, type JoinResult } from './joining.js';
import { Leaving } from './leaving.js';
import type { Participant } from './participant.js';
import { PeerSignals, type RelayType } from './peerSignals.js';
import type { Room, RoomLiveState } from './room.js';
import { RoomContext, type RoomControlDeps } from './roomContext.js';
import type { RoomDirectory } from './roomDirectory.js';
import { RoomEvents, type RoomObserverEvents } from './roomEvents.js';
import { RoomLifecycle } from './roomLifecycle.js';
import { RoomReads, type RoomParticipants } from './roomReads.js';

export type { JoinRequest, JoinResult } from './joining.js';
export type { RoomControlDeps } from './roomContext.js';
export type { RoomObserverEvents } from './roomEvents.js';
export type { RoomParticipants } from './roomReads.js';

export class RoomService {
  readonly roomLocks: KeyedMutex;
  /** Listeners must not throw: they run inside the action that records the event. */
  readonly observer: EventEmitter<RoomObserverEvents>;
  private readonly ctx: RoomContext;
  private readonly events: RoomEvents;
  private readonly lifecycle: RoomLifecycle;
  private readonly leaving: Leaving;
  private readonly joining: Joining;
  private readonly signals: PeerSignals;
  private readonly reads: RoomReads;

  constructor(
    store: CallStore,
    directory: RoomDirectory,
    readonly nodeId: string,
    log: Logger,
    readonly ctl: RoomControlDeps,
  ) {
    this.ctx = new RoomContext(store, directory, nodeId, log, ctl);
    this.events = new RoomEvents(this.ctx);
    this.lifecycle = new RoomLifecycle(this.ctx, this.events);
    this.leaving = new Leaving(this.ctx, this.events, this.lifecycle);
    this.joining = new Joining(this.ctx, this.events, this.lifecycle, this.leaving);
    this.signals = new PeerSignals(this.ctx);
    this.reads = new RoomReads(this.ctx);
    this.roomLocks = this.ctx.locks;
    this.observer = this.events.observer;
  }

  get roomCount(): number {
    return this.ctx.rooms.size;
  }

  get participants(): number {
    return this.ctx.participantCount;
  }

  getRoom(name: string): Room | undefined {
    return this.ctx.rooms.get(name);
  }

  // ---- Joining and leaving ----

  join(req: JoinRequest): Promise<JoinResult> {
    return this.joining.join(req);
  }

  /** Removes a participant (leave or disconnect). Safe to call twice. */
  leave(participant: Participant, reason: LeaveReason): Promise<void> {
    return this.leaving.leave(participant, reason);
  }

  /** Takes a participant out of its room; the caller holds the room's lock. */
  removeLocked(room: Room, p: Participant, reason: LeaveReason): Promise<void> {
    return this.leaving.removeLocked(room, p, reason);
  }

  // ---- Events ----

  /** Records a webhook event (the observer hears it first); the outbox write happens before the action is acknowledged. */
  emit(name: EventName, room: Room, data: Record<string, unknown>): Promise<void> {
    return this.events.emit(name, room, data);
  }

  /** Records an event of something that has happened anyway; retried until the database is back. Never rejects. */
  emitDurably(what: string, name: EventName, room: Room, data: Record<string, unknown>): Promise<void> {
    return this.events.emitDurably(what, name, room, data);
  }

  // ---- Room lifecycle ----

  /** Starts the countdown that ends the call of an empty room (0: at once). */
  armEmptyTimer(room: Room): void {
    this.lifecycle.armEmptyTimer(room);
  }

  /** A host ends the call for everyone. */
  endCall(by: Participant): Promise<void> {
    return this.lifecycle.endCall(by);
  }

  /** Ends a room's call for everyone (host or REST); `by` must still be in it when given. */
  endRoom(name: string, reason: string, by?: Participant, lastWord?: string): Promise<boolean> {
    return this.lifecycle.endRoom(name, reason, by, lastWord);
  }

  /** Pre-creates a call (REST), so the app has a call id before anyone joins. */
  createCall(room: string, metadata: Record<string, unknown>): Promise<CallRecord> {
    return this.lifecycle.createCall(room, metadata);
  }

  /** Ends the room's call, tells everyone still in it, and forgets the room; the caller holds the room's lock. */
  closeRoomLocked(room: Room, reason: string): Promise<void> {
    return this.lifecycle.closeRoomLocked(room, reason);
  }

  /** Everyone leaves (server shutting down); their rows and calls are closed. */
  shutdown(): Promise<void> {
    return this.lifecycle.shutdown();
  }

  // ---- Signaling between participants ----

  relay(from: Participant, type: RelayType, payload: ClientPayloads[RelayType]): void {
    this.signals.relay(from, type, payload);
  }

  /** Mute state is signaled to the others and, for SFU calls, enforced by pausing the producer. */
  setMuted(p: Participant, track: Track, muted: boolean): Promise<void> {
    return this.signals.setMuted(p, track, muted);
  }

  setHold(p: Participant, onHold: boolean): void {
    this.signals.setHold(p, onHold);
  }

  setDeafened(p: Participant, deafened: boolean): void {
    this.signals.setDeafened(p, deafened);
  }

  react(p: Participant, reaction: LiveReaction): void {
    this.signals.react(p, reaction);
  }

  dtmf(p: Participant, req: ClientPayloads['dtmf']): void {
    this.signals.dtmf(p, req);
  }

  // ---- Read models ----

  roomOf(p: Participant): Room {
    return this.ctx.roomOf(p);
  }

  /** A room's settings: the open room's, else its row's (null: no such room). For REST and the recording side. */
  roomSettings(name: string): Promise<RoomSettings | null> {
    return this.reads.roomSettings(name);
  }

  /** May this room be recorded now? (Recording checks this before it starts.) */
  recordingAllowed(name: string): Promise<boolean> {
    return this.reads.recordingAllowed(name);
  }

  getCall(callId: string): Promise<{ call: CallRecord; participants: ParticipantRecord[] }> {
    return this.reads.getCall(callId);
  }

  /** The room's participants: connected now (open room) and the rows of its current or latest call (not_found: no such room). */
  roomParticipants(name: string): Promise<RoomParticipants> {
    return this.reads.roomParticipants(name);
  }

  /** The live state of those of these rooms that are open on this node. */
  liveStates(names: string[]): Map<string, RoomLiveState> {
    return this.reads.liveStates(names);
  }

  // ---- Cluster ----

  /** Names of the rooms open on this node (their directory leases are renewed with each heartbeat). */
  roomNames(): string[] {
    return this.reads.roomNames();
  }

  /**
   * Moves a room off this node (drain, or another node owns it now): everyone
   * in it is told to reconnect and their connections close; their rows say
   * `migrated`; the call stays open, so the node they land on carries it on.
   */
  evacuate(name: string, reason: ReconnectReason, retryAfterMs = 0): Promise<boolean> {
    return this.lifecycle.evacuate(name, reason, retryAfterMs);
  }
}
