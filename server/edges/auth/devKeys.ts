// With no key configured, the server makes an RS256 key pair in DATA_DIR once
// and reuses it, so `npm start` works with zero configuration.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface DevKeyFiles {
  privateKeyFile: string;
  publicKeyFile: string;
  generated: boolean;
}

function writeAtomically(file: string, content: string, mode: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode });
  renameSync(tmp, file);
}

export function ensureDevKeys(dataDir: string): DevKeyFiles {
  const dir = path.join(dataDir, 'keys');
  const privateKeyFile = path.join(dir, 'jwt-private.pem');
  const publicKeyFile = path.join(dir, 'jwt-public.pem');
  if (existsSync(privateKeyFile) && existsSync(publicKeyFile)) {
    return { privateKeyFile, publicKeyFile, generated: false };
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  writeAtomically(privateKeyFile, privateKey, 0o600);
  writeAtomically(publicKeyFile, publicKey, 0o644);
  return { privateKeyFile, publicKeyFile, generated: true };
}

export interface ApiCredentials {
  apiKey: string;
  apiSecret: string;
  file: string;
  generated: boolean;
}

/** Dev REST credentials when API_KEY/API_SECRET are not set; kept in DATA_DIR (mode 600), never logged. */
export function ensureDevApiCredentials(dataDir: string): ApiCredentials {
  const file = path.join(dataDir, 'keys', 'api-credentials.json');
  if (existsSync(file)) {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { api_key: string; api_secret: string };
    return { apiKey: saved.api_key, apiSecret: saved.api_secret, file, generated: false };
  }
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const apiKey = `API${randomBytes(6).toString('hex')}`;
  const apiSecret = randomBytes(24).toString('base64url');
  writeAtomically(file, JSON.stringify({ api_key: apiKey, api_secret: apiSecret }, null, 2) + '\n', 0o600);
  return { apiKey, apiSecret, file, generated: true };
}
