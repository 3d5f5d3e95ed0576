// Development tokens: POST /dev/token mints a room token for whoever asks, so
// the demo app (and a person trying the server) gets in by typing a name.
// POST is only registered when the server runs on its generated development
// keys or with DEV_TOKENS=1; otherwise it does not exist (404 not_found).
// GET answers on every server whether POST is there ({ enabled }), so a page
// can ask without an error in the browser's console.
// Not API-key protected (that is the point); the router's per-address write
// limit applies to it as to every REST write.

import { randomBytes } from 'node:crypto';
import { ROLES, ROOM_NAME } from '../../../signaling/protocol/protocol.js';
import { object, oneOf, string } from '../../../signaling/protocol/schema.js';
import { AppError } from '../../kernel/errors.js';
import type { TokenIssuer } from '../auth/tokens.js';
import { parseBody } from './requestParams.js';
import type { Router } from './router.js';

export const DEV_TOKEN_PATH = '/dev/token';

const devTokenRequest = object({
  name: string({ min: 1, max: 64, pattern: /\S/, hint: 'must not be blank' }),
  room: ROOM_NAME,
  role: oneOf(ROLES),
});

/** A user id from a display name: its letters and digits, then a short random suffix (two "Ann"s differ). */
export function devUserId(name: string): string {
  const slug = name
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 32)
    .replace(/-+$/, '');
  return `${slug || 'guest'}-${randomBytes(3).toString('hex')}`;
}

export function createDevTokenApi(router: Router, deps: { enabled: boolean; issuer: TokenIssuer | null; ttlSeconds: number }): void {
  router.add('GET', DEV_TOKEN_PATH, async () => ({ status: 200, body: { enabled: deps.enabled } }));
  if (!deps.enabled) {
    // As if the route did not exist (not 405 for a path that has a GET).
    router.add('POST', DEV_TOKEN_PATH, async () => {
      throw new AppError('not_found', `no route POST ${DEV_TOKEN_PATH}`);
    });
    return;
  }
  router.add('POST', DEV_TOKEN_PATH, async (req) => {
    if (!deps.issuer) throw new AppError('not_configured', 'no signing key: set JWT_PRIVATE_KEY_FILE to mint development tokens');
    const body = await parseBody(req, devTokenRequest);
    const name = body.name.trim();
    const minted = await deps.issuer.mint({ userId: devUserId(name), name, room: body.room, role: body.role, ttlSeconds: deps.ttlSeconds });
    return { status: 201, body: { token: minted.token } };
  });
}
