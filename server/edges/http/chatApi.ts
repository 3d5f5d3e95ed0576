// The in-call chat for the app's backend (API key): read a call's messages
// page by page (GET /api/v1/rooms/:room/chat) and delete any message
// (DELETE /api/v1/rooms/:room/chat/:message_id), which everyone in the call
// sees at once. In a cluster the room's node answers (clusterForward.ts).

import { AppError } from '../../kernel/errors.js';
import type { RoomChat } from '../../domain/rooms/roomChat.js';
import { requireApiKey, type ApiCredentials } from './apiAuth.js';
import type { Request, Router } from './router.js';
import { limitParam, pathParam, queryParam, roomParam } from './requestParams.js';

const PREFIX = '/api/v1/rooms/:room/chat';
const MESSAGE_ID = /^[0-9]{1,18}$/;
const CALL_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function optionalParam(req: Request, key: string, pattern: RegExp, hint: string): string | undefined {
  const value = queryParam(req, key);
  if (value === null) return undefined;
  if (!pattern.test(value)) throw new AppError('invalid_payload', `${key} ${hint}`, key);
  return value;
}

export function createChatApi(router: Router, deps: { chat: RoomChat; credentials: ApiCredentials }): void {
  const { chat } = deps;
  const auth = (req: Request) => requireApiKey(req, deps.credentials);

  router.add('GET', PREFIX, async (req) => {
    auth(req);
    const callId = optionalParam(req, 'call_id', CALL_ID, 'is a call id (a UUID)');
    const before = optionalParam(req, 'before', MESSAGE_ID, 'is a message id (digits)');
    const page = await chat.history(roomParam(req), {
      limit: limitParam(req, 50, 200),
      ...(callId !== undefined ? { callId } : {}),
      ...(before !== undefined ? { before } : {}),
    });
    return { status: 200, body: page };
  });

  router.add('DELETE', `${PREFIX}/:message_id`, async (req) => {
    auth(req);
    const id = pathParam(req, 'message_id');
    if (!MESSAGE_ID.test(id)) throw new AppError('not_found', `no message ${id.slice(0, 32)}`);
    await chat.delete({ api: true }, roomParam(req), id);
    return { status: 200, body: { ok: true } };
  });
}
