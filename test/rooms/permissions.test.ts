// The permission matrix: every room-control action by every role, over the
// WebSocket. An allowed action succeeds; a refused one is `forbidden` and
// changes nothing (room state in memory and the rows behind it).

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { SignalingClient } from '../../clients/node/signalingClient.js';
import type { ClientType, Role } from '../../signaling/protocol/protocol.js';
import { sleep } from '../support/net.js';
import { startServer, type TestServer } from '../support/server.js';

const test = suite<{ srv: TestServer }>('permission matrix', {} as { srv: TestServer });
test.before(async (ctx) => {
  ctx.srv = await startServer();
});
test.after(async (ctx) => ctx.srv.stop());

interface Scene {
  room: string;
  host: { client: SignalingClient; id: string };
  target: { client: SignalingClient; id: string; user: string };
  actor: { client: SignalingClient; id: string };
  waiter: Promise<unknown> | null;
}

interface Case {
  type: ClientType;
  /** Roles that may do it, written out from the role table (not imported from the code). */
  allowed: Role[];
  setup?: (s: Scene, srv: TestServer) => Promise<void>;
  payload: (s: Scene) => Record<string, unknown>;
}

const ALL: Role[] = ['host', 'moderator', 'speaker', 'viewer'];
const STAFF: Role[] = ['host', 'moderator'];

const CASES: Case[] = [
  { type: 'set-role', allowed: STAFF, payload: (s) => ({ participant_id: s.target.id, role: 'speaker' }) },
  { type: 'raise-hand', allowed: ['moderator', 'speaker', 'viewer'], payload: () => ({}) },
  {
    type: 'lower-hand',
    allowed: STAFF,
    payload: (s) => ({ user_id: s.target.user }),
    setup: async (s) => void (await s.target.client.request('raise-hand', {})),
  },
  {
    type: 'acknowledge-hand',
    allowed: STAFF,
    payload: () => ({}),
    setup: async (s) => void (await s.target.client.request('raise-hand', {})),
  },
  { type: 'mute-participant', allowed: STAFF, payload: (s) => ({ participant_id: s.target.id, track: 'audio' }) },
  { type: 'mute-all', allowed: STAFF, payload: () => ({}) },
  { type: 'kick', allowed: STAFF, payload: (s) => ({ participant_id: s.target.id }) },
  { type: 'lock-room', allowed: STAFF, payload: () => ({}) },
  {
    type: 'unlock-room',
    allowed: STAFF,
    payload: () => ({}),
    setup: async (s) => void (await s.host.client.request('lock-room', {})),
  },
  { type: 'update-room', allowed: ['host'], payload: () => ({ max_participants: 10, lobby: true }) },
  {
    type: 'admit',
    allowed: STAFF,
    payload: () => ({ user_id: 'waiter' }),
    setup: async (s, srv) => lobbyWaiter(s, srv),
  },
  {
    type: 'deny',
    allowed: STAFF,
    payload: () => ({ user_id: 'waiter' }),
    setup: async (s, srv) => lobbyWaiter(s, srv),
  },
  { type: 'send-data', allowed: ALL, payload: () => ({ topic: 'chat', data: { text: 'hi' } }) },
  {
    type: 'whiteboard-draw',
    allowed: ['host', 'moderator', 'speaker'],
    payload: () => ({
      stroke: {
        points: [
          [0, 0],
          [1, 1],
        ],
      },
    }),
  },
  {
    type: 'whiteboard-clear',
    allowed: STAFF,
    payload: () => ({}),
    setup: async (s) => void (await s.host.client.request('whiteboard-draw', { stroke: { points: [[0, 0]] } })),
  },
  { type: 'end-call', allowed: ['host'], payload: () => ({}) },
];

async function lobbyWaiter(s: Scene, srv: TestServer): Promise<void> {
  await s.host.client.request('update-room', { lobby: true });
  const w = await srv.connect();
  await w.request('auth', { token: await srv.mint({ userId: 'waiter', role: 'viewer' }) });
  s.waiter = w.request('join', { room: s.room }).catch((e) => e);
  await w.next('lobby-waiting');
  await s.host.client.next('lobby-updated', (l) => l.waiting.length === 1);
}

