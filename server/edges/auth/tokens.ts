// Mints participant tokens (POST /auth/token and the `token` CLI).

import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { importPKCS8, SignJWT, type CryptoKey } from 'jose';
import type { Role } from '../../../signaling/protocol/protocol.js';

export interface TokenRequest {
  userId: string;
  name?: string;
  room?: string | null;
  /** Whom the token may ring (the `may_call` claim); absent: anyone. */
  mayCall?: string[];
  role: Role;
  ttlSeconds: number;
}

export interface MintedToken {
  token: string;
  expires_at: number;
}

export class TokenIssuer {
  private constructor(
    private readonly key: CryptoKey,
    private readonly audience: string,
    private readonly issuer: string | null,
  ) {}

  static async fromPrivateKeyFile(file: string, opts: { audience: string; issuer: string | null }): Promise<TokenIssuer> {
    const pem = await readFile(file, 'utf8');
    return new TokenIssuer(await importPKCS8(pem, 'RS256'), opts.audience, opts.issuer);
  }

  async mint(req: TokenRequest): Promise<MintedToken> {
    const now = Math.floor(Date.now() / 1000);
    const claims: Record<string, unknown> = { role: req.role };
    if (req.name !== undefined) claims['name'] = req.name;
    if (req.room) claims['room'] = req.room;
    if (req.mayCall) claims['may_call'] = req.mayCall;
    let jwt = new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
      .setSubject(req.userId)
      .setAudience(this.audience)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + req.ttlSeconds)
      .setJti(randomUUID());
    if (this.issuer) jwt = jwt.setIssuer(this.issuer);
    return { token: await jwt.sign(this.key), expires_at: now + req.ttlSeconds };
  }
}
