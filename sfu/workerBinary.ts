// Which mediasoup-worker binary to run: MEDIASOUP_WORKER_BIN, else the one
// scripts/setup.sh built offline (path recorded in node_modules), else the
// official prebuilt that `npm install mediasoup` puts in the package.

import { accessSync, constants, readFileSync } from 'node:fs';
import { workerBin as packagedWorkerBin } from 'mediasoup';

const RECORDED = new URL('../../node_modules/.switchboard-mediasoup-worker', import.meta.url);

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function resolveWorkerBin(configured: string | null): string {
  const candidates: string[] = [];
  if (configured) candidates.push(configured);
  try {
    candidates.push(readFileSync(RECORDED, 'utf8').trim());
  } catch {
    // setup has not recorded an offline build
  }
  candidates.push(packagedWorkerBin);
  for (const file of candidates) if (file && executable(file)) return file;
  throw new Error(
    `no mediasoup worker binary (looked at ${candidates.join(', ')}): run scripts/setup.sh, ` +
      'set MEDIASOUP_WORKER_BIN, or set RTC_WORKERS=0 to run without the SFU',
  );
}