/** Everything a refused action could have changed: the room in memory and its rows. */
async function snapshot(srv: TestServer, room: string) {
  const r = srv.app.rooms.getRoom(room);
  const rows = await srv.app.db.query(
    `SELECT (SELECT row_to_json(x) FROM (SELECT type, max_participants, lobby, locked FROM rooms WHERE name = $1) x) AS room,
            (SELECT count(*)::int FROM room_hands WHERE room = $1) AS hands,
            (SELECT count(*)::int FROM whiteboard_strokes WHERE room = $1) AS strokes,
            (SELECT count(*)::int FROM room_users WHERE room = $1) AS users,
            (SELECT count(*)::int FROM participants p JOIN calls c ON c.id = p.call_id WHERE c.room = $1 AND p.left_at IS NULL) AS present`,
    [room],
  );
  return JSON.stringify({
    state: r ? { ...r.state(), producers: [] } : null,
    lobby: r?.lobbyList().map((w) => w.user_id) ?? null,
    callState: r?.callState ?? null,
    rows: rows[0],
  });
}

let n = 0;
for (const c of CASES) {
  for (const role of ALL) {
    const allowed = c.allowed.includes(role);
    test(`${c.type} by a ${role}: ${allowed ? 'allowed' : 'forbidden'}`, async ({ srv }) => {
      const room = `m-${n++}`;
      const host = await srv.joined(`host-${room}`, room, { role: 'host' });
      const t = await srv.joined(`target-${room}`, room, { role: 'viewer' });
      const actor = role === 'host' ? host : await srv.joined(`actor-${room}`, room, { role });
      const scene: Scene = { room, host, target: { ...t, user: `target-${room}` }, actor, waiter: null };
      await c.setup?.(scene, srv);
      await sleep(20);
      const before = await snapshot(srv, room);
      const result = await actor.client.request(c.type, c.payload(scene) as never).then(
        () => 'ok',
        (e) => e.code,
      );
      if (allowed) {
        assert.is(result, 'ok', `${role} ${c.type}`);
      } else {
        assert.is(result, 'forbidden', `${role} ${c.type}`);
        await sleep(30);
        assert.is(await snapshot(srv, room), before, 'a forbidden action changes nothing');
      }
      for (const x of [host, t, actor]) await x.client.close();
    });
  }
}

test('publishing: viewers are refused before any media is touched; moderators too in a webinar', async ({ srv }) => {
  const produce = (client: SignalingClient) =>
    client
      .request('produce', {
        transport_id: 'T',
        kind: 'audio',
        rtp_parameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }] },
        source: 'mic',
      })
      .then(
        () => 'ok',
        (e) => e.code,
      );
  const v = await srv.joined('pv', 'm-publish', { role: 'viewer' });
  const m = await srv.joined('pm', 'm-publish', { role: 'moderator' });
  const h = await srv.joined('ph', 'm-publish', { role: 'host' });
  assert.is(await produce(v.client), 'forbidden');
  // Allowed roles get past the permission check (this server has no SFU: unavailable).
  assert.is(await produce(m.client), 'unavailable');
  await h.client.request('update-room', { type: 'webinar' });
  assert.is(await produce(m.client), 'forbidden');
  assert.is(await produce(h.client), 'unavailable');
  // In a broadcast, viewers cannot even raise a hand.
  await h.client.request('update-room', { type: 'broadcast' });
  assert.is((await v.client.request('raise-hand', {}).catch((e) => e)).code, 'forbidden');
  for (const x of [v, m, h]) await x.client.close();
});

test('moderators cannot act on hosts or moderators, nor make anyone staff', async ({ srv }) => {
  const h = await srv.joined('sh', 'm-staff', { role: 'host' });
  const m = await srv.joined('sm', 'm-staff', { role: 'moderator' });
  const m2 = await srv.joined('sm2', 'm-staff', { role: 'moderator' });
  const v = await srv.joined('sv', 'm-staff', { role: 'viewer' });
  for (const [type, payload] of [
    ['kick', { participant_id: h.id }],
    ['mute-participant', { participant_id: m2.id, track: 'audio' }],
    ['set-role', { participant_id: v.id, role: 'moderator' }],
    ['set-role', { participant_id: m2.id, role: 'viewer' }],
  ] as const) {
    assert.is((await m.client.request(type, payload as never).catch((e) => e)).code, 'forbidden', type);
  }
  assert.is(srv.app.rooms.getRoom('m-staff')!.participants.size, 4);
  // The host may.
  await h.client.request('set-role', { participant_id: v.id, role: 'moderator' });
  assert.equal(await v.client.next('role-changed'), { participant_id: v.id, role: 'moderator', by: h.id });
  for (const x of [h, m, m2, v]) await x.client.close();
});

test.run();
