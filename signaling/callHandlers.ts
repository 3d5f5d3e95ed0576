// Calls: ring users, answer, decline, cancel (docs/calls.md). The rules live in
// the calls domain (CallService); these handlers move the connection in and
// out of the call's room, as `join` and `leave` do.

import type { JoinResult } from '../server/domain/rooms/roomService.js';
import { AppError } from '../server/kernel/errors.js';
import type { AckResults, ClientPayloads, Identity, Role } from './protocol/protocol.js';
import type { HubContext } from './hubContext.js';
import { identityOf, type Client } from './client.js';

const EMPTY = Object.freeze({}) as Record<string, never>;
const JOIN_CANCELLED = Object.freeze({ reason: 'join cancelled' });

/** In a call room the caller is host and invitees are speakers, whatever their token says. */
function callIdentity(identity: Identity, role: Role): Identity {
  return { ...identity, role, room: null };
}

function calls(ctx: HubContext) {
  if (!ctx.calls) throw new AppError('unavailable', 'calls are not available on this server');
  return ctx.calls;
}

/** Enters a call room (no lobby there); `joined` goes out inside the room's lock when `replyId` is given. */
async function enterCallRoom(
  session: Client,
  ctx: HubContext,
  room: string,
  identity: Identity,
  displayName: string | undefined,
  replyId: string | undefined | null,
): Promise<JoinResult> {
  session.joining = true;
  const cancel = new AbortController();
  session.cancelJoin = () => cancel.abort(JOIN_CANCELLED);
  try {
    const result = await ctx.rooms.join({
      identity,
      room,
      ...(displayName !== undefined ? { displayName } : {}),
      clientIp: session.clientIp,
      sink: session,
      signal: cancel.signal,
      onJoined(p, roomState) {
        session.participant = p;
        if (replyId !== null) {
          session.reply({
            type: 'joined',
            ...(replyId !== undefined ? { id: replyId } : {}),
            payload: { participant_id: p.id, room_state: roomState },
          });
        }
      },
    });
    // The socket closed while the join was being recorded.
    if (session.closed && session.participant === result.participant) {
      session.participant = null;
      await ctx.rooms.leave(result.participant, 'disconnected');
      throw new AppError('not_in_room', 'the connection closed');
    }
    return result;
  } finally {
    session.joining = false;
    session.cancelJoin = null;
  }
}

function freeForACall(session: Client): void {
  if (session.participant || session.joining || session.relay) throw new AppError('already_in_room', 'leave the current room first');
}

type CallHandlers = {
  'call-invite'(session: Client, ctx: HubContext, payload: ClientPayloads['call-invite']): Promise<AckResults['call-invite']>;
  'call-accept'(session: Client, ctx: HubContext, payload: ClientPayloads['call-accept'], id: string | undefined): Promise<void>;
  'call-decline'(session: Client, ctx: HubContext, payload: ClientPayloads['call-decline']): Promise<AckResults['call-decline']>;
  'call-cancel'(session: Client, ctx: HubContext, payload: ClientPayloads['call-cancel']): Promise<AckResults['call-cancel']>;
};

export const callHandlers: CallHandlers = {
  async 'call-invite'(session, ctx, payload) {
    const identity = identityOf(session);
    const service = calls(ctx);
    if (payload.call_id !== undefined) {
      const more = await service.inviteMore(identity, session.participant?.roomName ?? null, payload);
      return { call_id: more.callId, room: more.room, invited: more.invited };
    }
    freeForACall(session);
    const opened = await service.open(identity, payload);
    let joined: JoinResult;
    try {
      joined = await enterCallRoom(session, ctx, opened.room, callIdentity(identity, 'host'), payload.display_name, null);
    } catch (err) {
      await service.abandon(opened.callId);
      throw err;
    }
    await service.ring(opened.callId);
    return {
      call_id: opened.callId,
      room: opened.room,
      invited: opened.invited,
      participant_id: joined.participant.id,
      room_state: joined.roomState,
    };
  },

  async 'call-accept'(session, ctx, payload, id) {
    const identity = identityOf(session);
    const service = calls(ctx);
    freeForACall(session);
    // Cluster: a call that rings from another node is answered there, through this node.
    if (!service.has(payload.call_id) && ctx.callRouter && (await ctx.callRouter.acceptElsewhere(session, payload, id))) return;
    const room = service.accepting(identity.user_id, payload.call_id, session.callDeviceId);
    try {
      await enterCallRoom(session, ctx, room, callIdentity(identity, 'speaker'), payload.display_name, id);
    } catch (err) {
      service.acceptFailed(identity.user_id, payload.call_id);
      throw err;
    }
    service.accepted(identity.user_id, payload.call_id, payload.display_name ?? identity.name);
  },

  async 'call-decline'(session, ctx, payload) {
    const identity = identityOf(session);
    const by = { user_id: identity.user_id, display_name: identity.name };
    const reason = payload.reason ?? 'declined';
    const service = calls(ctx);
    if (!service.has(payload.call_id) && ctx.callRouter && (await ctx.callRouter.declineElsewhere(payload.call_id, by, reason)))
      return EMPTY;
    await service.decline(by, payload.call_id, reason);
    return EMPTY;
  },

  async 'call-cancel'(session, ctx, payload) {
    const identity = identityOf(session);
    await calls(ctx).cancel(identity.user_id, payload.call_id, session.participant?.roomName ?? null);
    return EMPTY;
  },
};
