// Handlers of the live-streaming requests. A connection acts on a
// stream either as a participant of the room or as a watcher (`live-watch`,
// no seat in the room); LiveService checks the role.

import { AppError } from '../server/kernel/errors.js';
import type { LiveActor } from '../server/domain/live/liveService.js';
import type { HubContext } from './hubContext.js';
import type { AckResults, ClientPayloads } from './protocol/protocol.js';
import { identityOf, type Client } from './client.js';

type LiveType =
  | 'live-start'
  | 'live-stop'
  | 'live-show'
  | 'live-watch'
  | 'live-unwatch'
  | 'live-chat'
  | 'live-chat-delete'
  | 'live-chat-pin'
  | 'live-chat-unpin'
  | 'live-react';

type Handler<K extends LiveType> = (session: Client, ctx: HubContext, payload: ClientPayloads[K]) => AckResults[K] | Promise<AckResults[K]>;

const EMPTY = Object.freeze({}) as Record<string, never>;

function live(ctx: HubContext) {
  if (!ctx.live) throw new AppError('unavailable', 'live streaming is not available on this server');
  return ctx.live;
}

/** The caller as an actor: its participant when in a room, else its watcher. */
function actor(s: Client, ctx: HubContext): LiveActor {
  if (s.participant) return { participant: s.participant };
  const watcher = live(ctx).watcher(s);
  if (watcher) return { watcher };
  throw new AppError('not_in_room', 'join the room or watch its stream (live-watch) first');
}

/** Stops watching when the socket goes (once per session). */
const unwatchOnClose = new WeakSet<Client>();

export const liveHandlers: { [K in LiveType]: Handler<K> } = {
  'live-start': async (s, ctx, p) => {
    const me = s.inRoom();
    return {
      stream: await live(ctx).start({ participant: me }, me.roomName, {
        ...(p.layout ? { layout: p.layout } : {}),
        ...(p.participant_id ? { participantId: p.participant_id } : {}),
      }),
    };
  },
  'live-stop': async (s, ctx) => {
    const me = s.inRoom();
    return { stream: await live(ctx).stop({ participant: me }, me.roomName) };
  },
  'live-show': async (s, ctx, p) => {
    const me = s.inRoom();
    return { stream: await live(ctx).show({ participant: me }, me.roomName, p.participant_id) };
  },
  'live-watch': (s, ctx, p) => {
    if (s.participant && s.participant.roomName !== p.room)
      throw new AppError('already_in_room', 'you are in another room; leave it first');
    const result = live(ctx).watch(s, identityOf(s), p.room);
    if (!unwatchOnClose.has(s)) {
      unwatchOnClose.add(s);
      s.gone.addEventListener('abort', () => ctx.live?.unwatch(s), { once: true });
    }
    return result;
  },
  'live-unwatch': (s, ctx) => {
    if (!live(ctx).unwatch(s)) throw new AppError('not_found', 'you are not watching a stream');
    return EMPTY;
  },
  'live-chat': async (s, ctx, p) => ({ message: await live(ctx).chat(actor(s, ctx), p.text) }),
  'live-chat-delete': async (s, ctx, p) => {
    await live(ctx).deleteMessage(actor(s, ctx), p.message_id);
    return EMPTY;
  },
  'live-chat-pin': async (s, ctx, p) => {
    const message = await live(ctx).pin(actor(s, ctx), p.message_id);
    if (!message) throw new AppError('internal_error', 'pinning a message returned none'); // pin() throws not_found instead
    return { message };
  },
  'live-chat-unpin': async (s, ctx) => {
    await live(ctx).pin(actor(s, ctx), null);
    return EMPTY;
  },
  'live-react': (s, ctx, p) => {
    live(ctx).react(actor(s, ctx), p.reaction);
    return EMPTY;
  },
};
