// Typed errors: every failure a client can see carries an ErrorCode from the
// catalog below (the wire catalog re-exports it); the REST layer maps codes to HTTP statuses.

/** Every error code a client can receive, over the WebSocket or REST. */
export const ERROR_CODES = [
  'bad_json',
  'unknown_type',
  'invalid_payload',
  'unauthenticated',
  'unauthorized',
  'already_authenticated',
  'forbidden',
  'peer_not_found',
  'not_in_room',
  'already_in_room',
  'rate_limited',
  'not_found',
  'conflict',
  'not_configured',
  'unavailable',
  'internal_error',
  // Room control: bans, locked or full rooms, the lobby
  'banned',
  'room_locked',
  'room_full',
  'lobby_denied',
  // REST: a request body over the size limit
  'payload_too_large',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

const HTTP_STATUS: Record<ErrorCode, number> = {
  bad_json: 400,
  unknown_type: 400,
  invalid_payload: 400,
  unauthenticated: 401,
  unauthorized: 401,
  already_authenticated: 409,
  forbidden: 403,
  peer_not_found: 404,
  not_in_room: 409,
  already_in_room: 409,
  rate_limited: 429,
  not_found: 404,
  conflict: 409,
  not_configured: 501,
  unavailable: 503,
  internal_error: 500,
  // Room control
  banned: 403,
  room_locked: 423,
  room_full: 409,
  lobby_denied: 403,
  payload_too_large: 413,
};

/** rate_limited with the seconds after which a retry may succeed (REST sends it as Retry-After). */
export class RateLimitedError extends AppError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super('rate_limited', message);
  }
}

export function httpStatusOf(code: ErrorCode): number {
  return HTTP_STATUS[code];
}

/** Converts anything thrown into an AppError; unexpected errors become internal_error. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  return new AppError('internal_error', 'internal error');
}
