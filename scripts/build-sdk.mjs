// npm run build:sdk: the browser SDK as a package in dist/sdk/, ready for
// `npm publish dist/sdk` or `npm install ./dist/sdk`:
//   switchboard.js (+ .map)  one ES module, minified, mediasoup-client bundled in
//   index.d.ts, types/       the declarations (tsc, clients/browser/tsconfig.sdk.json)
//   package.json             @switchboard/sdk at the root package.json's version
// Usage: node scripts/build-sdk.mjs [--outdir DIR] (default dist/sdk)

import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const outIndex = args.indexOf('--outdir');
const outdir = outIndex >= 0 ? path.resolve(args[outIndex + 1]) : path.join(root, 'dist/sdk');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const require = createRequire(import.meta.url);
const mediasoupClient = JSON.parse(readFileSync(path.join(root, 'node_modules/mediasoup-client/package.json'), 'utf8')).version;

rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });

// 1. The bundle.
const result = await build({
  absWorkingDir: root,
  entryPoints: { switchboard: path.join(root, 'clients/browser/sdk/index.ts') },
  outdir,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['chrome111', 'firefox120', 'safari16'],
  sourcemap: true,
  minify: true,
  legalComments: 'linked',
  tsconfig: path.join(root, 'clients/browser/tsconfig.json'),
  define: {
    'process.env.NODE_ENV': '"production"',
    'process.env.DEBUG': 'undefined',
    __SWITCHBOARD_VERSION__: JSON.stringify(pkg.version),
  },
  logLevel: 'warning',
  metafile: true,
});

// 2. The declarations: tsc writes types/<repo path>.d.ts; index.d.ts points at the SDK's.
const typesDir = path.join(outdir, 'types');
execFileSync(
  process.execPath,
  [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'clients/browser/tsconfig.sdk.json'), '--outDir', typesDir],
  { cwd: root, stdio: 'inherit' },
);
writeFileSync(
  path.join(outdir, 'index.d.ts'),
  `// @switchboard/sdk ${pkg.version}: the browser SDK's types (docs/sdk.md).\nexport * from './types/clients/browser/sdk/index.js';\n`,
);

// 3. The package.
const manifest = {
  name: '@switchboard/sdk',
  version: pkg.version,
  description: 'Browser SDK for Switchboard: rooms, calls, live streaming over one WebSocket and mediasoup',
  type: 'module',
  main: './switchboard.js',
  module: './switchboard.js',
  types: './index.d.ts',
  exports: { '.': { types: './index.d.ts', import: './switchboard.js', default: './switchboard.js' }, './package.json': './package.json' },
  sideEffects: false,
  // Bundled into switchboard.js; listed for its types (Device, Producer, Consumer in the declarations).
  dependencies: { 'mediasoup-client': mediasoupClient },
  license: pkg.license ?? 'UNLICENSED',
};
writeFileSync(path.join(outdir, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');

const js = result.metafile.outputs[path.relative(root, path.join(outdir, 'switchboard.js'))];
console.log(
  `sdk package -> ${path.relative(process.cwd(), outdir) || '.'}: @switchboard/sdk ${pkg.version}, switchboard.js ${((js?.bytes ?? 0) / 1024).toFixed(0)} KiB`,
);
