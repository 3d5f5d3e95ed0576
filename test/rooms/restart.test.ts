// What a room remembers across a node restart: the hand queue (in order),
// roles a host gave, kick bans, the whiteboard and the settings.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rmSync } from 'node:fs';
import { startServer } from '../support/server.js';

test('hands, given roles, bans, board and settings survive a restart; a real end forgets hands, roles and board', async () => {
  const first = await startServer({ env: { ROOM_EMPTY_TIMEOUT_SECONDS: '300' } });
  const dataDir = first.dataDir;
  const host = await first.joined('host', 'rs-room', { role: 'host' });
  const viewers = [];
  for (const u of ['v1', 'v2', 'v3']) viewers.push(await first.joined(u, 'rs-room', { role: 'viewer' }));
  for (const v of [viewers[2], viewers[0]]) await v.client.request('raise-hand', {});
  await host.client.request('set-role', { participant_id: viewers[1].id, role: 'speaker' });
  await host.client.request('kick', { participant_id: viewers[2].id });
  await host.client.request('update-room', { lobby: false, max_participants: 9, metadata: { m: 1 } });
  await host.client.request('whiteboard-draw', { stroke: { p: 1 } });
  await first.app.close();

  const second = await startServer({ dataDir, env: { ROOM_EMPTY_TIMEOUT_SECONDS: '300' } });
  try {
    const again = await second.connect();
    await again.request('auth', { token: await second.mint({ userId: 'v1', role: 'viewer' }) });
    const joined = await again.request('join', { room: 'rs-room' });
    const rs = joined.room_state;
    assert.equal(
      rs.hands!.map((h) => h.user_id),
      ['v1'],
      'v3 was kicked (gives up the hand); v1 keeps its place',
    );
    assert.equal([rs.settings!.max_participants, rs.settings!.metadata], [9, { m: 1 }]);
    assert.equal(
      rs.whiteboard!.map((w) => w.stroke),
      [{ p: 1 }],
    );
    const speaker = await second.joined('v2', 'rs-room', { role: 'viewer' });
    assert.is(
      second.app.rooms.getRoom('rs-room')!.participants.get(speaker.id)!.identity.role,
      'speaker',
      'the given role beats the token',
    );
    const kicked = await second.connect();
    await kicked.request('auth', { token: await second.mint({ userId: 'v3', role: 'viewer' }) });
    assert.is((await kicked.request('join', { room: 'rs-room' }).catch((e) => e)).code, 'banned');

    // A host ending the call forgets the queue, the board and given roles (the ban stays).
    const h = await second.joined('host', 'rs-room', { role: 'host' });
    await h.client.request('end-call', {});
    const fresh = await second.joined('v2', 'rs-room', { role: 'viewer' });
    const room = second.app.rooms.getRoom('rs-room')!;
    assert.equal([room.hands, room.whiteboard, room.participants.get(fresh.id)!.identity.role], [[], [], 'viewer']);
    assert.is((await kicked.request('join', { room: 'rs-room' }).catch((e) => e)).code, 'banned');
  } finally {
    await second.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test.run();
