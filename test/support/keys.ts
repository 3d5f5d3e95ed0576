// One RS256 key pair per test process, plus an unrelated one for forgeries.

import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface KeyPairFiles {
  privateKeyFile: string;
  publicKeyFile: string;
  privatePem: string;
  publicPem: string;
}

function makePair(name: string): KeyPairFiles {
  const dir = mkdtempSync(path.join(tmpdir(), `switchboard-keys-${name}-`));
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const privateKeyFile = path.join(dir, 'private.pem');
  const publicKeyFile = path.join(dir, 'public.pem');
  writeFileSync(privateKeyFile, privateKey, { mode: 0o600 });
  writeFileSync(publicKeyFile, publicKey);
  return { privateKeyFile, publicKeyFile, privatePem: privateKey, publicPem: publicKey };
}

let main: KeyPairFiles | null = null;
let other: KeyPairFiles | null = null;

export function testKeys(): KeyPairFiles {
  return (main ??= makePair('main'));
}

export function otherKeys(): KeyPairFiles {
  return (other ??= makePair('other'));
}
