// REST endpoints for the app's backend (API key) and for operators (health, metrics).

import { MAY_CALL_MAX, ROLES, ROOM_NAME, USER_ID } from '../../../signaling/protocol/protocol.js';
import { array, integer, jsonObject, object, oneOf, optional, string } from '../../../signaling/protocol/schema.js';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { AppError } from '../../kernel/errors.js';
import type { Database } from '../../storage/database.js';
import type { Metrics } from '../../kernel/metrics.js';
import type { RoomService } from '../../domain/rooms/roomService.js';
import type { CallRecord, ParticipantRecord } from '../../storage/callStore.js';
import type { TokenIssuer } from '../auth/tokens.js';
import { requireApiKey, type ApiCredentials } from './apiAuth.js';
import { Router, type Request } from './router.js';
import { parseBody, pathParam } from './requestParams.js';
import { participantJson } from '../../domain/rooms/participantJson.js';
import type { Logger } from '../../kernel/logger.js';

export interface ApiDeps {
  db: Database;
  rooms: RoomService;
  metrics: Metrics;
  issuer: TokenIssuer | null;
  credentials: ApiCredentials;
  nodeId: string;
  tokenTtl: { defaultSeconds: number; maxSeconds: number };
  connections: () => number;
  log: Logger;
  /** Multiproc: this process is one of the node's NODE_PROCESSES (reported by /health). */
  process?: { node_id: string; index: number; processes: number } | null;
  /** TRUST_PROXY hops and the per-address limit on REST writes (absent: no limit). */
  edge?: {
    trustProxyHops: number;
    writeLimit: { ratePerSecond: number; burst: number } | null;
    unlimited?: (req: IncomingMessage) => boolean;
  };
}

const tokenRequest = object({
  user_id: string({ min: 1, max: 128 }),
  name: optional(string({ max: 128 })),
  room: optional(ROOM_NAME),
  role: optional(oneOf(ROLES)),
  ttl: optional(integer({ min: 60, max: 365 * 86400 })),
  may_call: optional(array(USER_ID, { min: 0, max: MAY_CALL_MAX })),
});

const createCallRequest = object({
  room: optional(ROOM_NAME),
  metadata: optional(jsonObject({ maxBytes: 16 * 1024 })),
});

function callJson(call: CallRecord, participants?: ParticipantRecord[], now = new Date()) {
  return {
    call_id: call.id,
    room: call.room,
    status: call.status,
    node_id: call.node_id,
    created_at: call.created_at,
    started_at: call.started_at,
    ended_at: call.ended_at,
    end_reason: call.end_reason,
    recording: call.recording,
    metadata: call.metadata,
    ...(participants ? { participants: participants.map((p) => participantJson(p, now)) } : {}),
  };
}

export function createApi(deps: ApiDeps): Router {
  const router = new Router(deps.log, {
    trustProxyHops: deps.edge?.trustProxyHops ?? 0,
    ...(deps.edge?.writeLimit ? { writeLimit: deps.edge.writeLimit } : {}),
    ...(deps.edge?.unlimited ? { unlimited: deps.edge.unlimited } : {}),
  });
  const auth = (req: Request) => requireApiKey(req, deps.credentials);

  router.add('GET', '/health', async () => {
    let db = 'ok';
    try {
      await deps.db.query('SELECT 1');
    } catch {
      db = 'unreachable';
    }
    return {
      status: db === 'ok' ? 200 : 503,
      body: {
        status: db === 'ok' ? 'ok' : 'degraded',
        node_id: deps.nodeId,
        database: { kind: deps.db.kind, status: db },
        uptime_seconds: Math.round(process.uptime()),
        connections: deps.connections(),
        rooms: deps.rooms.roomCount,
        participants: deps.rooms.participants,
        ...(deps.process ? { process: { ...deps.process, pid: process.pid } } : {}), // multiproc
      },
    };
  });

  router.add('GET', '/metrics', async () => ({
    status: 200,
    text: await deps.metrics.registry.metrics(),
    contentType: deps.metrics.registry.contentType,
  }));

  router.add('POST', '/auth/token', async (req) => {
    auth(req);
    if (!deps.issuer) throw new AppError('not_configured', 'no signing key: set JWT_PRIVATE_KEY_FILE to mint tokens here');
    const body = await parseBody(req, tokenRequest);
    const ttl = body.ttl ?? deps.tokenTtl.defaultSeconds;
    if (ttl > deps.tokenTtl.maxSeconds) {
      throw new AppError('invalid_payload', `ttl must be at most ${deps.tokenTtl.maxSeconds} seconds`, 'ttl');
    }
    const minted = await deps.issuer.mint({
      userId: body.user_id,
      ...(body.name !== undefined ? { name: body.name } : {}),
      room: body.room ?? null,
      ...(body.may_call !== undefined ? { mayCall: body.may_call } : {}),
      role: body.role ?? 'speaker',
      ttlSeconds: ttl,
    });
    return { status: 201, body: minted };
  });

  router.add('POST', '/calls', async (req) => {
    auth(req);
    const body = await parseBody(req, createCallRequest);
    const room = body.room ?? `room-${randomBytes(6).toString('hex')}`;
    const call = await deps.rooms.createCall(room, body.metadata ?? {});
    return { status: 201, body: callJson(call) };
  });

  router.add('GET', '/calls/:id', async (req) => {
    auth(req);
    const id = pathParam(req, 'id');
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) {
      throw new AppError('not_found', `no call ${id}`);
    }
    const { call, participants } = await deps.rooms.getCall(id);
    return { status: 200, body: callJson(call, participants) };
  });

  return router;
}
