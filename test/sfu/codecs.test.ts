// Video codecs beyond VP8 (media.test.ts) end to end with real libwebrtc
// peers. H264 and VP9 SVC are offered by the routers too, but the libwebrtc
// inside @roamhq/wrtc has no H264 and ignores scalabilityMode (it sends one
// spatial layer), so the browser test covers those with Chromium.

import * as assert from 'uvu/assert';
import { MediaBot } from '../../clients/node/mediaBot.js';
import { eventually } from '../support/net.js';
import { mediaBotSuite, type BotCtx } from '../support/bots.js';

const test = mediaBotSuite('sfu codecs');

async function bot(ctx: BotCtx, user: string, room: string) {
  const b = await MediaBot.join(ctx.srv.url, await ctx.srv.mint({ userId: user, role: 'speaker' }), room);
  ctx.bots.push(b);
  return b;
}

for (const codec of ['VP9'] as const) {
  test(`${codec}: published, forwarded and decoded by a subscriber`, async (ctx) => {
    const room = `codec-${codec}`;
    const pub = await bot(ctx, 'pub', room);
    const sub = await bot(ctx, 'sub', room);
    const producer = await pub.publishVideo({ codec });
    assert.is(producer.rtpParameters.codecs[0].mimeType.toLowerCase(), `video/${codec.toLowerCase()}`);
    await sub.signaling.next('producer-added');
    const track = await sub.consume(producer.id);
    assert.is(track.consumer.rtpParameters.codecs[0].mimeType.toLowerCase(), `video/${codec.toLowerCase()}`);
    await eventually(() => track.frames >= 15, 20_000, `${codec} frames decoded`);
    assert.is(track.lastWidth, 640);
    assert.is(track.lastHeight, 360);
  });
}

test.run();
