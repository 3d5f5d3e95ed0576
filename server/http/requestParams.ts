// The two things every REST handler reads from a request: a JSON body checked
// against a catalog schema, and the `:room` path parameter.

import { ROOM_NAME } from '../../signaling/protocol.js';
import { ValidationError, type Schema } from '../../signaling/schema.js';
import { AppError } from '../errors.js';
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

/** The `:room` parameter; a name no room can have is `not_found` (the route exists, the room does not). */
export function roomParam(req: Request): string {
  const name = req.params['room']!;
  try {
    return ROOM_NAME.parse(name, 'room');
  } catch {
    throw new AppError('not_found', `no room ${name.slice(0, 128)}`);
  }
}
