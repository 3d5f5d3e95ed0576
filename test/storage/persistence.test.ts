// Joins, leaves and call states are written to the database: the same tests
// against embedded PGlite and a real PostgreSQL server.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignalingClient } from '../../clients/node/signalingClient.js';
import { eventually } from '../support/net.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { spawnServer } from '../support/process.js';
import { startServer, type TestServer } from '../support/server.js';

interface Ctx {
  pg: PostgresServer | null;
}

for (const kind of ['pglite', 'postgres'] as const) {
  const test = suite<Ctx>(`persistence (${kind})`, { pg: null });
  test.before(async (ctx) => {
    if (kind === 'postgres') ctx.pg = await startPostgres();
  });
  test.after(async (ctx) => {
    await ctx.pg?.stop();
  });

  // An empty room's call ends after ROOM_EMPTY_TIMEOUT_SECONDS: 1 s here.
  const start = (ctx: Ctx, dataDir?: string): Promise<TestServer> =>
    startServer({
      ...(ctx.pg ? { databaseUrl: ctx.pg.url } : {}),
      ...(dataDir ? { dataDir } : {}),
      env: { ROOM_EMPTY_TIMEOUT_SECONDS: '1' },
    });

  test('joins, leaves and the call lifecycle are recorded', async (ctx) => {
    const srv = await start(ctx);
    try {
      const a = await srv.joined('alice', 'p-life', { name: 'Alice', role: 'host' });
      const b = await srv.joined('bob', 'p-life', { role: 'viewer' });
      const callId = srv.app.rooms.getRoom('p-life')!.callId;
      let { body } = await srv.api('GET', `/calls/${callId}`);
      assert.is(body.status, 'active');
      assert.ok(body.started_at);
      assert.is(body.participants.length, 2);
      const alice = body.participants.find((p: { user_id: string }) => p.user_id === 'alice');
      assert.equal(
        [alice.participant_id, alice.display_name, alice.role, alice.left_at, alice.client_ip],
        [a.id, 'Alice', 'host', null, '127.0.0.1'],
      );
      await b.client.request('leave', {});
      a.client.ws.terminate();
      await eventually(
        async () => (await srv.api('GET', `/calls/${callId}`)).body.participants.every((p: { left_at: string | null }) => p.left_at),
        5000,
        'leaves recorded',
      );
      assert.is((await srv.api('GET', `/calls/${callId}`)).body.status, 'active', 'the empty room waits for its empty timeout');
      await eventually(
        async () => (await srv.api('GET', `/calls/${callId}`)).body.status === 'ended',
        8000,
        'call ended after the empty timeout',
      );
      ({ body } = await srv.api('GET', `/calls/${callId}`));
      assert.is(body.end_reason, 'empty');
      assert.ok(body.ended_at);
      const reasons = Object.fromEntries(
        body.participants.map((p: { user_id: string; leave_reason: string }) => [p.user_id, p.leave_reason]),
      );
      assert.equal(reasons, { alice: 'disconnected', bob: 'left' });
      for (const p of body.participants) {
        assert.ok(p.left_at, 'left_at recorded');
        assert.ok(p.duration_seconds >= 0);
      }
    } finally {
      await srv.stop();
    }
  });

  test('end-call closes every participant row; a later join opens a new call', async (ctx) => {
    const srv = await start(ctx);
    try {
      const host = await srv.joined('h', 'p-end', { role: 'host' });
      await srv.joined('b', 'p-end');
      const callId = srv.app.rooms.getRoom('p-end')!.callId;
      await host.client.request('end-call', {});
      const { body } = await srv.api('GET', `/calls/${callId}`);
      assert.equal([body.status, body.end_reason], ['ended', 'ended-by-host']);
      assert.ok(
        body.participants.every((p: { leave_reason: string }) => p.leave_reason === 'call-ended' || p.leave_reason === 'ended-by-host'),
      );
      assert.ok(body.participants.every((p: { left_at: string | null }) => p.left_at));
      const again = await srv.joined('h2', 'p-end');
      const newCall = srv.app.rooms.getRoom('p-end')!.callId;
      assert.is.not(newCall, callId);
      await again.client.close();
    } finally {
      await srv.stop();
    }
  });

  test('after a crash (SIGKILL), the restart closes calls left open; pre-created empty calls stay', async (ctx) => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'switchboard-crash-'));
    try {
      // Seed the data dir (PGlite) or schema (Postgres) with a normal start first.
      const seed = await start(ctx, dataDir);
      const planned = await seed.api('POST', '/calls', { room: 'p-planned' });
      assert.is(planned.status, 201);
      await seed.stop();

      const proc = await spawnServer({ DATA_DIR: dataDir, ...(ctx.pg ? { DATABASE_URL: ctx.pg.url } : {}) });
      const clients: SignalingClient[] = [];
      let callId = '';
      for (const user of ['alice', 'bob']) {
        const c = await SignalingClient.connect(proc.url);
        clients.push(c);
        const mintSrv = seed; // issuer only; the seed server object still mints with the test key
        await c.request('auth', { token: await mintSrv.mint({ userId: user }) });
        callId = (await c.request('join', { room: 'p-crash' })).room_state.call.call_id;
      }
      proc.child.kill('SIGKILL');
      await proc.exited;
      for (const c of clients) await c.closed;

      const srv = await start(ctx, dataDir);
      try {
        const { body } = await srv.api('GET', `/calls/${callId}`);
        assert.equal([body.status, body.end_reason], ['ended', 'server-restart']);
        assert.is(body.participants.length, 2);
        assert.ok(
          body.participants.every((p: { leave_reason: string; left_at: string }) => p.leave_reason === 'server-restart' && p.left_at),
        );
        const kept = await srv.api('GET', `/calls/${planned.body.call_id}`);
        assert.is(kept.body.status, 'pending');
      } finally {
        await srv.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('SIGTERM ends calls cleanly and tells the clients', async (ctx) => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'switchboard-term-'));
    try {
      const seed = await start(ctx, dataDir);
      await seed.stop();
      const proc = await spawnServer({ DATA_DIR: dataDir, ...(ctx.pg ? { DATABASE_URL: ctx.pg.url } : {}) });
      const c = await SignalingClient.connect(proc.url);
      await c.request('auth', { token: await seed.mint({ userId: 'alice' }) });
      const callId = (await c.request('join', { room: 'p-term' })).room_state.call.call_id;
      proc.child.kill('SIGTERM');
      const ended = await c.next('call-state-changed');
      assert.equal([ended.state, ended.reason], ['ended', 'server-shutdown']);
      assert.is((await c.closed).code, 1001);
      assert.is(await proc.exited, 0);
      const srv = await start(ctx, dataDir);
      try {
        const { body } = await srv.api('GET', `/calls/${callId}`);
        assert.equal([body.status, body.end_reason], ['ended', 'server-shutdown']);
        assert.is(body.participants[0].leave_reason, 'server-shutdown');
      } finally {
        await srv.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test.run();
}
