// Carried fix for mediasoup 3.27.1's Node library (see README.md, "Known
// mediasoup bug: half-built request on a throwing serializer"): ortc.js refuses
// an encoding whose maxBitrate is not a non-negative integer with a TypeError,
// before the request serializer calls BigInt() on it half-way through building
// the worker request.
//
// Idempotent. Never writes into the installed file: node_modules may be a
// hard-linked copy shared with other checkouts, so the patched text goes to a
// new file that is renamed over the old name (the other links keep the
// original). Another mediasoup version, or text that no longer matches, is
// left alone with a note: the server's own validation and worker health check
// do not depend on this patch.
//
// Usage: node scripts/mediasoup/patch-lib.mjs [node_modules dir]

import { chmodSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const VERSION = '3.27.1';
const MARKER = 'switchboard patch: integer maxBitrate';
const ANCHOR = `    // scalabilityMode is optional.
    if (encoding.scalabilityMode &&
        typeof encoding.scalabilityMode !== 'string') {
        throw new TypeError('invalid encoding.scalabilityMode');
    }
}`;
const CHECK = `    // maxBitrate is optional. (${MARKER}) It is serialized with BigInt()
    // inside a half-built request, where a throw would leave the channel's
    // shared builder nested and every later request of the worker failing.
    if (encoding.maxBitrate !== undefined &&
        (typeof encoding.maxBitrate !== 'number' ||
            !Number.isSafeInteger(encoding.maxBitrate) ||
            encoding.maxBitrate < 0)) {
        throw new TypeError('invalid encoding.maxBitrate');
    }
`;

const log = (msg) => process.stderr.write(`[mediasoup-patch] ${msg}\n`);
const modules = path.resolve(process.argv[2] ?? 'node_modules');
const pkg = JSON.parse(readFileSync(path.join(modules, 'mediasoup/package.json'), 'utf8'));
const file = path.join(modules, 'mediasoup/node/lib/ortc.js');

if (pkg.version !== VERSION) {
  log(`mediasoup ${pkg.version}, patch written for ${VERSION}: not applied`);
} else {
  const text = readFileSync(file, 'utf8');
  if (text.includes(MARKER)) {
    log('ortc.js already patched');
  } else if (text.split(ANCHOR).length !== 2) {
    log('ortc.js does not have the expected text: not applied');
  } else {
    const tmp = `${file}.switchboard-${process.pid}`;
    writeFileSync(tmp, text.replace(ANCHOR, CHECK + ANCHOR));
    chmodSync(tmp, statSync(file).mode & 0o7777);
    renameSync(tmp, file);
    log('ortc.js patched: fractional maxBitrate refused before serialization');
  }
}
