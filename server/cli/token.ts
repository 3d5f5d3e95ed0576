// `npm run token -- --room r1 --user alice [--name Alice] [--role host] [--ttl 3600]`
// Mints a participant token with the configured (or development) private key.

import { parseArgs } from 'node:util';
import { ROLES, type Role } from '../../signaling/protocol/protocol.js';
import { loadConfig } from '../kernel/config.js';
import { ensureDevKeys } from '../edges/auth/devKeys.js';
import { TokenIssuer } from '../edges/auth/tokens.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      user: { type: 'string' },
      name: { type: 'string' },
      room: { type: 'string' },
      role: { type: 'string', default: 'speaker' },
      ttl: { type: 'string' },
    },
  });
  if (!values.user) throw new Error('--user is required (the token subject)');
  if (!(ROLES as readonly string[]).includes(values.role)) throw new Error(`--role must be one of ${ROLES.join(', ')}`);
  const config = loadConfig();
  const keyFile =
    config.jwt.privateKeyFile ?? (config.jwt.publicKeyFile || config.jwt.jwksUrl ? null : ensureDevKeys(config.dataDir).privateKeyFile);
  if (!keyFile) throw new Error('JWT_PUBLIC_KEY_FILE/JWT_JWKS_URL is set: also set JWT_PRIVATE_KEY_FILE to mint tokens');
  const issuer = await TokenIssuer.fromPrivateKeyFile(keyFile, { audience: config.jwt.audience, issuer: config.jwt.issuer });
  const minted = await issuer.mint({
    userId: values.user,
    ...(values.name ? { name: values.name } : {}),
    room: values.room ?? null,
    role: values.role as Role,
    ttlSeconds: values.ttl ? Number(values.ttl) : config.jwt.defaultTtlSeconds,
  });
  process.stdout.write(`${minted.token}\n`);
}

main().catch((err) => {
  process.stderr.write(`token: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
