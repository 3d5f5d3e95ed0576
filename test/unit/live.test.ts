// The live-streaming pieces that need no media: signed playlist URLs, viewer
// counting, reaction batching, and parsing ffmpeg's HLS playlists.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parsePlaylist } from '../../recording/live/hlsPipeline.js';
import { HlsAccess } from '../../server/domain/live/hlsAccess.js';
import { ReactionTally } from '../../server/domain/live/reactionTally.js';
import { ViewerCounter } from '../../server/domain/live/viewerCounter.js';

test('signed URLs: valid for their room until they expire; forged, tampered or foreign ones are refused', () => {
  const access = new HlsAccess('signed', 'secret-0123456789abcdef', 60);
  const { token, expiresAt } = access.sign('r1', 'S1', 'alice');
  assert.ok(expiresAt > Date.now() / 1000);
  assert.equal(access.verify(token, 'r1'), { room: 'r1', streamId: 'S1', viewer: 'alice', expiresAt });
  assert.is(access.verify(token, 'r2'), null, 'another room');
  const [payload, mac] = token.split('.');
  const forged = Buffer.from(JSON.stringify({ r: 'r1', s: 'S1', v: 'mallory', e: expiresAt })).toString('base64url');
  assert.is(access.verify(`${forged}.${mac}`, 'r1'), null, 'tampered payload');
  // Change the mac's first character to another one (a fixed 'x' left it as it was when the mac began with 'x').
  assert.is(access.verify(`${payload}.${mac[0] === 'A' ? 'B' : 'A'}${mac.slice(1)}`, 'r1'), null, 'tampered mac');
  assert.is(new HlsAccess('signed', 'another-secret-0123456789', 60).verify(token, 'r1'), null, 'other key');
  assert.is(access.verify(access.sign('r1', 'S1', 'bob', -1).token, 'r1'), null, 'expired');
  for (const junk of ['', '.', 'abc', 'a.b.c', 'x'.repeat(5000)]) assert.is(access.verify(junk, 'r1'), null);
});

test('viewers: a user watching and playing counts once; players time out; peak and total', () => {
  const v = new ViewerCounter(10_000);
  v.watcherJoined('u:alice');
  v.watcherJoined('u:alice'); // second tab
  v.playerSeen('u:alice', 1000);
  v.playerSeen('v:tv', 1000);
  assert.is(v.current(2000), 2);
  v.watcherLeft('u:alice');
  assert.is(v.current(2000), 2, 'one tab is still open (and the player)');
  v.watcherLeft('u:alice');
  assert.is(v.current(5000), 2, 'the player still counts');
  assert.is(v.current(20_000), 0, 'players went quiet');
  v.playerSeen('ip:1.2.3.4', 20_000);
  assert.is(v.current(20_000), 1);
  assert.is(v.peak, 2);
  assert.is(v.total, 3);
});

test('reactions: counts since the last take, totals kept', () => {
  const t = new ReactionTally();
  assert.is(t.take(), null);
  t.add('heart');
  t.add('heart');
  t.add('fire');
  assert.equal(t.take(), { heart: 2, fire: 1 });
  assert.is(t.take(), null);
  t.add('sad');
  assert.equal(t.take(), { sad: 1 });
  assert.equal(t.totals, { heart: 2, fire: 1, sad: 1 });
});

test('parsePlaylist reads what ffmpeg writes', () => {
  const text =
    '#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXTINF:2.000000,\np0_00007.ts\n#EXTINF:1.960000,\np0_00008.ts\n#EXT-X-ENDLIST\n';
  assert.equal(parsePlaylist(text), {
    mediaSequence: 7,
    segments: [
      { duration: 2, uri: 'p0_00007.ts' },
      { duration: 1.96, uri: 'p0_00008.ts' },
    ],
  });
  assert.equal(parsePlaylist(''), { mediaSequence: 0, segments: [] });
});

test.run();
