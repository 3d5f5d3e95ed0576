// The HTTP/WebSocket edge against hostile input on real sockets: request
// targets and headers that used to make a listener throw (and Node exit)
// get a 4xx or a clean close and the node keeps serving; a bad Host header
// is no 500; an oversized body gets a readable 413.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { request as httpRequest } from 'node:http';
import { hostileRequests, rawRequest, sendRaw } from '../support/hostile.js';
import { basicAuth, startServer, type TestServer } from '../support/server.js';

const test = suite<{ srv: TestServer }>('http edge', {} as { srv: TestServer });
test.before(async (ctx) => {
  ctx.srv = await startServer({ env: { REST_RATE_LIMIT_BURST: '10000' } });
});
test.after(async (ctx) => ctx.srv.stop());

async function stillServing(srv: TestServer, user: string): Promise<void> {
  assert.is((await srv.api('GET', '/health', undefined, null)).status, 200);
  const { client } = await srv.joined(user, `edge-${user}`);
  await client.close();
}

test('hostile request targets on HTTP and on the upgrade path get a 4xx or a close; the process keeps serving', async ({ srv }) => {
  const requests = hostileRequests(basicAuth());
  for (const bytes of requests) {
    const answer = await sendRaw(srv.url, bytes);
    const what = JSON.stringify(bytes.slice(0, 100));
    assert.ok(
      answer.status === null || (answer.status >= 400 && answer.status < 500),
      `${what} answered ${answer.status}: ${answer.text.slice(0, 200)}`,
    );
  }
  await stillServing(srv, 'after-hostile');
  const metrics = (await srv.api('GET', '/metrics', undefined, null)).body as string;
  assert.not.match(metrics, /switchboard_uncaught_errors_total\{kind="(request|upgrade)"\} [1-9]/, 'nothing reached the last resort');
});

test('the documented answers: a target that does not parse is 400 invalid_payload, a malformed escape in a path parameter is 400', async ({
  srv,
}) => {
  for (const target of ['//', '//x:99999', '/\\x:99999', 'http://x:99999/health', '*']) {
    const answer = await sendRaw(srv.url, rawRequest('GET', target));
    assert.is(answer.status, 400, target);
    assert.match(answer.text, /"code":"invalid_payload"/);
  }
  const room = await sendRaw(srv.url, rawRequest('GET', '/api/v1/rooms/%ZZ', `Authorization: ${basicAuth()}\r\n`));
  assert.is(room.status, 400);
  assert.match(room.text, /"code":"invalid_payload".*malformed percent-escape/);
  const download = await sendRaw(srv.url, rawRequest('GET', '/api/v1/recordings/%/files/x/content'));
  assert.is(download.status, 400);
  assert.is((await sendRaw(srv.url, rawRequest('GET', '/live/%E0%A4%A/index.m3u8'))).status, 404, 'no stream has that name');
  assert.is((await sendRaw(srv.url, rawRequest('GET', '//', '', true))).status, 400, 'upgrade with a bad target');
  assert.is((await sendRaw(srv.url, rawRequest('GET', '/ws%', '', true))).status, 404, 'upgrade elsewhere than /ws');
});

test('malformed ids and names in REST paths never get a 5xx (a name that happens to be valid may list nothing: 200)', async ({ srv }) => {
  const { client } = await srv.joined('id-owner', 'real-room');
  const routes = [
    'GET /calls/:x',
    'GET /api/v1/rooms/:x',
    'PATCH /api/v1/rooms/:x',
    'DELETE /api/v1/rooms/:x',
    'GET /api/v1/rooms/:x/participants',
    'DELETE /api/v1/rooms/real-room/participants/:x',
    'POST /api/v1/rooms/real-room/participants/:x/kick',
    'POST /api/v1/rooms/real-room/participants/:x/role',
    'DELETE /api/v1/rooms/real-room/hands/:x',
    'POST /api/v1/rooms/real-room/lobby/:x/admit',
    'POST /api/v1/rooms/:x/data',
    'GET /api/v1/recordings/:x',
    'PATCH /api/v1/recordings/:x',
    'DELETE /api/v1/recordings/:x',
    'POST /api/v1/recordings/:x/stop',
    'GET /api/v1/recordings/:x/files/:x/download-url',
    'GET /api/v1/recordings/:x/files/:x/content',
    'GET /api/v1/rooms/:x/recordings',
    'GET /api/v1/rooms/:x/live/streams',
    'POST /api/v1/rooms/real-room/live/chat/:x/pin',
    'DELETE /api/v1/rooms/real-room/live/chat/:x',
  ];
  const ids = [
    'not-a-uuid',
    '00000000-0000-0000-0000-00000000000g',
    '%E2%82%AC',
    'x'.repeat(300),
    '%20',
    "'",
    '-1',
    '1e99',
    '%00x',
    '%C0%AF',
  ];
  for (const route of routes) {
    const [method, pattern] = route.split(' ') as [string, string];
    for (const id of ids) {
      const path = pattern.replaceAll(':x', id);
      const res = await srv.api(method, path, method === 'GET' || method === 'DELETE' ? undefined : {});
      assert.ok(res.status < 500, `${method} ${path.slice(0, 120)} answered ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
    }
  }
  await client.close();
});

test("a join with a Host header that is no authority gets the node's own ws_url, not a 500", async ({ srv }) => {
  for (const host of ['[', 'x:99999', '[::1', 'a:b:c']) {
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const { port } = new URL(srv.url);
      const body = JSON.stringify({ user_id: 'hosty' });
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port: Number(port),
          method: 'POST',
          path: '/api/v1/rooms/host-room/join',
          setHost: false,
          headers: { host, authorization: basicAuth(), 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode!, body: text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    assert.is(answer.status, 201, `${host}: ${answer.body}`);
    assert.is(JSON.parse(answer.body).ws_url, `${srv.url.replace('http:', 'ws:')}/ws`, host);
  }
});

test('a body over 64 KiB gets a 413 payload_too_large the client reads, and the connection serves the next request', async ({ srv }) => {
  const big = JSON.stringify({ user_id: 'x'.repeat(200_000) });
  const res = await srv.api('POST', '/auth/token', big);
  assert.is(res.status, 413);
  assert.is(res.body.error.code, 'payload_too_large');
  // On one keep-alive connection: the refused body is read and dropped, then the next request is answered.
  const { hostname, port } = new URL(srv.url);
  const body = 'y'.repeat(300_000);
  const twice =
    `POST /calls HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: ${basicAuth()}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}` +
    `GET /health HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`;
  const answer = await sendRaw(`http://${hostname}:${port}`, twice);
  assert.match(answer.text, /^HTTP\/1\.1 413 [\s\S]*"code":"payload_too_large"[\s\S]*HTTP\/1\.1 200 /);
  // Bodies at the limit still work.
  assert.is((await srv.api('POST', '/calls', { room: 'size-ok', metadata: { note: 'z'.repeat(8000) } })).status, 201);
});

test('a declared body far over the limit is refused before it is sent (Expect: 100-continue clients never send it)', async ({ srv }) => {
  const answer = await sendRaw(
    srv.url,
    rawRequest('POST', '/auth/token', `Authorization: ${basicAuth()}\r\nContent-Length: 104857600\r\n`),
  );
  assert.is(answer.status, 413);
  await stillServing(srv, 'after-413');
});

test.run();
