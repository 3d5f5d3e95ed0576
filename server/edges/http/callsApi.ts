// REST /api/v1/calls for the app's backend (API key): ring users on someone's
// behalf (click-to-call), a user's call history, and ending a call. The calls
// are the same as those of call-invite (CallService), so devices ring, answer
// and hear the end over their WebSockets as usual. docs/rest.md, docs/calls.md.

import { CALL_MAX_INVITEES, CALL_MEDIA } from '../../../signaling/protocol/protocol.js';
import { array, jsonObject, object, oneOf, optional, string } from '../../../signaling/protocol/schema.js';
import { AppError } from '../../kernel/errors.js';
import { HISTORY_MAX_LIMIT } from '../../domain/calls/callHistory.js';
import type { CallService } from '../../domain/calls/callService.js';
import { requireApiKey, type ApiCredentials } from './apiAuth.js';
import type { Request, Router } from './router.js';
import { parseBody, pathParam, queryParam } from './requestParams.js';

export interface CallsApiDeps {
  calls: CallService;
  credentials: ApiCredentials;
}

const PREFIX = '/api/v1/calls';
const USER_ID = string({ min: 1, max: 128 });
const DEFAULT_LIMIT = 20;

const openRequest = object({
  from: object({ user_id: USER_ID, display_name: optional(string({ max: 128 })) }),
  to: array(USER_ID, { min: 1, max: CALL_MAX_INVITEES }),
  media: oneOf(CALL_MEDIA),
  metadata: optional(jsonObject({ maxBytes: 16 * 1024 })),
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2}))?$/;

/** `?limit=`: an integer from 1 to 100, 20 when absent; anything else is `invalid_payload`. */
function limitOf(req: Request): number {
  const text = queryParam(req, 'limit');
  if (text === null) return DEFAULT_LIMIT;
  const limit = /^\d{1,3}$/.test(text) ? Number(text) : NaN;
  if (!(limit >= 1 && limit <= HISTORY_MAX_LIMIT)) {
    throw new AppError('invalid_payload', `limit must be an integer from 1 to ${HISTORY_MAX_LIMIT}`, 'limit');
  }
  return limit;
}

/** `?before=`: an ISO 8601 time (a real calendar date), passed on as given (microseconds kept). */
function beforeOf(req: Request): string | null {
  const text = queryParam(req, 'before');
  if (text === null) return null;
  const m = ISO_TIME.exec(text);
  const [y, mo, d, h, mi, s] = (m?.slice(1) ?? []).map((v) => Number(v ?? 0));
  const day = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  if (!m || day.getUTCFullYear() !== y || day.getUTCMonth() !== mo - 1 || day.getUTCDate() !== d || day.getUTCHours() !== h) {
    throw new AppError('invalid_payload', 'before must be an ISO 8601 time (2025-01-31T12:00:00Z)', 'before');
  }
  return text;
}

export function createCallsApi(router: Router, deps: CallsApiDeps): void {
  const { calls } = deps;
  const auth = (req: Request) => requireApiKey(req, deps.credentials);

  // Click-to-call: rings `to` on behalf of `from`; the caller's app joins the call's room itself.
  router.add('POST', PREFIX, async (req) => {
    auth(req);
    const body = await parseBody(req, openRequest);
    const opened = await calls.openForApi({
      from: { user_id: body.from.user_id, display_name: body.from.display_name ?? body.from.user_id },
      to: body.to,
      media: body.media,
      ...(body.metadata ? { metadata: body.metadata } : {}),
    });
    return {
      status: 201,
      body: { call_id: opened.callId, room: opened.room, invited: opened.invited, expires_at: new Date(opened.expiresAt).toISOString() },
    };
  });

  router.add('GET', PREFIX, async (req) => {
    auth(req);
    const user = queryParam(req, 'user');
    if (user === null || user.length === 0 || user.length > 128) {
      throw new AppError('invalid_payload', 'user must be a user id (1 to 128 characters)', 'user');
    }
    const limit = limitOf(req);
    const before = beforeOf(req);
    return { status: 200, body: await calls.records.history(user, limit, before) };
  });

  router.add('POST', `${PREFIX}/:call_id/end`, async (req) => {
    auth(req);
    const callId = pathParam(req, 'call_id');
    if (!UUID.test(callId)) throw new AppError('not_found', `no call ${callId.slice(0, 64)}`);
    return { status: 200, body: await calls.endByApi(callId) };
  });
}
