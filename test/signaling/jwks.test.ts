// JWT_JWKS_URL: keys fetched from a JWKS endpoint (here a local HTTP server).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, importPKCS8, importSPKI } from 'jose';
import { SignalingClient } from '../../clients/node/signalingClient.js';
import { otherKeys, testKeys } from '../support/keys.js';
import { startServer } from '../support/server.js';

test('tokens verify against a JWKS endpoint; unknown kids and foreign keys are refused', async () => {
  const jwk = await exportJWK(await importSPKI(otherKeys().publicPem, 'RS256', { extractable: true }));
  const jwks = { keys: [{ ...jwk, kid: 'k1', alg: 'RS256', use: 'sig' }] };
  const http = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(jwks));
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const jwksUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}/jwks.json`;
  // JWKS replaces the public key file; the test harness's key must not be used.
  const srv = await startServer({ env: { JWT_JWKS_URL: jwksUrl, JWT_PUBLIC_KEY_FILE: '' } });
  try {
    const sign = async (pem: string, kid: string) =>
      new SignJWT({ name: 'J' })
        .setProtectedHeader({ alg: 'RS256', kid })
        .setSubject('jay')
        .setAudience('switchboard')
        .setExpirationTime('5m')
        .sign(await importPKCS8(pem, 'RS256'));

    const ok = await SignalingClient.connect(srv.url);
    assert.is((await ok.request('auth', { token: await sign(otherKeys().privatePem, 'k1') })).user_id, 'jay');
    await ok.close();

    for (const token of [await sign(otherKeys().privatePem, 'nope'), await sign(testKeys().privatePem, 'k1')]) {
      const bad = await SignalingClient.connect(srv.url);
      const err = await bad.request('auth', { token }).catch((e) => e);
      assert.is(err.code, 'unauthorized');
      assert.is((await bad.closed).code, 4001);
    }
  } finally {
    await srv.stop();
    http.close();
  }
});

test.run();
