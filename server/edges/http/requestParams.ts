// What REST handlers read from a request: a JSON body checked against a
// catalog schema, path parameters and query parameters. All of it is client
// text, so all of it follows the catalog's text rule (no NUL, no lone
// surrogates) before a handler or the database sees it.

import { ROOM_NAME } from '../../../signaling/protocol/protocol.js';
import { textProblem, ValidationError, type Schema } from '../../../signaling/protocol/schema.js';
import { AppError } from '../../kernel/errors.js';
import type { Request } from './router.js';

/** The body parsed by `schema`; a bad one is `invalid_payload` naming the field. */
export async function parseBody<T>(req: Request, schema: Schema<T>): Promise<T> {
  const body = await req.body();
  try {
    return schema.parse(body, '');
  } catch (err) {
    if (err instanceof ValidationError) throw new AppError('invalid_payload', err.message || 'invalid body', err.field);
    throw err;
  }
}

function checked(value: string, field: string): string {
  const problem = textProblem(value);
  if (problem) throw new AppError('invalid_payload', `${field} ${problem}`, field);
  return value;
}

/** A path parameter (`:pid`, `:user_id`, ...), held to the text rule. */
export function pathParam(req: Request, key: string): string {
  return checked(req.params[key], key);
}

/** A query parameter, or null when absent; held to the text rule. */
export function queryParam(req: Request, key: string): string | null {
  const value = req.query.get(key);
  return value === null ? null : checked(value, key);
}

/** `?limit=`, clamped to 1..max (a missing or unreadable one is the default). */
export function limitParam(req: Request, defaultLimit: number, max = 1000): number {
  return Math.min(max, Math.max(1, Number(queryParam(req, 'limit') ?? defaultLimit) || defaultLimit));
}

/** The `:room` parameter; a name no room can have is `not_found` (the route exists, the room does not). */
export function roomParam(req: Request): string {
  const name = pathParam(req, 'room');
  try {
    return ROOM_NAME.parse(name, 'room');
  } catch {
    throw new AppError('not_found', `no room ${name.slice(0, 128)}`);
  }
}
