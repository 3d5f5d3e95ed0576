// The docs must name what the code has: every message type and error code in
// docs/protocol.md, every environment variable in the README.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { ERROR_CODES, clientSchemas } from '../../signaling/protocol/protocol.js';

const root = new URL('../../../', import.meta.url);
const protocolDoc = readFileSync(new URL('docs/protocol.md', root), 'utf8');
const readme = readFileSync(new URL('README.md', root), 'utf8');
const protocolSource = readFileSync(new URL('signaling/protocol/protocol.ts', root), 'utf8');
const configSource = readFileSync(new URL('server/kernel/config.ts', root), 'utf8');

test('every client message type is documented', () => {
  for (const type of Object.keys(clientSchemas)) assert.ok(protocolDoc.includes(`\`${type}\``), `docs/protocol.md lacks \`${type}\``);
});

test('every server message type is documented', () => {
  // Members of `export interface ServerPayloads` (one declaration); nested payload fields are indented deeper.
  const blocks = [...protocolSource.matchAll(/^export interface ServerPayloads \{\n([\s\S]*?)\n\}$/gm)];
  assert.is(blocks.length, 1, 'ServerPayloads is declared once');
  const types = [...blocks[0][1].matchAll(/^ {2}'?([a-z][a-z-]*)'?:/gm)].map((m) => m[1]);
  assert.ok(types.length >= 10, `found ${types.length} server types`);
  for (const type of types) assert.ok(protocolDoc.includes(`\`${type}\``), `docs/protocol.md lacks \`${type}\``);
});

test('every error code is documented', () => {
  const wsCodes = ERROR_CODES.filter((c) => c !== 'not_configured'); // REST-only: docs/rest.md
  for (const code of wsCodes) assert.ok(protocolDoc.includes(`\`${code}\``), `docs/protocol.md lacks \`${code}\``);
});

test('every environment variable the config reads is in the README', () => {
  const names = new Set([...configSource.matchAll(/(?:int|str|url|file)\('([A-Z_]+)'/g)].map((m) => m[1]));
  assert.ok(names.size >= 15, `found ${names.size} variables`);
  for (const name of names) assert.ok(readme.includes(`\`${name}\``), `README lacks \`${name}\``);
});

test.run();
