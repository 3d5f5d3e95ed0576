// One small function per client message type. A handler returns the `ack`
// result (or a promise of it); returning undefined means it replied itself.

import { AppError } from '../server/kernel/errors.js';
import type { AckResults, ClientPayloads, ClientType } from './protocol/protocol.js';
import type { HubContext } from './hubContext.js';
import { identityOf, type Client } from './client.js';
import { sfuHandlers } from './sfuHandlers.js';
import { roomHandlers } from './roomHandlers.js';
import { recordingHandlers } from './recordingHandlers.js';
import { liveHandlers } from './liveHandlers.js';
import { callHandlers } from './callHandlers.js';

type Handler<K extends ClientType> = (
  session: Client,
  ctx: HubContext,
  payload: ClientPayloads[K],
  id: string | undefined,
) => K extends keyof AckResults ? AckResults[K] | Promise<AckResults[K]> : void | Promise<void>;

const EMPTY = Object.freeze({}) as Record<string, never>;
// One reason for every cancelled join: abort() without one builds a DOMException (and its stack) each time.
const JOIN_CANCELLED = Object.freeze({ reason: 'join cancelled' });

export const handlers: { [K in ClientType]: Handler<K> } = {
  async auth(session, _ctx, { token }) {
    if (session.identity) throw new AppError('already_authenticated', 'this connection is already authenticated');
    return session.authResult(await session.authenticate(token));
  },

  async join(session, ctx, payload, id) {
    if (session.participant || session.joining) throw new AppError('already_in_room', 'leave the current room first');
    // Cluster: a room that runs on another node is joined there, through this node.
    if (ctx.cluster && (await ctx.cluster.joinElsewhere(session, payload, id))) return;
    session.joining = true;
    const started = performance.now();
    // Room control: a join put in the lobby is answered later; meanwhile this
    // connection's other requests (ping, leave) must go on, so the handler returns early.
    const cancel = new AbortController();
    session.cancelJoin = () => cancel.abort(JOIN_CANCELLED);
    let inLobby!: () => void;
    let waited = false;
    const lobby = new Promise<'lobby'>(
      (resolve) =>
        (inLobby = () => {
          waited = true;
          resolve('lobby');
        }),
    );
    const joining = ctx.rooms
      .join({
        identity: identityOf(session),
        room: payload.room,
        ...(payload.display_name !== undefined ? { displayName: payload.display_name } : {}),
        ...(payload.capabilities !== undefined ? { capabilities: payload.capabilities } : {}),
        clientIp: session.clientIp,
        sink: session,
        signal: cancel.signal, // aborted by a `leave` while waiting, or by the socket closing (Session.onClosed)
        onLobby: inLobby,
        onJoined(p, roomState) {
          session.participant = p;
          session.reply({ type: 'joined', ...(id !== undefined ? { id } : {}), payload: { participant_id: p.id, room_state: roomState } });
        },
      })
      .then(async ({ participant }) => {
        if (!waited) ctx.metrics.joinSeconds.observe((performance.now() - started) / 1000); // the lobby wait is not join time
        // The socket closed while the join was being recorded.
        if (session.closed && session.participant === participant) {
          session.participant = null;
          await ctx.rooms.leave(participant, 'disconnected');
        }
        return 'joined' as const;
      })
      .finally(() => {
        session.joining = false;
        session.cancelJoin = null;
      });
    joining.catch(() => {}); // handled by the race below, or by the late reply
    if ((await Promise.race([joining, lobby])) === 'lobby') {
      joining.catch((err) => session.fail(id, err));
    }
  },

  async leave(session, ctx) {
    // Room control: leaving the lobby ends the wait (the join fails with not_in_room).
    if (!session.participant && session.cancelJoin) {
      session.cancelJoin();
      return EMPTY;
    }
    const participant = session.inRoom();
    session.participant = null;
    await ctx.rooms.leave(participant, 'left');
    return EMPTY;
  },

  offer(session, ctx, payload) {
    ctx.rooms.relay(session.inRoom(), 'offer', payload);
    return EMPTY;
  },

  answer(session, ctx, payload) {
    ctx.rooms.relay(session.inRoom(), 'answer', payload);
    return EMPTY;
  },

  'ice-candidate'(session, ctx, payload) {
    ctx.rooms.relay(session.inRoom(), 'ice-candidate', payload);
    return EMPTY;
  },

  async mute(session, ctx, { track }) {
    await ctx.rooms.setMuted(session.inRoom(), track, true);
    return EMPTY;
  },

  async unmute(session, ctx, { track }) {
    await ctx.rooms.setMuted(session.inRoom(), track, false);
    return EMPTY;
  },

  hold(session, ctx) {
    ctx.rooms.setHold(session.inRoom(), true);
    return EMPTY;
  },

  unhold(session, ctx) {
    ctx.rooms.setHold(session.inRoom(), false);
    return EMPTY;
  },

  deafen(session, ctx) {
    ctx.rooms.setDeafened(session.inRoom(), true);
    return EMPTY;
  },

  undeafen(session, ctx) {
    ctx.rooms.setDeafened(session.inRoom(), false);
    return EMPTY;
  },

  react(session, ctx, { reaction }) {
    ctx.rooms.react(session.inRoom(), reaction);
    return EMPTY;
  },

  dtmf(session, ctx, payload) {
    ctx.rooms.dtmf(session.inRoom(), payload);
    return EMPTY;
  },

  async 'end-call'(session, ctx) {
    await ctx.rooms.endCall(session.inRoom());
    return EMPTY;
  },

  ping(_session, _ctx, { t }) {
    return { ...(t !== undefined ? { t } : {}), server_time: Date.now() };
  },

  ...sfuHandlers,
  ...roomHandlers,
  ...recordingHandlers,
  ...liveHandlers,
  ...callHandlers,
};
