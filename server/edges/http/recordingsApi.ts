// REST for recordings, for the app's backend (API key): start and
// stop a room's recording, list and fetch recordings with their files, set
// retention and access, get expiring download links, delete, run retention.
// A participant token (Authorization: Bearer) of a user the recording's
// access names may fetch it and its download links too.

import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { RECORDING_MODES } from '../../../signaling/protocol/protocol.js';
import {
  boolean,
  integer,
  jsonObject,
  nullable,
  object,
  oneOf,
  optional,
  ValidationError,
  type Schema,
} from '../../../signaling/protocol/schema.js';
import type { TokenVerifier } from '../auth/auth.js';
import { AppError, httpStatusOf, toAppError } from '../../kernel/errors.js';
import type { Logger } from '../../kernel/logger.js';
import type { RecordingLibrary } from '../../domain/recordings/recordingLibrary.js';
import { recordingJson } from '../../domain/recordings/recordingJson.js';
import type { RecordingService } from '../../domain/recordings/recordingService.js';
import type { RecordingRow, RecordingStatus } from '../../storage/recordingStore.js';
import type { DownloadSigner } from '../../domain/recordings/downloadTokens.js';
import { StorageError } from '../../storage/recordingFiles.js';
import { requireApiKey, type ApiCredentials } from './apiAuth.js';
import type { Request, Router } from './router.js';
import { limitParam, parseBody, pathParam, queryParam, roomParam } from './requestParams.js';
import { storageFailure } from '../../storage/queryError.js';
import { BAD_TARGET_BODY, decodePathPart, parseTarget, type RequestTarget } from './requestTarget.js';

export interface RecordingsApiDeps {
  recordings: RecordingService;
  library: RecordingLibrary;
  signer: DownloadSigner;
  verifier: TokenVerifier;
  credentials: ApiCredentials;
  /** Default lifetime of download links (RECORDING_DOWNLOAD_URL_TTL_SECONDS). */
  downloadTtlSeconds: number;
  publicUrl: () => string;
  log: Logger;
}

const USER_IDS = {
  parse(v: unknown, path: string) {
    if (!Array.isArray(v) || v.length > 1000 || !v.every((u) => typeof u === 'string' && u.length >= 1 && u.length <= 128)) {
      throw new ValidationError(path, `${path} must be a list of at most 1000 user ids`);
    }
    return v as string[];
  },
} as Schema<string[]>;
const access = object({ users: optional(USER_IDS), room_staff: optional(boolean()) });
const RETENTION = nullable(integer({ min: 1, max: 36_500 }));
const startRequest = object({
  mode: optional(oneOf(RECORDING_MODES)),
  retention_days: optional(RETENTION),
  access: optional(access),
  metadata: optional(jsonObject({ maxBytes: 16 * 1024 })),
});
const patchRequest = object({ retention_days: optional(RETENTION), access: optional(access) });
const STATUSES: readonly RecordingStatus[] = ['recording', 'processing', 'ready', 'failed'];

/** Where the caller reached us (Host, X-Forwarded-Proto), for links back to this server. */
function baseUrl(headers: IncomingMessage['headers'], fallback: string): string {
  const host = typeof headers.host === 'string' && /^[A-Za-z0-9.\-:[\]]+$/.test(headers.host) ? headers.host : null;
  if (!host) return fallback;
  return `${headers['x-forwarded-proto'] === 'https' ? 'https' : 'http'}://${host}`;
}

