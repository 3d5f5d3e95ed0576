// Read models of the rooms domain for REST, the cluster and recording: a
// room's settings, its participants now and in its call, calls, live states.

import type { RoomSettings, RoomState } from '../../../signaling/protocol/protocol.js';
import { AppError } from '../../kernel/errors.js';
import type { CallRecord, ParticipantRecord } from '../../storage/callStore.js';
import { roomLiveState, type RoomLiveState } from './room.js';
import type { RoomContext } from './roomContext.js';
import { resolveSettings } from './roomSettings.js';

/** A room's participants over REST: who is connected now, and every stay in its current (else latest) call. */
export interface RoomParticipants {
  call_id: string | null;
  participants: RoomState['participants'];
  history: ParticipantRecord[];
}

export class RoomReads {
  constructor(private readonly ctx: RoomContext) {}

  /** A room's settings: the open room's, else its row's (null: no such room). For REST and the recording side. */
  async roomSettings(name: string): Promise<RoomSettings | null> {
    const open = this.ctx.rooms.get(name);
    if (open) return open.settings;
    const row = await this.ctx.ctl.control.getRoom(name);
    return row ? resolveSettings(row, this.ctx.ctl.emptyTimeoutSeconds) : null;
  }

  /** May this room be recorded now? (Recording checks this before it starts.) */
  async recordingAllowed(name: string): Promise<boolean> {
    return (await this.roomSettings(name))?.recording_allowed ?? true;
  }

  async getCall(callId: string): Promise<{ call: CallRecord; participants: ParticipantRecord[] }> {
    const { ctx } = this;
    try {
      const call = await ctx.store.getCall(callId);
      if (!call) throw new AppError('not_found', `no call ${callId}`);
      return { call, participants: await ctx.store.listParticipants(callId) };
    } catch (err) {
      throw ctx.storageError(err);
    }
  }

  /** The room's participants: connected now (open room) and the rows of its current or latest call (not_found: no such room). */
  async roomParticipants(name: string): Promise<RoomParticipants> {
    const { ctx } = this;
    const room = ctx.rooms.get(name);
    try {
      const callId = room?.callId ?? (await ctx.ctl.control.latestCallId(name));
      if (!room && !callId && !(await ctx.ctl.control.getRoom(name))) throw new AppError('not_found', `no room ${name}`);
      const history = callId ? await ctx.store.listParticipants(callId) : [];
      return { call_id: callId, participants: room ? room.state().participants : [], history };
    } catch (err) {
      throw ctx.storageError(err);
    }
  }

  /** The live state of those of these rooms that are open on this node. */
  liveStates(names: string[]): Map<string, RoomLiveState> {
    const out = new Map<string, RoomLiveState>();
    for (const name of names) {
      const room = this.ctx.rooms.get(name);
      if (room) out.set(name, roomLiveState(room, this.ctx.nodeId));
    }
    return out;
  }

  /** Names of the rooms open on this node (their directory leases are renewed with each heartbeat). */
  roomNames(): string[] {
    return [...this.ctx.rooms.keys()];
  }
}
