// The carried mediasoup fix (scripts/mediasoup/patch-lib.mjs), on a copy of
// mediasoup's library: it refuses a fractional maxBitrate before
// serialization, applies once, and replaces the file by rename so another
// hard link to the original keeps the original text.

import { execFileSync } from 'node:child_process';
import { cpSync, linkSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const script = path.join(root, 'scripts/mediasoup/patch-lib.mjs');
// Inside the checkout, so the copy's own requires (flatbuffers, ...) resolve from its node_modules.
const work = path.join(root, 'dist', `mediasoup-patch-test-${process.pid}`);
const modules = path.join(work, 'node_modules');

test('patch-lib refuses a fractional maxBitrate, is idempotent and leaves other hard links alone', () => {
  rmSync(work, { recursive: true, force: true });
  try {
    const src = path.join(root, 'node_modules/mediasoup');
    const dst = path.join(modules, 'mediasoup');
    mkdirSync(path.join(dst, 'node'), { recursive: true });
    cpSync(path.join(src, 'package.json'), path.join(dst, 'package.json'));
    cpSync(path.join(src, 'node/lib'), path.join(dst, 'node/lib'), { recursive: true });
    const ortc = path.join(dst, 'node/lib/ortc.js');
    // Start from mediasoup's own text whether or not this checkout is patched.
    const original = readFileSync(ortc, 'utf8').replace(
      / {4}\/\/ maxBitrate is optional\. \(switchboard patch[\s\S]*?invalid encoding\.maxBitrate'\);\n {4}\}\n/,
      '',
    );
    writeFileSync(ortc, original); // a fresh copy, linked to nothing else yet
    const other = path.join(work, 'other-link.js');
    linkSync(ortc, other);

    const run = () => execFileSync(process.execPath, [script, modules], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    run();
    run();
    const patched = readFileSync(ortc, 'utf8');
    assert.is(patched.split('switchboard patch: integer maxBitrate').length, 2, 'applied exactly once');
    assert.is(readFileSync(other, 'utf8'), original, 'the other hard link still holds the original');
    assert.is.not(statSync(ortc).ino, statSync(other).ino);

    const require = createRequire(ortc);
    const { validateAndNormalizeRtpParameters } = require(ortc) as { validateAndNormalizeRtpParameters(p: unknown): void };
    const params = (maxBitrate: unknown) => ({
      codecs: [{ mimeType: 'video/VP8', payloadType: 101, clockRate: 90000 }],
      encodings: [{ ssrc: 1, maxBitrate }],
    });
    assert.throws(() => validateAndNormalizeRtpParameters(params(1.5)), /invalid encoding\.maxBitrate/);
    assert.throws(() => validateAndNormalizeRtpParameters(params(-1)), /invalid encoding\.maxBitrate/);
    validateAndNormalizeRtpParameters(params(1_500_000));
    validateAndNormalizeRtpParameters(params(undefined));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test.run();