export function createRecordingsApi(router: Router, deps: RecordingsApiDeps): void {
  const { recordings, library } = deps;
  const storage = async <T>(work: Promise<T>): Promise<T> => {
    try {
      return await work;
    } catch (err) {
      if (err instanceof AppError) throw err;
      if (err instanceof StorageError) throw new AppError('unavailable', err.message);
      throw storageFailure(err, deps.log, 'recordings storage error');
    }
  };
  /** API key, or a participant token allowed by the recording's access. */
  const authorize = async (req: Request, recording: () => Promise<RecordingRow>): Promise<void> => {
    const header = req.headers.authorization;
    if (header?.startsWith('Bearer ')) {
      const identity = await deps.verifier.verify(header.slice(7)).catch(() => {
        throw new AppError('unauthorized', 'invalid or expired token');
      });
      if (!library.mayAccess(await recording(), identity)) throw new AppError('forbidden', 'this recording is not shared with you');
      return;
    }
    requireApiKey(req, deps.credentials);
  };
  const apiKey = (req: Request) => requireApiKey(req, deps.credentials);
  const id = (req: Request) => pathParam(req, 'id');

  router.add('POST', '/api/v1/rooms/:room/recordings', async (req) => {
    apiKey(req);
    const body = await parseBody(req, startRequest);
    const row = await recordings.start(roomParam(req), {
      startedBy: 'api',
      ...(body.mode ? { mode: body.mode } : {}),
      ...(body.retention_days !== undefined ? { retentionDays: body.retention_days } : {}),
      ...(body.access ? { access: body.access } : {}),
      ...(body.metadata ? { metadata: body.metadata } : {}),
    });
    return { status: 201, body: recordingJson(row) };
  });

  router.add('GET', '/api/v1/rooms/:room/recordings', async (req) => {
    apiKey(req);
    const rows = await storage(library.list({ room: roomParam(req), limit: limitOf(req) }));
    return { status: 200, body: { recordings: rows.map((r) => recordingJson(r)) } };
  });

  router.add('POST', '/api/v1/rooms/:room/recordings/stop', async (req) => {
    apiKey(req);
    const row = await recordings.stop(roomParam(req), 'stopped');
    const { files } = await storage(library.get(row.id));
    return { status: 200, body: recordingJson(row, files) };
  });

  router.add('GET', '/api/v1/recordings', async (req) => {
    apiKey(req);
    const status = queryParam(req, 'status');
    if (status && !STATUSES.includes(status as RecordingStatus))
      throw new AppError('invalid_payload', `status must be one of ${STATUSES.join(', ')}`, 'status');
    const room = queryParam(req, 'room');
    const before = queryParam(req, 'before');
    const beforeDate = before ? new Date(before) : undefined;
    if (beforeDate && Number.isNaN(beforeDate.getTime()))
      throw new AppError('invalid_payload', 'before must be an ISO 8601 time', 'before');
    const rows = await storage(
      library.list({
        limit: limitOf(req),
        ...(room ? { room } : {}),
        ...(status ? { status: status as RecordingStatus } : {}),
        ...(beforeDate ? { before: beforeDate } : {}),
      }),
    );
    return { status: 200, body: { recordings: rows.map((r) => recordingJson(r)) } };
  });

  router.add('POST', '/api/v1/recordings/cleanup', async (req) => {
    apiKey(req);
    return { status: 200, body: { deleted: await storage(library.cleanupExpired()) } };
  });

  router.add('GET', '/api/v1/recordings/:id', async (req) => {
    const found = storage(library.get(id(req)));
    found.catch(() => {}); // awaited below, or abandoned when auth fails first: never an unhandled rejection
    await authorize(req, async () => (await found).recording);
    const { recording, files } = await found;
    return { status: 200, body: recordingJson(recording, files) };
  });

  router.add('PATCH', '/api/v1/recordings/:id', async (req) => {
    apiKey(req);
    const body = await parseBody(req, patchRequest);
    const { recording } = await storage(library.get(id(req)));
    const row = await storage(
      library.update(recording.id, {
        ...(body.retention_days !== undefined ? { retention_days: body.retention_days } : {}),
        ...(body.access
          ? {
              access: {
                users: body.access.users ?? recording.access.users,
                room_staff: body.access.room_staff ?? recording.access.room_staff,
              },
            }
          : {}),
      }),
    );
    return { status: 200, body: recordingJson(row) };
  });

  router.add('POST', '/api/v1/recordings/:id/stop', async (req) => {
    apiKey(req);
    await storage(library.get(id(req))); // 404 for unknown ids
    const row = await recordings.stopById(id(req), 'stopped');
    const { files } = await storage(library.get(row.id));
    return { status: 200, body: recordingJson(row, files) };
  });

  router.add('DELETE', '/api/v1/recordings/:id', async (req) => {
    apiKey(req);
    await storage(library.delete(id(req)));
    return { status: 200, body: { ok: true } };
  });

  router.add('GET', '/api/v1/recordings/:id/files/:file_id/download-url', async (req) => {
    const found = storage(library.file(id(req), pathParam(req, 'file_id')));
    found.catch(() => {}); // as above
    await authorize(req, async () => (await found).recording);
    await found;
    const ttlRaw = queryParam(req, 'ttl');
    const ttl = ttlRaw === null ? deps.downloadTtlSeconds : Number(ttlRaw);
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 7 * 86400)
      throw new AppError('invalid_payload', 'ttl must be an integer between 1 and 604800 seconds', 'ttl');
    const link = await storage(library.downloadLink(id(req), pathParam(req, 'file_id'), ttl, baseUrl(req.headers, deps.publicUrl())));
    return { status: 200, body: link };
  });
}

