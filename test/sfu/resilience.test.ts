// Big rooms spread over workers, a worker dying, and no leaks over many joins.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MediaBot } from '../../clients/node/mediaBot.js';
import { SignalingClient } from '../../clients/node/signalingClient.js';
import { readdirSync } from 'node:fs';
import { eventually } from '../support/net.js';
import { startServer } from '../support/server.js';

const fdCount = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

test('past the router budget, subscribers land on a router of the other worker, fed by a pipe', async () => {
  const srv = await startServer({ sfuWorkers: 2, env: { SFU_ROUTER_CONSUMER_BUDGET: '2' } });
  const bots: MediaBot[] = [];
  try {
    const join = async (user: string) => {
      const b = await MediaBot.join(srv.url, await srv.mint({ userId: user }), 'big');
      bots.push(b);
      return b;
    };
    const pub = await join('pub');
    const video = await pub.publishVideo();
    const subs = [await join('s1'), await join('s2'), await join('s3'), await join('s4')];
    const tracks: Array<{ frames: number }> = [];
    for (const s of subs) tracks.push(await s.consume(video.id));
    await eventually(() => tracks.every((t) => t.frames >= 5), 20_000, 'every subscriber decodes');
    const media = srv.app.rooms.getRoom('big')!.media!;
    assert.is(media.routerCount, 2);
    const slots = srv.app.sfu!.pool.slots;
    assert.ok(
      slots.every((s) => s.routers.size === 1),
      'one router of the room on each worker',
    );
    assert.equal(slots.map((s) => s.consumers).sort(), [2, 2]);

    await pub.signaling.request('close-producer', { producer_id: video.id });
    for (const s of subs) await s.signaling.next('consumer-closed');
    assert.equal(
      slots.map((s) => s.consumers),
      [0, 0],
    );
    assert.equal(
      slots.map((s) => s.pending),
      [0, 0],
      'every reservation was used',
    );

    // Receivers arriving at the same moment are spread by reservation, not piled on one worker.
    const again = await pub.publishVideo();
    const burst = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const c = await SignalingClient.connect(srv.url);
        await c.request('auth', { token: await srv.mint({ userId: `burst${i}` }) });
        await c.request('join', { room: 'big' });
        await c.request('create-transport', { direction: 'recv' });
        return c;
      }),
    );
    const loads = slots.map((s) => s.consumers + s.pending);
    assert.is(loads[0] + loads[1], 8, `reserved ${loads}`);
    assert.ok(Math.abs(loads[0] - loads[1]) <= 1, `balanced: ${loads}`);
    assert.ok(again.id);
    for (const c of burst) await c.close();
  } finally {
    for (const b of bots) await b.close().catch(() => {});
    await srv.stop();
  }
});

test('a worker that dies is replaced; its rooms get sfu-reset and recover; other rooms carry on', async () => {
  const srv = await startServer({ sfuWorkers: 2 });
  const bots: MediaBot[] = [];
  try {
    const join = async (user: string, room: string) => {
      const b = await MediaBot.join(srv.url, await srv.mint({ userId: user }), room);
      bots.push(b);
      return b;
    };
    const aPub = await join('a-pub', 'doomed');
    const aSub = await join('a-sub', 'doomed');
    const aVideo = await aPub.publishVideo();
    const aTrack = await aSub.consume(aVideo.id);
    const bPub = await join('b-pub', 'survivor');
    const bSub = await join('b-sub', 'survivor');
    const bVideo = await bPub.publishVideo();
    const bTrack = await bSub.consume(bVideo.id);
    await eventually(() => aTrack.frames > 3 && bTrack.frames > 3, 20_000, 'both rooms flowing');

    const pool = srv.app.sfu!.pool;
    const victim = pool.slots.find((s) => [...s.routers].some((r) => r.appData['room'] === 'doomed'))!;
    const survivorSlot = pool.slots.find((s) => [...s.routers].some((r) => r.appData['room'] === 'survivor'))!;
    assert.is.not(victim, survivorSlot, 'the rooms were placed on different workers');
    const deadPid = victim.pid;
    process.kill(deadPid, 'SIGKILL');

    assert.is((await aPub.signaling.next('sfu-reset', () => true, 10_000)).reason, 'worker-died');
    await aSub.signaling.next('sfu-reset', () => true, 10_000);
    await eventually(() => pool.slots[victim.index].pid !== deadPid && !pool.slots[victim.index].worker.closed, 10_000, 'worker replaced');

    const before = bTrack.frames;
    await eventually(() => bTrack.frames > before + 10, 10_000, 'the other room kept its media');
    assert.is(bSub.signaling.unread('sfu-reset').length, 0);

    // The client rebuilds: new transports, publish again, consume again.
    aPub.resetTransports();
    aSub.resetTransports();
    const again = await aPub.publishVideo();
    const track = await aSub.consume(again.id);
    await eventually(() => track.frames > 3, 20_000, 'media after the reset');
  } finally {
    for (const b of bots) await b.close().catch(() => {});
    await srv.stop();
  }
});

test('thousands of joins and leaves leave no routers, transports or consumers behind', async () => {
  // ROOM_EMPTY_TIMEOUT_SECONDS=0: an emptied room closes at once, so no room may be left at the end.
  const srv = await startServer({
    sfuWorkers: 2,
    env: { RATE_LIMIT_PER_SECOND: '10000', RATE_LIMIT_BURST: '10000', ROOM_EMPTY_TIMEOUT_SECONDS: '0' },
  });
  try {
    const pool = srv.app.sfu!.pool;
    const fds = () => pool.slots.map((s) => s.pid).reduce((n, pid) => n + fdCount(pid), 0);
    const baselineFds = fds();
    const CLIENTS = 20;
    const CYCLES = 100; // x 20 clients = 2000 joins, each with two transports
    const clients = await Promise.all(
      Array.from({ length: CLIENTS }, async (_, i) => {
        const c = await SignalingClient.connect(srv.url);
        await c.request('auth', { token: await srv.mint({ userId: `u${i}` }) });
        return c;
      }),
    );
    await Promise.all(
      clients.map(async (c, i) => {
        for (let n = 0; n < CYCLES; n++) {
          await c.request('join', { room: `leak-${(i + n) % 7}` });
          await c.request('sfu-capabilities', {});
          await c.request('create-transport', { direction: 'send', sctp: true });
          await c.request('create-transport', { direction: 'recv' });
          await c.request('leave', {});
        }
      }),
    );
    assert.is(srv.app.rooms.roomCount, 0);
    for (const s of pool.slots) {
      assert.is(s.routers.size, 0, `worker ${s.index} routers`);
      assert.is(s.consumers, 0);
      assert.is(s.pending, 0, 'no reservations left');
      const dump = await s.worker.dump();
      assert.is(dump.routerIds.length, 0, 'worker holds no routers');
      const server = await s.webRtcServer.dump();
      assert.is(server.webRtcTransportIds.length, 0, 'WebRtcServer holds no transports');
    }
    // Ports: WebRtcServer shares one port per worker, so file descriptors must not grow.
    assert.ok(fds() <= baselineFds + 4, `worker fds ${baselineFds} -> ${fds()}`);
    for (const c of clients) await c.close();
  } finally {
    await srv.stop();
  }
});

test.run();
