import { timingSafeEqual } from 'node:crypto';
import { AppError } from '../../kernel/errors.js';
import type { Request } from './router.js';

export interface ApiCredentials {
  apiKey: string;
  apiSecret: string;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Server-to-server REST auth: HTTP Basic with API_KEY:API_SECRET. */
export function requireApiKey(req: Request, creds: ApiCredentials): void {
  const header = req.headers.authorization;
  if (!header?.startsWith('Basic ')) throw new AppError('unauthenticated', 'send Authorization: Basic base64(API_KEY:API_SECRET)');
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const key = colon < 0 ? decoded : decoded.slice(0, colon);
  const secret = colon < 0 ? '' : decoded.slice(colon + 1);
  if (!sameSecret(key, creds.apiKey) || !sameSecret(secret, creds.apiSecret)) {
    throw new AppError('unauthorized', 'invalid API key or secret');
  }
}