function limitOf(req: Request): number {
  return limitParam(req, 100);
}

// ---- file content: streamed, outside the JSON router ----

const CONTENT_PATH = /^\/api\/v1\/recordings\/([^/]+)\/files\/([^/]+)\/content$/;

/**
 * GET /api/v1/recordings/:id/files/:file_id/content streams the file: with
 * a valid signature (a download link), the API key, or an allowed participant
 * token. Supports one byte range (players seek with it).
 */
export function withRecordingDownloads(fallback: RequestListener, deps: RecordingsApiDeps): RequestListener {
  return (req, res) => {
    const url = parseTarget(req.url);
    const match = url ? CONTENT_PATH.exec(url.pathname) : null;
    if (!url || !match || (req.method !== 'GET' && req.method !== 'HEAD')) return fallback(req, res);
    const recordingId = decodePathPart(match[1]);
    const fileId = decodePathPart(match[2]);
    if (recordingId === null || fileId === null) {
      res.writeHead(400, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
      return void res.end(BAD_TARGET_BODY);
    }
    void serveContent(req, res, url, recordingId, fileId, deps).catch((err) => {
      const error = toAppError(err instanceof StorageError ? new AppError('unavailable', err.message) : err);
      if (error.code === 'internal_error') deps.log.error({ err }, 'recording download failed');
      if (res.headersSent) return res.destroy();
      res.writeHead(httpStatusOf(error.code), { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
      res.end(JSON.stringify({ error: { code: error.code, message: error.message } }));
    });
  };
}

async function serveContent(
  req: IncomingMessage,
  res: ServerResponse,
  url: RequestTarget,
  recordingId: string,
  fileId: string,
  deps: RecordingsApiDeps,
): Promise<void> {
  const signature = url.searchParams.get('signature');
  let found: Awaited<ReturnType<RecordingLibrary['file']>> | null = null;
  if (signature !== null) {
    const verdict = deps.signer.verify(recordingId, fileId, url.searchParams.get('expires'), signature);
    if (verdict === 'expired') throw new AppError('forbidden', 'this download link has expired; ask for a new one');
    if (verdict === 'invalid') throw new AppError('forbidden', 'invalid download link signature');
  } else if (req.headers.authorization?.startsWith('Bearer ')) {
    const identity = await deps.verifier.verify(req.headers.authorization.slice(7)).catch(() => {
      throw new AppError('unauthorized', 'invalid or expired token');
    });
    found = await deps.library.file(recordingId, fileId);
    if (!deps.library.mayAccess(found.recording, identity)) throw new AppError('forbidden', 'this recording is not shared with you');
  } else {
    requireApiKey({ headers: req.headers } as Request, deps.credentials);
  }
  found ??= await deps.library.file(recordingId, fileId);
  const { recording, file } = found;
  if (file.status === 'recording' || file.status === 'processing') throw new AppError('conflict', 'this file is still being recorded');
  const size = await deps.library.size(recording, file);
  const range = parseRange(req.headers.range, size);
  const headers: Record<string, string | number> = {
    'content-type': file.content_type,
    'accept-ranges': 'bytes',
    'cache-control': 'private, no-store',
    'content-disposition': `attachment; filename="${`${recording.room}-${file.key}`.replace(/[^A-Za-z0-9_.-]/g, '_')}"`,
    'content-length': range ? range.end - range.start + 1 : size,
    ...(range ? { 'content-range': `bytes ${range.start}-${range.end}/${size}` } : {}),
  };
  if (req.method === 'HEAD') {
    res.writeHead(range ? 206 : 200, headers);
    res.end();
    return;
  }
  const stream = await deps.library.open(recording, file, range ?? undefined);
  res.writeHead(range ? 206 : 200, headers);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

function parseRange(header: string | undefined, size: number): { start: number; end: number } | null {
  const m = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!m || (m[1] === '' && m[2] === '') || size === 0) return null;
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(size - 1, Number(m[2]));
  }
  return start <= end && start < size ? { start, end } : null;
}
