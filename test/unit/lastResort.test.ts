// The last-resort policy (docs/reliability.md): a request or upgrade
// listener that throws or rejects gives a logged, counted 500 (a closed
// socket for upgrades) on a real server that goes on serving; at process
// level an unhandled rejection is logged and counted and the process goes
// on, an uncaught exception is logged, counted and ends in `fatal` (main.ts
// drains and exits 1). The process-level part runs in a real child process.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../../server/kernel/logger.js';
import { guardRequests, guardUpgrades, uncaughtErrors } from '../../server/kernel/lastResort.js';
import { rawRequest, sendRaw } from '../support/hostile.js';

function capture(): { log: ReturnType<typeof createLogger>; lines: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk, _enc, cb) {
      text += chunk;
      cb();
    },
  });
  return { log: createLogger('info', stream), lines: () => text };
}

async function counted(kind: string): Promise<number> {
  const values = (await uncaughtErrors.get()).values;
  return values.find((v) => v.labels['kind'] === kind)?.value ?? 0;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('a request listener that throws or rejects answers 500 internal_error, is logged and counted, and the server goes on', async () => {
  const { log, lines } = capture();
  const server = createServer(
    guardRequests((req, res) => {
      if (req.url === '/throw') throw new Error('sync boom');
      if (req.url === '/reject') return Promise.reject(new Error('async boom'));
      res.end('fine');
      return undefined;
    }, log),
  );
  const url = await listen(server);
  try {
    const before = await counted('request');
    for (const path of ['/throw', '/reject']) {
      const res = await fetch(url + path);
      assert.is(res.status, 500, path);
      assert.equal(await res.json(), { error: { code: 'internal_error', message: 'internal error' } });
    }
    assert.is(await counted('request'), before + 2);
    assert.match(lines(), /sync boom/);
    assert.match(lines(), /async boom/);
    assert.is(await (await fetch(url + '/ok')).text(), 'fine');
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('an upgrade listener that throws or rejects closes the socket with a 500 and is counted', async () => {
  const { log } = capture();
  const server = createServer((_req, res) => res.end('fine'));
  server.on(
    'upgrade',
    guardUpgrades((req) => {
      if (req.url === '/throw') throw new Error('sync upgrade boom');
      return Promise.reject(new Error('async upgrade boom'));
    }, log),
  );
  const url = await listen(server);
  try {
    const before = await counted('upgrade');
    assert.is((await sendRaw(url, rawRequest('GET', '/throw', '', true))).status, 500);
    assert.is((await sendRaw(url, rawRequest('GET', '/reject', '', true))).status, 500);
    assert.is(await counted('upgrade'), before + 2);
    assert.is(await (await fetch(url)).text(), 'fine');
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('process level, in a real process: an unhandled rejection is logged and counted and the process goes on; an uncaught exception ends in fatal (exit 1)', async () => {
  const lastResort = fileURLToPath(new URL('../../server/kernel/lastResort.js', import.meta.url));
  const logger = fileURLToPath(new URL('../../server/kernel/logger.js', import.meta.url));
  const script = `
    const { installProcessGuards, uncaughtErrors } = await import(${JSON.stringify(lastResort)});
    const { createLogger } = await import(${JSON.stringify(logger)});
    const log = createLogger('info');
    installProcessGuards(log, () => {
      uncaughtErrors.get().then((m) => {
        process.stdout.write('COUNTS ' + JSON.stringify(m.values.map((v) => [v.labels.kind, v.value])) + '\\n');
        process.exit(1);
      });
    });
    Promise.reject(new Error('rejected-nowhere'));
    setTimeout(() => {
      process.stdout.write('STILL-SERVING\\n');
      setTimeout(() => { throw new Error('thrown-nowhere'); }, 10);
    }, 50);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const code = await new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child did not exit:\n${out}`));
    }, 10_000);
    child.once('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  assert.is(code, 1, out);
  assert.match(out, /"level":50.*rejected-nowhere.*unhandled promise rejection/);
  assert.match(out, /STILL-SERVING/);
  assert.match(out, /"level":60.*thrown-nowhere.*uncaught exception: draining and exiting/);
  assert.match(out, /COUNTS \[\["unhandled_rejection",1\],\["uncaught_exception",1\]\]/);
});

test.run();
