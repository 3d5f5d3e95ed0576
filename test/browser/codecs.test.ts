// H264 and VP9 SVC between two real Chromium pages through the SFU (the
// libwebrtc in @roamhq/wrtc has neither H264 nor VP9 spatial layers). Each
// page loads the SDK the server serves and publishes with ClientOptions.videoCodec;
// the other page receives, decodes and, for SVC, switches spatial layers.
// Run inside a private network namespace (npm test does): WebRTC stays on loopback.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_FLAGS, prepareBrowserTests } from '../support/chromium.js';
import { eventually } from '../support/net.js';
import { startServer, type TestServer } from '../support/server.js';

interface Ctx {
  srv: TestServer;
  browser: Browser;
  pages: Page[];
}

const test = suite<Ctx>('browser codecs', {} as Ctx);

test.before(async (ctx) => {
  prepareBrowserTests();
  ctx.srv = await startServer({ sfuWorkers: 1 });
  ctx.browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
  ctx.pages = [];
});

test.after(async (ctx) => {
  await ctx.browser?.close().catch(() => {});
  await ctx.srv?.stop().catch(() => {});
});

test.after.each(async (ctx) => {
  for (const page of ctx.pages) await page.close().catch(() => {});
  ctx.pages = [];
});

/** A page on the server's origin with a connected, joined SDK client at window.sb. */
async function joinedPage(ctx: Ctx, user: string, room: string, videoCodec: string | null): Promise<Page> {
  const page = await ctx.browser.newPage({ viewport: { width: 800, height: 600 } });
  ctx.pages.push(page);
  await page.goto(`${ctx.srv.url}/health`);
  const token = await ctx.srv.mint({ userId: user, name: user });
  await page.evaluate(
    async ({ url, token, room, videoCodec }) => {
      // The SDK bundle the page loads; `as string` keeps TypeScript from resolving it here.
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
      const sdk = await import('/app/switchboard.js' as string);
      const client = new sdk.SwitchboardClient(videoCodec ? { videoCodec } : {});
      (window as unknown as { sb: unknown }).sb = client;
      await client.connect(url, token);
      await client.join(room);
    },
    { url: `${ctx.srv.url.replace('http:', 'ws:')}/ws`, token, room, videoCodec },
  );
  return page;
}

/** Plays the first remote video track in a <video>; resolves with its producer id. */
async function playRemoteVideo(page: Page): Promise<string> {
  await page.waitForFunction(
    () => {
      const sb = (window as unknown as { sb: { remoteTracks: Map<string, { kind: string }> } }).sb;
      return [...sb.remoteTracks.values()].some((r) => r.kind === 'video');
    },
    undefined,
    { timeout: 20_000 },
  );
  return page.evaluate(() => {
    const sb = (window as unknown as { sb: { remoteTracks: Map<string, { kind: string; producerId: string; track: MediaStreamTrack }> } })
      .sb;
    const remote = [...sb.remoteTracks.values()].find((r) => r.kind === 'video')!;
    const video = document.createElement('video');
    video.id = 'remote';
    video.muted = true;
    video.srcObject = new MediaStream([remote.track]);
    document.body.append(video);
    void video.play();
    return remote.producerId;
  });
}

function decoded(page: Page): Promise<{ frames: number; width: number; codec: string }> {
  return page.evaluate(async () => {
    const video = document.querySelector<HTMLVideoElement>('#remote')!;
    const sb = (
      window as unknown as {
        sb: { remoteTracks: Map<string, { kind: string; consumer: { getStats(): Promise<Map<string, Record<string, unknown>>> } }> };
      }
    ).sb;
    const remote = [...sb.remoteTracks.values()].find((r) => r.kind === 'video')!;
    const stats = await remote.consumer.getStats();
    let codec = '';
    for (const s of stats.values()) {
      if (s['type'] === 'inbound-rtp' && s['codecId']) codec = String(stats.get(String(s['codecId']))?.['mimeType'] ?? '');
    }
    return { frames: video.getVideoPlaybackQuality().totalVideoFrames, width: video.videoWidth, codec };
  });
}

test('H264: one page publishes H264, the other decodes it', async (ctx) => {
  const publisher = await joinedPage(ctx, 'h264-pub', 'codec-h264', 'H264');
  const viewer = await joinedPage(ctx, 'h264-sub', 'codec-h264', null);
  const mime = await publisher.evaluate(async () => {
    const sb = (
      window as unknown as {
        sb: { publish(o: unknown): Promise<Array<{ producer: { rtpParameters: { codecs: Array<{ mimeType: string }> } } }>> };
      }
    ).sb;
    const [local] = await sb.publish({ video: true });
    return local.producer.rtpParameters.codecs[0].mimeType;
  });
  assert.is(mime.toLowerCase(), 'video/h264');
  await playRemoteVideo(viewer);
  await eventually(async () => (await decoded(viewer)).frames > 20, 20_000, 'the viewer decodes 20 H264 frames');
  assert.is((await decoded(viewer)).codec.toLowerCase(), 'video/h264');
});

test('VP9 SVC: the viewer switches spatial layers and the decoded size follows', async (ctx) => {
  const publisher = await joinedPage(ctx, 'svc-pub', 'codec-svc', 'VP9');
  const viewer = await joinedPage(ctx, 'svc-sub', 'codec-svc', null);
  const mode = await publisher.evaluate(async () => {
    const sb = (
      window as unknown as {
        sb: { publish(o: unknown): Promise<Array<{ producer: { rtpParameters: { encodings: Array<{ scalabilityMode?: string }> } } }>> };
      }
    ).sb;
    const [local] = await sb.publish({ video: { width: 1280, height: 720 } });
    return local.producer.rtpParameters.encodings[0].scalabilityMode;
  });
  assert.is(mode, 'L3T3_KEY');
  const producerId = await playRemoteVideo(viewer);
  await eventually(async () => (await decoded(viewer)).frames > 10, 20_000, 'the viewer decodes VP9');
  assert.is((await decoded(viewer)).codec.toLowerCase(), 'video/vp9');
  const setLayer = (layer: number) =>
    viewer.evaluate(
      ({ id, layer }) =>
        (window as unknown as { sb: { setPreferredLayers(id: string, s: number): Promise<void> } }).sb.setPreferredLayers(id, layer),
      { id: producerId, layer },
    );
  await setLayer(0);
  let low = 0;
  await eventually(
    async () => {
      low = (await decoded(viewer)).width;
      return low > 0 && low <= 400;
    },
    20_000,
    'lowest spatial layer (a quarter of the width)',
  );
  await setLayer(2);
  await eventually(async () => (await decoded(viewer)).width >= low * 3, 30_000, 'top spatial layer (full width)');
});

test.run();
