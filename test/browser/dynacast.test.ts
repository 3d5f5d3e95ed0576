// Dynacast in a real browser: a Chromium page publishes its simulcast camera
// with the SDK; when the only viewer asks for layer 0, the SDK makes the
// encodings r1 and r2 inactive and the browser stops sending them (their
// outbound-rtp bytesSent stops growing); when it asks for layer 2 they come
// back. (Simulcast works in Chromium, not in @roamhq/wrtc at these sizes.)
// Run inside a private network namespace (npm test does): WebRTC stays on loopback.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_FLAGS, prepareBrowserTests } from '../support/chromium.js';
import { eventually, sleep } from '../support/net.js';
import { startServer, type TestServer } from '../support/server.js';

interface Ctx {
  srv: TestServer;
  browser: Browser;
  pages: Page[];
}

const test = suite<Ctx>('browser dynacast', {} as Ctx);

test.before(async (ctx) => {
  prepareBrowserTests();
  ctx.srv = await startServer({ sfuWorkers: 1, env: { DYNACAST_LOWER_DELAY_MS: '500' } });
  ctx.browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
  ctx.pages = [];
});

test.after(async (ctx) => {
  await ctx.browser?.close().catch(() => {});
  await ctx.srv?.stop().catch(() => {});
});

/** A page with a connected, joined SDK client at window.sb and its `local-track-layers` events at window.layerLog. */
async function joinedPage(ctx: Ctx, user: string, room: string): Promise<Page> {
  const page = await ctx.browser.newPage({ viewport: { width: 800, height: 600 } });
  ctx.pages.push(page);
  await page.goto(`${ctx.srv.url}/health`);
  const token = await ctx.srv.mint({ userId: user, name: user });
  await page.evaluate(
    async ({ url, token, room }) => {
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
      const sdk = await import('/app/switchboard.js' as string);
      const client = new sdk.SwitchboardClient({});
      const w = window as unknown as { sb: unknown; layerLog: Array<number | null> };
      w.sb = client;
      w.layerLog = [];
      client.on('local-track-layers', (local: { maxSpatialLayer: number | null }) => w.layerLog.push(local.maxSpatialLayer));
      await client.connect(url, token);
      await client.join(room);
    },
    { url: `${ctx.srv.url.replace('http:', 'ws:')}/ws`, token, room },
  );
  return page;
}

interface Encoding {
  rid: string;
  active: boolean;
  bytesSent: number;
}

/** The camera sender's encodings: `active` as set on the RTCRtpSender, bytesSent from its outbound-rtp stats. */
function encodings(page: Page): Promise<Encoding[]> {
  return page.evaluate(async () => {
    type Producer = { rtpSender: RTCRtpSender };
    const sb = (window as unknown as { sb: { localTracks: Map<string, { producer: Producer | null }> } }).sb;
    const sender = sb.localTracks.get('camera')!.producer!.rtpSender;
    const bytes = new Map<string, number>();
    (await sender.getStats()).forEach((s: { type: string; rid?: string; bytesSent?: number }) => {
      if (s.type === 'outbound-rtp' && s.rid) bytes.set(s.rid, Number(s.bytesSent ?? 0));
    });
    return sender
      .getParameters()
      .encodings.map((e) => ({ rid: e.rid ?? '', active: e.active !== false, bytesSent: bytes.get(e.rid ?? '') ?? 0 }));
  });
}

/** Which rids' bytesSent grew over one second. */
async function sending(page: Page): Promise<Record<string, boolean>> {
  const before = await encodings(page);
  await sleep(1000);
  const after = await encodings(page);
  return Object.fromEntries(after.map((e, i) => [e.rid, e.bytesSent > (before[i]?.bytesSent ?? 0)]));
}

const layerLog = (page: Page) => page.evaluate(() => (window as unknown as { layerLog: Array<number | null> }).layerLog);

test('the publisher stops encoding the layers its only viewer does not take, and resumes them', async (ctx) => {
  const publisher = await joinedPage(ctx, 'dc-pub', 'dynacast');
  await publisher.evaluate(async () => {
    const sb = (window as unknown as { sb: { publish(o: unknown): Promise<unknown> } }).sb;
    await sb.publish({ video: { width: 1280, height: 720 } });
  });
  // Nobody watches yet: after the delay every encoding goes inactive.
  await eventually(async () => (await encodings(publisher)).every((e) => !e.active), 15_000, 'all encodings inactive without viewers');
  // The SDK's event follows once mediasoup-client has renegotiated (after the encodings changed).
  await eventually(async () => (await layerLog(publisher)).length === 1, 5_000, 'local-track-layers with null');
  assert.equal(await layerLog(publisher), [null]);

  const viewer = await joinedPage(ctx, 'dc-sub', 'dynacast');
  const producerId = await viewer.waitForFunction(
    () => {
      const sb = (window as unknown as { sb: { remoteTracks: Map<string, { kind: string; producerId: string }> } }).sb;
      return [...sb.remoteTracks.values()].find((r) => r.kind === 'video')?.producerId ?? false;
    },
    undefined,
    { timeout: 20_000 },
  );
  const id = (await producerId.jsonValue()) as string;
  // The viewer takes the top layer: everything is encoded and sent, r2 included (once the bandwidth estimate allows it).
  await eventually(async () => Object.values(await sending(publisher)).every(Boolean), 25_000, 'r0, r1 and r2 sent');

  const setLayer = (layer: number) =>
    viewer.evaluate(
      ({ id, layer }) =>
        (window as unknown as { sb: { setPreferredLayers(id: string, s: number): Promise<void> } }).sb.setPreferredLayers(id, layer),
      { id, layer },
    );
  await setLayer(0);
  await eventually(async () => (await encodings(publisher)).map((e) => e.active).join() === 'true,false,false', 10_000, 'only r0 active');
  await eventually(
    async () => {
      const s = await sending(publisher);
      return s['r0'] === true && s['r1'] === false && s['r2'] === false;
    },
    10_000,
    'r1 and r2 bytesSent stop growing while r0 keeps going',
  );
  // mediasoup scores the stopped streams 0; they do not make the publisher's connection look lost.
  const media = ctx.srv.app.rooms.getRoom('dynacast')!.media!;
  const publisherId = media.producerList().find((p) => p.producer_id === id)!.participant_id;
  const scores = async () => (await media.stats(publisherId, { producerId: id })) as Array<{ rid?: string; score: number }>;
  await eventually(async () => (await scores()).some((s) => s.rid === 'r2' && s.score === 0), 15_000, 'r2 scored 0');
  assert.is.not(media.qualityOf(publisherId), 'lost');

  await setLayer(2);
  await eventually(async () => (await encodings(publisher)).every((e) => e.active), 10_000, 'all encodings active again');
  await eventually(async () => (await sending(publisher))['r2'] === true, 25_000, 'r2 bytesSent grows again');
  await eventually(async () => (await layerLog(publisher)).length >= 4, 5_000, 'local-track-layers for each change');
  assert.equal(await layerLog(publisher), [null, 2, 0, 2]);
});

test.run();
