// Bundles the browser SDK and the demo app with esbuild into dist/browser/:
//   switchboard.js  the SDK as one ES module (for apps)
//   demo.js         the demo app (SDK included)
//   demo.css       the demo's styles (every stylesheet its modules import)
//   index.html
//   watch.js, watch.css, watch.html  the watch page of a live stream (/watch/<room>)
// The server serves that folder (server/edges/http/static.ts): / is index.html,
// /app/<file> the rest. Type checking is separate: tsc --noEmit -p clients/browser.
// Usage: node clients/browser/build.mjs [--minify] [--outdir DIR]

import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const args = process.argv.slice(2);
const outIndex = args.indexOf('--outdir');
const outdir = outIndex >= 0 ? path.resolve(args[outIndex + 1]) : path.join(root, 'dist/browser');
const minify = args.includes('--minify');
/** The SDK's SDK_VERSION (sdk/version.ts): the root package.json's version. */
const version = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version;

mkdirSync(outdir, { recursive: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: {
    switchboard: path.join(here, 'sdk/index.ts'),
    demo: path.join(here, 'demo/main.ts'),
    watch: path.join(here, 'demo/watch.ts'),
  },
  outdir,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'chrome111',
  sourcemap: true,
  minify,
  legalComments: 'linked',
  tsconfig: path.join(here, 'tsconfig.json'),
  // The `debug` logger that mediasoup-client uses reads process.env in some paths.
  define: {
    'process.env.NODE_ENV': '"production"',
    'process.env.DEBUG': 'undefined',
    __SWITCHBOARD_VERSION__: JSON.stringify(version),
  },
  logLevel: 'warning',
  metafile: true,
});
// CSS is bundled from each page's imports (demo.css beside demo.js, watch.css beside watch.js).
for (const file of ['demo/index.html', 'demo/watch.html']) copyFileSync(path.join(here, file), path.join(outdir, path.basename(file)));

const sizes = Object.entries(result.metafile.outputs)
  .filter(([file]) => file.endsWith('.js'))
  .map(([file, out]) => `${path.basename(file)} ${(out.bytes / 1024).toFixed(0)} KiB`);
console.log(`browser bundle -> ${path.relative(process.cwd(), outdir) || '.'}: ${sizes.join(', ')}`);
