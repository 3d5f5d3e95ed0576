// Per-address limits and the client address on the REST edge: REST writes
// past REST_RATE_LIMIT_* get 429 rate_limited with Retry-After and recover;
// another address is not affected; with TRUST_PROXY the address (for the
// limit and for participants.client_ip) is the forwarded one, without it the
// socket's.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { request as httpRequest } from 'node:http';
import { sleep } from '../support/net.js';
import { basicAuth, startServer, type TestServer } from '../support/server.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

/** A REST error reply. */
interface ErrorBody {
  error: { code: string };
}

/** A REST call from a chosen source address and with chosen headers. */
function call(
  srv: TestServer,
  method: string,
  route: string,
  body: unknown,
  opts: { localAddress?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const { port } = new URL(srv.url);
  const text = body === undefined ? '' : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: Number(port),
        method,
        path: route,
        agent: false,
        ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
        headers: {
          authorization: basicAuth(),
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(text),
          ...opts.headers,
        },
      },
      (res) => {
        let raw = '';
        res.on('data', (d) => (raw += d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: raw ? JSON.parse(raw) : null }));
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

const mint = { user_id: 'limited' };

test('REST writes past the per-address limit get 429 rate_limited with Retry-After, then recover; reads and other addresses are not limited', async () => {
  const srv = await startServer({ env: { REST_RATE_LIMIT_PER_SECOND: '2', REST_RATE_LIMIT_BURST: '3' } });
  try {
    for (let i = 0; i < 3; i++) assert.is((await call(srv, 'POST', '/auth/token', mint)).status, 201, `burst ${i}`);
    const limited = await call(srv, 'POST', '/auth/token', mint);
    assert.is(limited.status, 429);
    assert.is((limited.body as ErrorBody).error.code, 'rate_limited');
    const retryAfter = Number(limited.headers['retry-after']);
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 2, `Retry-After ${limited.headers['retry-after']}`);
    assert.is((await call(srv, 'POST', '/calls', { room: 'limited-call' })).status, 429, 'every write shares the bucket');
    assert.is((await call(srv, 'GET', '/health', undefined)).status, 200, 'reads are not limited');
    assert.is(
      (await call(srv, 'POST', '/auth/token', mint, { localAddress: '127.0.0.2' })).status,
      201,
      'another address has its own bucket',
    );
    await sleep(retryAfter * 1000);
    assert.is((await call(srv, 'POST', '/auth/token', mint)).status, 201, 'recovered after Retry-After');
  } finally {
    await srv.stop();
  }
});

test('with TRUST_PROXY the REST limit is per forwarded client; a forged left part of X-Forwarded-For does not help', async () => {
  const srv = await startServer({ env: { REST_RATE_LIMIT_PER_SECOND: '1', REST_RATE_LIMIT_BURST: '2', TRUST_PROXY: 'on' } });
  try {
    const as = (client: string, forged = '10.0.0.1') => ({ headers: { 'x-forwarded-for': `${forged}, ${client}` } });
    assert.is((await call(srv, 'POST', '/auth/token', mint, as('203.0.113.1', 'a'))).status, 201);
    assert.is((await call(srv, 'POST', '/auth/token', mint, as('203.0.113.1', 'b'))).status, 201);
    assert.is(
      (await call(srv, 'POST', '/auth/token', mint, as('203.0.113.1', 'c'))).status,
      429,
      'a new forged hop is still the same client',
    );
    assert.is((await call(srv, 'POST', '/auth/token', mint, as('203.0.113.2'))).status, 201, 'another client behind the proxy');
  } finally {
    await srv.stop();
  }
});

async function storedClientIp(srv: TestServer, user: string): Promise<string | null> {
  const rows = await srv.app.db.query<{ client_ip: string | null }>('SELECT client_ip FROM participants WHERE user_id = $1', [user]);
  assert.is(rows.length, 1);
  return rows[0].client_ip;
}

async function joinVia(srv: TestServer, user: string, opts: { localAddress?: string; headers?: Record<string, string> }): Promise<void> {
  const client = await srv.connect(opts);
  await client.request('auth', { token: await srv.mint({ userId: user }) });
  await client.request('join', { room: 'ip-room' });
}

test("participants.client_ip: the forwarded address with TRUST_PROXY, the socket's without (a sent X-Forwarded-For is ignored)", async () => {
  const xff = { 'x-forwarded-for': '192.0.2.44, 203.0.113.9' };
  const proxied = await startServer({ env: { TRUST_PROXY: '1' } });
  try {
    await joinVia(proxied, 'behind-proxy', { localAddress: '127.0.0.2', headers: xff });
    assert.is(await storedClientIp(proxied, 'behind-proxy'), '203.0.113.9');
    await joinVia(proxied, 'no-header', { localAddress: '127.0.0.2' });
    assert.is(await storedClientIp(proxied, 'no-header'), '127.0.0.2', 'no X-Forwarded-For: the socket');
  } finally {
    await proxied.stop();
  }
  const direct = await startServer();
  try {
    await joinVia(direct, 'direct', { localAddress: '127.0.0.2', headers: xff });
    assert.is(await storedClientIp(direct, 'direct'), '127.0.0.2');
  } finally {
    await direct.stop();
  }
});

test('TRUST_PROXY=2: the second entry from the right is the client', async () => {
  const srv = await startServer({ env: { TRUST_PROXY: '2' } });
  try {
    await joinVia(srv, 'two-hops', { headers: { 'x-forwarded-for': '192.0.2.1, 198.51.100.20, 10.1.2.3' } });
    assert.is(await storedClientIp(srv, 'two-hops'), '198.51.100.20');
  } finally {
    await srv.stop();
  }
});

test.run();
