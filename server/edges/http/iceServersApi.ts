// STUN/TURN servers for one user, for the app's backend (API key): the same
// list the `auth` ack carries, for clients that set up their peer connections
// before (or without) a signaling connection, or refresh an expiring credential.

import { USER_ID } from '../../../signaling/protocol/protocol.js';
import { AppError } from '../../kernel/errors.js';
import type { IceServers } from '../auth/turnCredentials.js';
import { requireApiKey, type ApiCredentials } from './apiAuth.js';
import { queryParam } from './requestParams.js';
import type { Router } from './router.js';

export function createIceServersApi(router: Router, deps: { ice: IceServers; credentials: ApiCredentials }): void {
  router.add('GET', '/api/v1/ice-servers', async (req) => {
    requireApiKey(req, deps.credentials);
    const user = queryParam(req, 'user');
    if (user === null) throw new AppError('invalid_payload', 'user is required (?user=<user id>)', 'user');
    try {
      USER_ID.parse(user, 'user');
    } catch {
      throw new AppError('invalid_payload', 'user must be a user id of 1-128 characters', 'user');
    }
    // A credential is a secret of its user: no shared cache may keep it.
    return { status: 200, body: deps.ice.forUser(user), headers: { 'cache-control': 'no-store' } };
  });
}
