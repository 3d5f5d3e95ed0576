// Page weight of the demo app: builds the pages minified into a temporary
// folder (clients/browser/build.mjs --minify) and prints what a browser
// downloads for each page, raw and gzip-compressed (level 9).
// Usage: node scripts/page-weight.mjs   (the numbers in README.md come from it)

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = mkdtempSync(path.join(tmpdir(), 'switchboard-weight-'));
try {
  execFileSync(process.execPath, [path.join(root, 'clients/browser/build.mjs'), '--minify', '--outdir', out], { stdio: 'pipe' });
  const size = (file) => {
    const bytes = readFileSync(path.join(out, file));
    return { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
  };
  const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
  const pages = {
    'the app (/, /r/<room>)': ['index.html', 'demo.js', 'demo.css'],
    'the watch page (/watch/<room>)': ['watch.html', 'watch.js', 'watch.css'],
    'the SDK alone (switchboard.js)': ['switchboard.js'],
  };
  for (const [page, files] of Object.entries(pages)) {
    let raw = 0;
    let gzip = 0;
    const parts = files.map((file) => {
      const s = size(file);
      raw += s.raw;
      gzip += s.gzip;
      return `${file} ${kib(s.gzip)}`;
    });
    console.log(`${page}: ${kib(gzip)} gzip (${kib(raw)} minified): ${parts.join(', ')}`);
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
