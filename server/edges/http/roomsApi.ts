// REST /api/v1 for the app's backend (API key): rooms, their settings and
// participants, moderation, raised hands, the lobby, data messages. It acts
// on the same in-memory rooms as the WebSocket, through the same RoomControl
// (with host rights), so connected clients see every change at once.

import { ROLES, ROOM_NAME, ROOM_TYPES, TRACKS, DATA_MESSAGE_MAX_BYTES, roomSettingsPatch } from '../../../signaling/protocol/protocol.js';
import { boolean, integer, jsonObject, jsonValue, object, oneOf, optional, string } from '../../../signaling/protocol/schema.js';
import { AppError } from '../../kernel/errors.js';
import { participantJson } from '../../domain/rooms/participantJson.js';
import { API_ACTOR, type RoomControl, type RoomInfo } from '../../domain/rooms/roomControl.js';
import { NO_CALL, type RoomLiveState } from '../../domain/rooms/room.js';
import type { RoomService } from '../../domain/rooms/roomService.js';
import type { TokenIssuer } from '../auth/tokens.js';
import { requireApiKey, type ApiCredentials } from './apiAuth.js';
import type { Request, Router } from './router.js';
import { limitParam, parseBody, pathParam, roomParam } from './requestParams.js';

export interface RoomsApiDeps {
  rooms: RoomService;
  control: RoomControl;
  issuer: TokenIssuer | null;
  credentials: ApiCredentials;
  tokenTtl: { defaultTtlSeconds: number; maxTtlSeconds: number };
  publicUrl: () => string;
  /** In a cluster: the live state of rooms wherever they run (default: this node's rooms only). */
  liveStates?: (rooms: string[]) => Promise<Map<string, RoomLiveState>>;
}

const PREFIX = '/api/v1/rooms';
const USER_ID = string({ min: 1, max: 128 });

const createRoomRequest = object({
  name: optional(ROOM_NAME),
  type: optional(oneOf(ROOM_TYPES)),
  max_participants: optional(integer({ min: 1, max: 100_000 })),
  empty_timeout: optional(integer({ min: 0, max: 7 * 86400 })),
  lobby: optional(boolean()),
  recording_allowed: optional(boolean()),
  metadata: optional(jsonObject({ maxBytes: 16 * 1024 })),
});
const joinRequest = object({
  user_id: USER_ID,
  name: optional(string({ max: 128 })),
  role: optional(oneOf(ROLES)),
  ttl: optional(integer({ min: 60, max: 365 * 86400 })),
});
const trackRequest = object({ track: optional(oneOf(TRACKS)) });
const kickRequest = object({ reason: optional(string({ max: 256 })) });
const roleRequest = object({ role: oneOf(ROLES) });
const userRequest = object({ user_id: USER_ID });
const ackRequest = object({ user_id: optional(USER_ID), promote: optional(boolean()) });
const denyRequest = object({ reason: optional(string({ max: 256 })) });
const dataRequest = object({
  topic: string({ min: 1, max: 64, pattern: /^[A-Za-z0-9_.:/-]+$/, hint: 'may contain only letters, digits and _ . : / -' }),
  data: jsonValue({ maxBytes: DATA_MESSAGE_MAX_BYTES }),
  to: optional(string({ min: 1, max: 64 })),
});

