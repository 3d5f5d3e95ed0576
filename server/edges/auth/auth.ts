// Verifies participant tokens: RS256 only (no `none`, no HS256 with the
// public key as secret), exp required, nbf honoured, iss/aud checked.

import { createRemoteJWKSet, errors, importSPKI, jwtVerify, type CryptoKey, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { readFile } from 'node:fs/promises';
import { AppError } from '../../kernel/errors.js';
import { MAY_CALL_MAX, ROLES, ROOM_NAME, USER_ID, type Identity, type Role } from '../../../signaling/protocol/protocol.js';
import { textProblem } from '../../../signaling/protocol/schema.js';

const ALGORITHMS = ['RS256'];
const CLOCK_TOLERANCE_S = 5;

export interface VerifierOptions {
  audience: string;
  issuer: string | null;
}

type KeySource = CryptoKey | JWTVerifyGetKey;

export class TokenVerifier {
  private constructor(
    private readonly key: KeySource,
    private readonly opts: VerifierOptions,
  ) {}

  /** Imports the PEM public key once: re-importing per token costs ~5x the verification. */
  static async fromPublicKeyFile(file: string, opts: VerifierOptions): Promise<TokenVerifier> {
    const pem = await readFile(file, 'utf8');
    return TokenVerifier.fromPublicKeyPem(pem, opts);
  }

  static async fromPublicKeyPem(pem: string, opts: VerifierOptions): Promise<TokenVerifier> {
    return new TokenVerifier(await importSPKI(pem, 'RS256'), opts);
  }

  static fromJwksUrl(url: string, opts: VerifierOptions): TokenVerifier {
    return new TokenVerifier(createRemoteJWKSet(new URL(url)), opts);
  }

  async verify(token: string): Promise<Identity> {
    let payload: JWTPayload;
    try {
      const options = {
        algorithms: ALGORITHMS,
        audience: this.opts.audience,
        clockTolerance: CLOCK_TOLERANCE_S,
        requiredClaims: ['exp', 'sub'],
        ...(this.opts.issuer ? { issuer: this.opts.issuer } : {}),
      };
      // jwtVerify has one overload per key kind; both are the same call.
      payload =
        typeof this.key === 'function'
          ? (await jwtVerify(token, this.key, options)).payload
          : (await jwtVerify(token, this.key, options)).payload;
    } catch (err) {
      throw new AppError('unauthorized', describeJoseError(err));
    }
    return identityFrom(payload);
  }
}

function describeJoseError(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'token expired';
  if (err instanceof errors.JWTClaimValidationFailed) return `token claim "${err.claim}" is invalid (${err.reason})`;
  if (err instanceof errors.JOSEAlgNotAllowed) return 'token algorithm not allowed (RS256 only)';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'token signature is invalid';
  if (err instanceof errors.JWKSNoMatchingKey) return 'no key matches the token';
  if (err instanceof errors.JWTInvalid || err instanceof errors.JWSInvalid) return 'token is malformed';
  return 'token is invalid';
}

function identityFrom(payload: JWTPayload): Identity {
  const sub = payload.sub;
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > 128) {
    throw new AppError('unauthorized', 'token "sub" must be a non-empty user id of at most 128 characters');
  }
  // The catalog's text rule: a signed token is still client text, and an id the database cannot store can never join.
  if (textProblem(sub)) throw new AppError('unauthorized', `token "sub" ${textProblem(sub)}`);
  const name = payload['name'];
  if (name !== undefined && (typeof name !== 'string' || name.length > 128)) {
    throw new AppError('unauthorized', 'token "name" must be a string of at most 128 characters');
  }
  if (typeof name === 'string' && textProblem(name)) throw new AppError('unauthorized', `token "name" ${textProblem(name)}`);
  const role = payload['role'] ?? 'speaker';
  if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) {
    throw new AppError('unauthorized', `token "role" must be one of ${ROLES.join(', ')}`);
  }
  const room = payload['room'];
  if (room !== undefined) {
    try {
      ROOM_NAME.parse(room, 'room');
    } catch {
      throw new AppError('unauthorized', 'token "room" is not a valid room name');
    }
  }
  const mayCall = payload['may_call'];
  if (mayCall !== undefined && !validMayCall(mayCall)) {
    throw new AppError('unauthorized', `token "may_call" must be a list of at most ${MAY_CALL_MAX} user ids`);
  }
  // jwtVerify requires "exp" (requiredClaims) and checks that it is a number.
  const exp = payload.exp;
  if (exp === undefined) throw new AppError('unauthorized', 'token has no "exp"');
  return {
    user_id: sub,
    name: name ?? sub,
    role: role as Role,
    room: (room as string | undefined) ?? null,
    expires_at: exp,
    ...(mayCall !== undefined ? { may_call: mayCall } : {}),
  };
}

function validMayCall(v: unknown): v is string[] {
  if (!Array.isArray(v) || v.length > MAY_CALL_MAX) return false;
  return v.every((u) => {
    try {
      USER_ID.parse(u, 'may_call');
      return true;
    } catch {
      return false;
    }
  });
}
