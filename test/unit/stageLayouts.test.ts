// The demo stage's layouts (clients/browser/demo/layouts.ts): which tile is big,
// which are shown on a page and which are hidden (and so paused), and the
// simulcast layer a tile's width asks for.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { arrange, gridColumns, layerForWidth, type TileRef } from '../../clients/browser/demo/layouts.js';

const cam = (id: string, self = false): TileRef => ({ key: `${id}:camera`, participantId: id, kind: 'camera', self });
const screen = (id: string, self = false): TileRef => ({ key: `${id}:screen`, participantId: id, kind: 'screen', self });

test('grid: own tile first, pageSize a page, the rest hidden; the page is kept in range', () => {
  const tiles = [cam('b'), cam('me', true), cam('c'), cam('d'), cam('e')];
  const first = arrange(tiles, 'grid', null, 2, 0);
  assert.equal([first.layout, first.featured, first.pages, first.page], ['grid', null, 3, 0]);
  assert.equal(first.shown, ['me:camera', 'b:camera']);
  assert.equal(first.hidden, ['c:camera', 'd:camera', 'e:camera']);
  const last = arrange(tiles, 'grid', null, 2, 2);
  assert.equal(last.shown, ['e:camera']);
  assert.is(last.hidden.length, 4);
  // Someone left while on the last page: back to the last one there is.
  assert.is(arrange(tiles.slice(0, 3), 'grid', null, 2, 2).page, 1);
  assert.is(arrange(tiles, 'grid', null, 9, -1).page, 0);
});

test('speaker: the active speaker big (never oneself), else the first other person', () => {
  const tiles = [cam('me', true), cam('b'), cam('c')];
  assert.is(arrange(tiles, 'speaker', 'c', 9, 0).featured, 'c:camera');
  assert.equal(arrange(tiles, 'speaker', 'c', 9, 0).shown, ['me:camera', 'b:camera']);
  assert.is(arrange(tiles, 'speaker', 'me', 9, 0).featured, 'b:camera');
  assert.is(arrange(tiles, 'speaker', null, 9, 0).featured, 'b:camera');
  assert.is(arrange([cam('me', true)], 'speaker', null, 9, 0).featured, 'me:camera', 'alone: oneself');
  // A screen share stays a strip tile in the speaker layout.
  const withShare = arrange([...tiles, screen('b')], 'speaker', 'c', 9, 0);
  assert.equal([withShare.layout, withShare.featured], ['speaker', 'c:camera']);
});

test('auto: presenter while a screen is shared (someone else’s before one’s own), grid otherwise', () => {
  const tiles = [cam('me', true), cam('b'), screen('me', true), screen('b')];
  const a = arrange(tiles, 'auto', null, 9, 0);
  assert.equal([a.layout, a.featured], ['presenter', 'b:screen']);
  assert.ok(a.shown.includes('me:screen'));
  assert.is(arrange(tiles.slice(0, 3), 'auto', null, 9, 0).featured, 'me:screen');
  assert.is(arrange(tiles.slice(0, 2), 'auto', null, 9, 0).layout, 'grid');
  assert.is(arrange(tiles, 'grid', null, 9, 0).layout, 'grid', 'the grid when chosen, share or not');
});

test('layers by width and grid columns', () => {
  assert.equal([0, 319, 320, 639, 640, 1920].map(layerForWidth), [0, 0, 1, 1, 2, 2]);
  assert.equal(
    [1, 2, 4, 5, 9, 10].map((n) => gridColumns(n, false)),
    [1, 2, 2, 3, 3, 4],
  );
  assert.equal(
    [1, 2, 5].map((n) => gridColumns(n, true)),
    [1, 2, 2],
  );
});

test.run();
