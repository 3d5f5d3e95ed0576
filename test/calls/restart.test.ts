// A server killed while a call rings: the next start ends the call `failed`,
// its invitee `missed`, and nothing rings forever.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SignalingClient } from '../../clients/node/signalingClient.js';
import { TokenIssuer } from '../../server/edges/auth/tokens.js';
import { testKeys } from '../support/keys.js';
import { spawnServer } from '../support/process.js';
import { startServer } from '../support/server.js';

test('a call ringing when the server dies ends failed at the next start', async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'switchboard-call-crash-'));
  const issuer = await TokenIssuer.fromPrivateKeyFile(testKeys().privateKeyFile, { audience: 'switchboard', issuer: null });
  const token = async (userId: string) => (await issuer.mint({ userId, role: 'speaker', ttlSeconds: 600 })).token;
  const child = await spawnServer({ DATA_DIR: dataDir, CALL_RING_SECONDS: '600' });
  let callId: string;
  try {
    const alice = await SignalingClient.connect(child.url);
    const bob = await SignalingClient.connect(child.url);
    await alice.request('auth', { token: await token('alice') });
    await bob.request('auth', { token: await token('bob') });
    callId = (await alice.request('call-invite', { to: ['bob'], media: 'audio' })).call_id;
    assert.is((await bob.next('call-incoming')).call_id, callId);
    child.child.kill('SIGKILL');
    await child.exited;
    await Promise.all([alice.closed, bob.closed]);
  } finally {
    child.child.kill('SIGKILL');
  }
  const srv = await startServer({ dataDir });
  try {
    const [call] = await srv.app.db.query<{ status: string; end_reason: string | null }>(
      'SELECT status, end_reason FROM calls WHERE id = $1',
      [callId],
    );
    assert.equal(call, { status: 'ended', end_reason: 'failed' });
    const invitees = await srv.app.db.query<{ status: string }>('SELECT status FROM call_invitees WHERE call_id = $1', [callId]);
    assert.equal(
      invitees.map((i) => i.status),
      ['missed'],
    );
    const open = await srv.app.db.query<{ id: string }>('SELECT id FROM participants WHERE call_id = $1 AND left_at IS NULL', [callId]);
    assert.is(open.length, 0, 'the caller is not left in the call');
    // The new run rings nothing for it: bob can be called afresh.
    const alice = await srv.connect();
    const bob = await srv.connect();
    await alice.request('auth', { token: await srv.mint({ userId: 'alice' }) });
    await bob.request('auth', { token: await srv.mint({ userId: 'bob' }) });
    const again = await alice.request('call-invite', { to: ['bob'], media: 'audio' });
    assert.is((await bob.next('call-incoming')).call_id, again.call_id);
    await alice.request('call-cancel', { call_id: again.call_id });
    await Promise.all([alice.close(), bob.close()]);
  } finally {
    await srv.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test.run();