export function createRoomsApi(router: Router, deps: RoomsApiDeps): void {
  const { rooms, control } = deps;
  const auth = (req: Request) => requireApiKey(req, deps.credentials);
  const liveStates = deps.liveStates ?? (async (names: string[]) => rooms.liveStates(names));
  const roomsJson = async (infos: RoomInfo[]) => {
    const live = await liveStates(infos.map((r) => r.name));
    return infos.map((info) => ({ ...info, ...(live.get(info.name) ?? NO_CALL) }));
  };
  const roomJson = async (info: RoomInfo) => (await roomsJson([info]))[0];
  const ok = { status: 200, body: { ok: true } };

  router.add('GET', PREFIX, async (req) => {
    auth(req);
    const limit = limitParam(req, 100);
    return { status: 200, body: { rooms: await roomsJson(await control.listRooms(limit)) } };
  });

  router.add('POST', PREFIX, async (req) => {
    auth(req);
    const body = await parseBody(req, createRoomRequest);
    return { status: 201, body: await roomJson(await control.createRoom(body)) };
  });

  router.add('GET', `${PREFIX}/:room`, async (req) => {
    auth(req);
    return { status: 200, body: await roomJson(await control.roomInfo(roomParam(req))) };
  });

  router.add('PATCH', `${PREFIX}/:room`, async (req) => {
    auth(req);
    const name = roomParam(req);
    const patch = await parseBody(req, roomSettingsPatch);
    return { status: 200, body: { settings: await control.updateSettings(API_ACTOR, name, patch) } };
  });

  // Ends the room's call for everyone and forgets its settings, hands and board; call history stays.
  router.add('DELETE', `${PREFIX}/:room`, async (req) => {
    auth(req);
    await control.deleteRoom(roomParam(req));
    return ok;
  });

  // Ends the current call for everyone (like a host's end-call); the room and its settings stay.
  router.add('POST', `${PREFIX}/:room/end`, async (req) => {
    auth(req);
    const name = roomParam(req);
    if (!(await rooms.endRoom(name, 'ended-by-api'))) throw new AppError('not_found', `room ${name} has no call in progress`);
    return ok;
  });

  router.add('POST', `${PREFIX}/:room/lock`, async (req) => {
    auth(req);
    return { status: 200, body: { settings: await control.setLocked(API_ACTOR, roomParam(req), true) } };
  });

  router.add('POST', `${PREFIX}/:room/unlock`, async (req) => {
    auth(req);
    return { status: 200, body: { settings: await control.setLocked(API_ACTOR, roomParam(req), false) } };
  });

  router.add('POST', `${PREFIX}/:room/mute-all`, async (req) => {
    auth(req);
    const body = await parseBody(req, trackRequest);
    return { status: 200, body: await control.muteAll(API_ACTOR, roomParam(req), body.track ?? 'audio') };
  });

  router.add('GET', `${PREFIX}/:room/participants`, async (req) => {
    auth(req);
    const name = roomParam(req);
    const { call_id, participants, history } = await rooms.roomParticipants(name);
    const now = new Date();
    return { status: 200, body: { room: name, call_id, participants, history: history.map((p) => participantJson(p, now)) } };
  });

  router.add('POST', `${PREFIX}/:room/join`, async (req) => {
    auth(req);
    if (!deps.issuer) throw new AppError('not_configured', 'no signing key: set JWT_PRIVATE_KEY_FILE to mint tokens here');
    const name = roomParam(req);
    const body = await parseBody(req, joinRequest);
    const ttl = body.ttl ?? deps.tokenTtl.defaultTtlSeconds;
    if (ttl > deps.tokenTtl.maxTtlSeconds)
      throw new AppError('invalid_payload', `ttl must be at most ${deps.tokenTtl.maxTtlSeconds} seconds`, 'ttl');
    const minted = await deps.issuer.mint({
      userId: body.user_id,
      ...(body.name !== undefined ? { name: body.name } : {}),
      room: name,
      role: body.role ?? 'speaker',
      ttlSeconds: ttl,
    });
    // Where the caller reached us (behind a proxy: its Host and X-Forwarded-Proto), else the listen address.
    const ws = wsBase(req.headers.host, deps.publicUrl());
    const secure = req.headers['x-forwarded-proto'] === 'https' || ws.protocol === 'https:';
    ws.protocol = secure ? 'wss:' : 'ws:';
    return { status: 201, body: { ...minted, room: name, ws_url: ws.toString() } };
  });

  router.add('DELETE', `${PREFIX}/:room/participants/:pid`, async (req) => {
    auth(req);
    await control.remove(roomParam(req), pathParam(req, 'pid'));
    return ok;
  });

  router.add('POST', `${PREFIX}/:room/participants/:pid/kick`, async (req) => {
    auth(req);
    const body = await parseBody(req, kickRequest);
    await control.kick(API_ACTOR, roomParam(req), pathParam(req, 'pid'), body.reason ?? 'removed by the service');
    return ok;
  });

  router.add('POST', `${PREFIX}/:room/participants/:pid/mute`, async (req) => {
    auth(req);
    const body = await parseBody(req, trackRequest);
    await control.muteParticipant(API_ACTOR, roomParam(req), pathParam(req, 'pid'), body.track ?? 'audio');
    return ok;
  });

  router.add('POST', `${PREFIX}/:room/participants/:pid/role`, async (req) => {
    auth(req);
    const body = await parseBody(req, roleRequest);
    await control.setRole(API_ACTOR, roomParam(req), pathParam(req, 'pid'), body.role);
    return ok;
  });

  router.add('GET', `${PREFIX}/:room/hands`, async (req) => {
    auth(req);
    return { status: 200, body: { hands: await control.listHands(roomParam(req)) } };
  });

  router.add('POST', `${PREFIX}/:room/hands`, async (req) => {
    auth(req);
    const body = await parseBody(req, userRequest);
    return { status: 201, body: await control.raiseHand(API_ACTOR, roomParam(req), body.user_id) };
  });

  router.add('POST', `${PREFIX}/:room/hands/acknowledge`, async (req) => {
    auth(req);
    const body = await parseBody(req, ackRequest);
    return { status: 200, body: await control.acknowledgeHand(API_ACTOR, roomParam(req), body.user_id, body.promote ?? false) };
  });

  router.add('DELETE', `${PREFIX}/:room/hands/:user_id`, async (req) => {
    auth(req);
    await control.lowerHand(API_ACTOR, roomParam(req), pathParam(req, 'user_id'));
    return ok;
  });

  router.add('GET', `${PREFIX}/:room/lobby`, async (req) => {
    auth(req);
    return { status: 200, body: { waiting: control.lobbyList(roomParam(req)) } };
  });

  router.add('POST', `${PREFIX}/:room/lobby/:user_id/admit`, async (req) => {
    auth(req);
    await control.admit(API_ACTOR, roomParam(req), pathParam(req, 'user_id'));
    return ok;
  });

  router.add('POST', `${PREFIX}/:room/lobby/:user_id/deny`, async (req) => {
    auth(req);
    const body = await parseBody(req, denyRequest);
    await control.deny(API_ACTOR, roomParam(req), pathParam(req, 'user_id'), body.reason);
    return ok;
  });

  router.add('POST', `${PREFIX}/:room/data`, async (req) => {
    auth(req);
    const body = await parseBody(req, dataRequest);
    await control.sendData(API_ACTOR, roomParam(req), body.topic, body.data, body.to);
    return ok;
  });

  router.add('DELETE', `${PREFIX}/:room/whiteboard`, async (req) => {
    auth(req);
    await control.clearWhiteboard(API_ACTOR, roomParam(req));
    return ok;
  });
}

/**
 * The origin the caller reached (its Host header) for a join's ws_url; a
 * Host that is not a valid authority (`[`, `x:99999`...) falls back to the
 * node's own URL instead of failing the request.
 */
function wsBase(host: string | undefined, publicUrl: string): URL {
  if (typeof host === 'string' && /^[A-Za-z0-9.\-:[\]]{1,255}$/.test(host)) {
    try {
      const url = new URL('/ws', `http://${host}`);
      if (url.host !== '') return url;
    } catch {
      // not an authority: the node's own URL below
    }
  }
  return new URL('/ws', publicUrl);
}
