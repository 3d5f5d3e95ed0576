// The small parsers of the HTTP edge on their own: request targets (never
// throw, refuse what is not origin-form), percent-decoding, the client
// address rule of TRUST_PROXY, and the per-address token buckets.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { IncomingMessage } from 'node:http';
import { AddressLimiter } from '../../server/edges/http/addressLimiter.js';
import { clientAddress } from '../../server/edges/http/clientAddress.js';
import { decodePathPart, parseTarget } from '../../server/edges/http/requestTarget.js';

test('parseTarget: origin-form targets split into path and query; anything else is null, and nothing throws', () => {
  assert.equal(parseTarget('/live/r/index.m3u8?token=a%2Bb&x'), {
    pathname: '/live/r/index.m3u8',
    search: '?token=a%2Bb&x',
    searchParams: new URLSearchParams('token=a%2Bb&x'),
  });
  assert.is(parseTarget('/a#frag?no')!.pathname, '/a');
  assert.is(parseTarget('/a?')!.search, '');
  assert.is(parseTarget(undefined)!.pathname, '/');
  for (const bad of ['//', '//x:99999', '/\\x:99999', 'http://x/y', '*', '', 'x', '/a b', '/a\0', '/\u00e9', '/' + 'a'.repeat(9000)]) {
    assert.is(parseTarget(bad), null, JSON.stringify(bad.slice(0, 20)));
  }
  assert.is(parseTarget('/%')!.pathname, '/%', 'escapes are not decoded here');
});

test('decodePathPart: malformed escapes are null, not an exception', () => {
  assert.is(decodePathPart('a%20b'), 'a b');
  for (const bad of ['%', '%E0%A4%A', '%ZZ', '%C0']) assert.is(decodePathPart(bad), null, bad);
});

function req(remote: string | undefined, xff?: string | string[]): IncomingMessage {
  return { socket: { remoteAddress: remote }, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } } as unknown as IncomingMessage;
}

test('clientAddress: the socket without TRUST_PROXY; with N hops the N-th X-Forwarded-For entry from the right, else the socket', () => {
  assert.is(clientAddress(req('10.0.0.1', '1.2.3.4'), 0), '10.0.0.1', 'no proxy trusted: the header is ignored');
  assert.is(clientAddress(req('10.0.0.1', 'forged, 1.2.3.4'), 1), '1.2.3.4');
  assert.is(clientAddress(req('10.0.0.1', '9.9.9.9, 1.2.3.4, 10.0.0.2'), 2), '1.2.3.4');
  assert.is(clientAddress(req('10.0.0.1', ['9.9.9.9', '1.2.3.4']), 1), '1.2.3.4', 'repeated headers read as one list');
  assert.is(clientAddress(req('10.0.0.1', '1.2.3.4:5678'), 1), '1.2.3.4', 'a port is dropped');
  assert.is(clientAddress(req('10.0.0.1', '[2001:db8::1]:443'), 1), '2001:db8::1');
  assert.is(clientAddress(req('10.0.0.1', '2001:db8::2'), 1), '2001:db8::2');
  assert.is(clientAddress(req('10.0.0.1', 'not-an-ip'), 1), '10.0.0.1', 'garbage: the socket');
  assert.is(clientAddress(req('10.0.0.1', '1.2.3.4'), 2), '10.0.0.1', 'fewer hops than proxies: the socket');
  assert.is(clientAddress(req('10.0.0.1'), 1), '10.0.0.1', 'no header: the socket');
  assert.is(clientAddress(req(undefined), 0), null);
});

test('AddressLimiter: a burst, then Retry-After seconds until the bucket refills; addresses are independent; full buckets are forgotten', () => {
  const limiter = new AddressLimiter(2, 3);
  for (let i = 0; i < 3; i++) assert.is(limiter.take('a', 0), 0);
  assert.is(limiter.take('a', 0), 1, 'one token comes back in 0.5 s: retry after 1 s (whole seconds)');
  assert.is(limiter.take('b', 0), 0);
  assert.is(limiter.take('a', 600), 0, 'refilled');
  const slow = new AddressLimiter(0.1, 1);
  assert.is(slow.take('x', 0), 0);
  assert.is(slow.take('x', 0), 10);
  const many = new AddressLimiter(1000, 1);
  for (let i = 0; i < 10_000; i++) many.take(`k${i}`, 0);
  many.take('late', 10_000);
  assert.ok(many.size < 100, `refilled buckets swept (${many.size} left)`);
});

test.run();
