// Message size, rate limit, connection cap, dead peers and slow readers.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startServer } from '../support/server.js';
import { eventually, sleep } from '../support/net.js';

test('a message over MAX_MESSAGE_BYTES closes the connection with 1009', async () => {
  const srv = await startServer({ env: { MAX_MESSAGE_BYTES: '2048' } });
  try {
    const a = await srv.joined('alice', 'r-size');
    const b = await srv.joined('bob', 'r-size');
    await a.client.request('offer', { to: b.id, sdp: 'x'.repeat(1500) }); // under the limit: fine
    a.client.sendRaw(JSON.stringify({ type: 'offer', payload: { to: b.id, sdp: 'x'.repeat(3000) } }));
    assert.is((await a.client.closed).code, 1009);
    assert.equal(await b.client.next('peer-left'), { participant_id: a.id, reason: 'disconnected' });
    assert.is(b.client.unread('offer').length, 1, 'only the small offer arrived');
  } finally {
    await srv.stop();
  }
});

test('flooding gets rate_limited errors, then close 4008 if it goes on; others are unaffected', async () => {
  const srv = await startServer({ env: { RATE_LIMIT_PER_SECOND: '20', RATE_LIMIT_BURST: '10' } });
  try {
    const a = await srv.joined('alice', 'r-rate');
    const b = await srv.joined('bob', 'r-rate');
    const replies = await Promise.allSettled(Array.from({ length: 15 }, () => a.client.request('ping', {})));
    const limited = replies.filter((r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'rate_limited');
    assert.ok(limited.length >= 3, `expected some rate_limited, got ${limited.length}`);
    assert.ok(replies.filter((r) => r.status === 'fulfilled').length >= 8, 'the burst went through');
    await sleep(600); // refill
    await a.client.request('ping', {});

    for (let i = 0; i < 200; i++) a.client.send('ping', {});
    assert.is((await a.client.closed).code, 4008);
    // bob's call goes on
    const c = await srv.joined('carol', 'r-rate');
    await b.client.request('offer', { to: c.id, sdp: 'fine' });
    assert.is((await c.client.next('offer')).sdp, 'fine');
  } finally {
    await srv.stop();
  }
});

test('MAX_CONNECTIONS: the next connection is closed with 1013', async () => {
  const srv = await startServer({ env: { MAX_CONNECTIONS: '3' } });
  try {
    const clients = await Promise.all([srv.connect(), srv.connect(), srv.connect()]);
    const extra = await srv.connect();
    assert.is((await extra.closed).code, 1013);
    await clients[0].close();
    await eventually(() => srv.app.hub.connectionCount === 2, 2000, 'slot freed');
    const later = await srv.connect();
    const pong = await later.request('auth', { token: await srv.mint({ userId: 'z' }) });
    assert.is(pong.user_id, 'z');
  } finally {
    await srv.stop();
  }
});

test('a peer that stops answering pings is dropped and leaves its room', async () => {
  const srv = await startServer({ env: { PING_INTERVAL_MS: '200' } });
  try {
    const a = await srv.joined('alice', 'r-dead');
    const b = await srv.joined('bob', 'r-dead');
    // Stop reading: the client no longer sees pings, so it never pongs.
    (a.client.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const left = await b.client.next('peer-left', () => true, 3000);
    assert.equal(left, { participant_id: a.id, reason: 'disconnected' });
    // b keeps answering pings and stays.
    await sleep(600);
    assert.is(srv.app.rooms.getRoom('r-dead')!.participants.size, 1);
  } finally {
    await srv.stop();
  }
});

test('a slow reader is disconnected instead of buffering without bound', async () => {
  const srv = await startServer({
    env: { MAX_SEND_BUFFER_BYTES: '65536', RATE_LIMIT_PER_SECOND: '100000', RATE_LIMIT_BURST: '100000', MAX_MESSAGE_BYTES: '65536' },
  });
  try {
    const slow = await srv.joined('slow', 'r-slow');
    const fast = await srv.joined('fast', 'r-slow');
    (slow.client.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const sdp = 'x'.repeat(30_000);
    let sent = 0;
    // Enough to fill the kernel's socket buffers and then the server's own bound.
    while (srv.app.rooms.getRoom('r-slow')?.participants.has(slow.id) && sent < 3000) {
      fast.client.send('offer', { to: slow.id, sdp });
      sent++;
      if (sent % 50 === 0) await sleep(5);
    }
    const left = await fast.client.next('peer-left', () => true, 5000);
    assert.equal(left, { participant_id: slow.id, reason: 'disconnected' });
    assert.ok(sent < 3000, 'disconnected before the sender ran out of messages');
    await fast.client.request('ping', {});
  } finally {
    await srv.stop();
  }
});

test.run();
