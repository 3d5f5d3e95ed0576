// Webhook signatures: HMAC-SHA256 over `timestamp.body` with WEBHOOK_SECRET,
// sent as `v1=<hex>`. Receivers recompute it and reject old timestamps
// (replays); docs/webhooks.md has the receiver's side.

import { createHmac, timingSafeEqual } from 'node:crypto';

export const HEADER_ID = 'switchboard-webhook-id';
export const HEADER_TIMESTAMP = 'switchboard-webhook-timestamp';
export const HEADER_SIGNATURE = 'switchboard-webhook-signature';
export const HEADER_EVENT = 'switchboard-webhook-event';

export function sign(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** True when the signature matches and the timestamp is within `toleranceSeconds` of now. */
export function verify(
  secret: string,
  timestamp: string,
  body: string,
  signature: string,
  toleranceSeconds = 300,
  now = Date.now(),
): boolean {
  const ts = Number(timestamp);
  if (!Number.isInteger(ts) || Math.abs(now / 1000 - ts) > toleranceSeconds) return false;
  const expected = Buffer.from(sign(secret, ts, body));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
