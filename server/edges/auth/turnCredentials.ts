// STUN/TURN servers for clients, with short-lived TURN credentials by the
// TURN REST API scheme (draft-uberti-behave-turn-rest-00) that coturn checks
// with `use-auth-secret` + `static-auth-secret`: the username is
// `<expiry unix seconds>:<user_id>`, the password base64(HMAC-SHA1(secret,
// username)). coturn recomputes the HMAC and refuses an expired username, so
// nothing is stored and no call to the TURN server is needed. Used by the
// WebSocket edge (the `auth` ack) and the REST edge (GET /api/v1/ice-servers).

import { createHmac } from 'node:crypto';
import type { TurnConfig } from '../../kernel/config.js';
import type { Logger } from '../../kernel/logger.js';
import type { IceServer } from '../../../signaling/protocol/protocol.js';

export interface TurnCredential {
  username: string;
  credential: string;
}

/** The TURN REST API credential of `userId` valid until `expiresAt` (unix seconds). */
export function mintTurnCredential(secret: string, userId: string, expiresAt: number): TurnCredential {
  const username = `${Math.floor(expiresAt)}:${userId}`;
  return { username, credential: createHmac('sha1', secret).update(username).digest('base64') };
}

export interface IceServersGrant {
  ice_servers: IceServer[];
  /** Seconds the TURN credential in it stays valid (TURN_TTL_SECONDS). */
  ttl_seconds: number;
}

/** Builds each user's RTCIceServer list from ICE_SERVERS, TURN_SECRET and TURN_TTL_SECONDS. */
export class IceServers {
  private readonly stun: string[];
  private readonly turn: string[];

  constructor(
    private readonly config: TurnConfig,
    log?: Logger,
  ) {
    const isTurn = (u: string) => /^turns?:/i.test(u);
    this.stun = config.urls.filter((u) => !isTurn(u));
    const turn = config.urls.filter(isTurn);
    // A TURN server that needs credentials is useless without them: handing the URL out would only
    // make every client try it (and fail) during ICE gathering. So without TURN_SECRET it is left out.
    this.turn = config.secret ? turn : [];
    if (turn.length > 0 && !config.secret) {
      log?.warn({ turn_urls: turn }, 'ICE_SERVERS lists TURN servers but TURN_SECRET is not set: clients get only the STUN servers');
    }
  }

  /** True when at least one STUN or TURN server is handed out. */
  get configured(): boolean {
    return this.stun.length + this.turn.length > 0;
  }

  /** The servers for `userId`, with a TURN credential that expires TURN_TTL_SECONDS from `now` (ms). */
  forUser(userId: string, now = Date.now()): IceServersGrant {
    const servers: IceServer[] = [];
    if (this.stun.length > 0) servers.push({ urls: [...this.stun] });
    if (this.turn.length > 0 && this.config.secret) {
      const expiresAt = Math.floor(now / 1000) + this.config.ttlSeconds;
      servers.push({ urls: [...this.turn], ...mintTurnCredential(this.config.secret, userId, expiresAt) });
    }
    return { ice_servers: servers, ttl_seconds: this.config.ttlSeconds };
  }
}
