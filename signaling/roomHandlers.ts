// Handlers of the room-control requests (and the in-call chat): each hands
// the caller's participant and the validated payload to the rooms domain's
// RoomControl (or RoomChat), which checks the caller's role.

import type { HubContext } from './hubContext.js';
import type { AckResults, ClientPayloads } from './protocol/protocol.js';
import type { Client } from './client.js';

type RoomControlType =
  | 'set-role'
  | 'raise-hand'
  | 'lower-hand'
  | 'acknowledge-hand'
  | 'mute-participant'
  | 'mute-all'
  | 'kick'
  | 'lock-room'
  | 'unlock-room'
  | 'update-room'
  | 'admit'
  | 'deny'
  | 'send-data'
  | 'whiteboard-draw'
  | 'whiteboard-clear'
  | 'chat-send'
  | 'chat-delete';

type Handler<K extends RoomControlType> = (session: Client, ctx: HubContext, payload: ClientPayloads[K]) => Promise<AckResults[K]>;

const EMPTY = Object.freeze({}) as Record<string, never>;

/** The caller as a RoomControl actor, and its room's name. */
function me(s: Client) {
  const participant = s.inRoom();
  return { actor: { participant }, room: participant.roomName };
}

export const roomHandlers: { [K in RoomControlType]: Handler<K> } = {
  async 'set-role'(s, ctx, p) {
    const { actor, room } = me(s);
    await ctx.control.setRole(actor, room, p.participant_id, p.role);
    return EMPTY;
  },
  'raise-hand': (s, ctx) => {
    const { actor, room } = me(s);
    return ctx.control.raiseHand(actor, room);
  },
  async 'lower-hand'(s, ctx, p) {
    const { actor, room } = me(s);
    await ctx.control.lowerHand(actor, room, p.user_id);
    return EMPTY;
  },
  'acknowledge-hand': (s, ctx, p) => {
    const { actor, room } = me(s);
    return ctx.control.acknowledgeHand(actor, room, p.user_id, p.promote ?? false);
  },
  async 'mute-participant'(s, ctx, p) {
    const { actor, room } = me(s);
    await ctx.control.muteParticipant(actor, room, p.participant_id, p.track);
    return EMPTY;
  },
  'mute-all': (s, ctx, p) => {
    const { actor, room } = me(s);
    return ctx.control.muteAll(actor, room, p.track ?? 'audio');
  },
  async kick(s, ctx, p) {
    const { actor, room } = me(s);
    await ctx.control.kick(actor, room, p.participant_id, p.reason);
    return EMPTY;
  },
  async 'lock-room'(s, ctx) {
    const { actor, room } = me(s);
    await ctx.control.setLocked(actor, room, true);
    return EMPTY;
  },
  async 'unlock-room'(s, ctx) {
    const { actor, room } = me(s);
    await ctx.control.setLocked(actor, room, false);
    return EMPTY;
  },
  async 'update-room'(s, ctx, p) {
    const { actor, room } = me(s);
    return { settings: await ctx.control.updateSettings(actor, room, p) };
  },
  async admit(s, ctx, p) {
    const { actor, room } = me(s);
    await ctx.control.admit(actor, room, p.user_id);
    return EMPTY;
  },
  async deny(s, ctx, p) {
    const { actor, room } = me(s);
    await ctx.control.deny(actor, room, p.user_id, p.reason);
    return EMPTY;
  },
  async 'send-data'(s, ctx, p) {
    const { actor, room } = me(s);
    await ctx.control.sendData(actor, room, p.topic, p.data, p.to);
    return EMPTY;
  },
  'whiteboard-draw': (s, ctx, p) => ctx.control.draw(me(s).actor, p.stroke),
  async 'whiteboard-clear'(s, ctx) {
    const { actor, room } = me(s);
    await ctx.control.clearWhiteboard(actor, room);
    return EMPTY;
  },
  // In-call chat
  async 'chat-send'(s, ctx, p) {
    return { message: await ctx.chat.send(s.inRoom(), p.text, p.reply_to) };
  },
  async 'chat-delete'(s, ctx, p) {
    const { actor, room } = me(s);
    await ctx.chat.delete(actor, room, p.message_id);
    return EMPTY;
  },
};
