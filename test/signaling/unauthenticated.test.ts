// MAX_UNAUTHENTICATED_PER_IP on real sockets from several loopback source
// addresses: idle sockets from one address beyond the cap are refused at the
// upgrade (429), other addresses still connect, and sockets that
// authenticate stop counting.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { SignalingClient } from '../../clients/node/signalingClient.js';
import { eventually } from '../support/net.js';
import { startServer } from '../support/server.js';

const CAP = 5;

test('idle sockets from one address beyond the cap are refused with 429; another address connects; authenticated ones stop counting', async () => {
  const srv = await startServer({ env: { MAX_UNAUTHENTICATED_PER_IP: String(CAP), AUTH_TIMEOUT_MS: '60000' } });
  const idle: SignalingClient[] = [];
  try {
    for (let i = 0; i < CAP; i++) idle.push(await srv.connect({ localAddress: '127.0.0.3' }));
    const refused = await srv.connect({ localAddress: '127.0.0.3' }).then(
      () => 'accepted',
      (err: Error) => err.message,
    );
    assert.is(refused, 'HTTP 429 on upgrade');
    const metrics = (await srv.api('GET', '/metrics', undefined, null)).body as string;
    assert.match(metrics, /switchboard_ws_refused_total\{reason="unauthenticated_per_ip"\} 1/);

    // Another address is not affected: it connects, authenticates and joins.
    const other = await srv.connect({ localAddress: '127.0.0.2' });
    await other.request('auth', { token: await srv.mint({ userId: 'elsewhere' }) });
    await other.request('join', { room: 'unauth-room' });

    // One of the idle sockets authenticates: it no longer counts, so one more from 127.0.0.3 fits (and only one).
    await idle[0].request('auth', { token: await srv.mint({ userId: 'late' }) });
    idle.push(await srv.connect({ localAddress: '127.0.0.3' }));
    assert.is(
      await srv.connect({ localAddress: '127.0.0.3' }).then(
        () => 'accepted',
        (err: Error) => err.message,
      ),
      'HTTP 429 on upgrade',
    );

    // Closing an unauthenticated one frees its place too.
    await idle[1].close();
    await eventually(
      async () => {
        const c = await srv.connect({ localAddress: '127.0.0.3' }).catch(() => null);
        if (c) idle.push(c);
        return c;
      },
      3000,
      'a place freed by a close',
    );
    assert.ok(
      idle.every((c, i) => i === 1 || c.closeInfo === null),
      'the sockets under the cap stay open',
    );
  } finally {
    await srv.stop();
  }
});

test('behind a proxy (TRUST_PROXY=1) the cap counts the forwarded client address', async () => {
  const srv = await startServer({ env: { MAX_UNAUTHENTICATED_PER_IP: '2', TRUST_PROXY: '1' } });
  try {
    const fwd = (ip: string) => ({ headers: { 'x-forwarded-for': `198.51.100.9, ${ip}` } });
    await srv.connect(fwd('203.0.113.7'));
    await srv.connect(fwd('203.0.113.7'));
    assert.is(
      await srv.connect(fwd('203.0.113.7')).then(
        () => 'accepted',
        (err: Error) => err.message,
      ),
      'HTTP 429 on upgrade',
    );
    // The same proxy socket address, another client behind it: accepted.
    await srv.connect(fwd('203.0.113.8'));
  } finally {
    await srv.stop();
  }
});

test.run();
