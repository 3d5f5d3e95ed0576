// Calls through the browser SDK's call API in real headless Chromium pages
// (fake camera and microphone) against a real server with one mediasoup
// worker: A calls B, B accepts, media goes peer-to-peer over loopback host
// candidates (nothing on the SFU); hold and DTMF; then C is invited into the
// call and joins, and all three move to the SFU by themselves while video
// keeps decoding (the switch's gap is measured and printed). Also decline and
// cancel through the API. Run inside a private network namespace: WebRTC stays on loopback.

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

/** What the page keeps on window.t (set up by clientPage). */
interface Harness {
  sb: {
    participantId: string | null;
    room: string | null;
    producers: Map<string, unknown>;
    remoteTracks: Map<string, { via: string; kind: string; participantId: string }>;
    call(to: string | string[], opts: { media: string }): Promise<PageCall>;
  };
  call: PageCall | null;
  incoming: PageCall[];
  log: string[];
  /** Decoded frames per remote participant: wall-clock time and how the track came. */
  frames: Record<string, Array<{ t: number; via: string }>>;
  tones: string[];
}

interface PageCall {
  id: string;
  status: string;
  mediaMode: string;
  endReason: string | null;
  remoteOnHold: boolean;
  peerConnection: RTCPeerConnection | null;
  accept(): Promise<void>;
  decline(reason?: string): Promise<void>;
  cancel(): Promise<void>;
  hangup(): Promise<void>;
  hold(): Promise<void>;
  unhold(): Promise<void>;
  sendDtmf(tones: string): Promise<string>;
  invite(users: string[]): Promise<string[]>;
  on(type: string, listener: (payload: Record<string, unknown>) => void): () => void;
}

const test = suite<Ctx>('browser calls', {} as Ctx);

test.before(async (ctx) => {
  prepareBrowserTests();
  ctx.srv = await startServer({ sfuWorkers: 1, env: { CALL_RING_SECONDS: '20', CALL_INVITES_PER_MINUTE: '600' } });
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

/** A page with a connected SDK client (window.t.sb), reachable for calls, that plays and counts what it receives. */
async function clientPage(ctx: Ctx, user: string): Promise<Page> {
  const page = await ctx.browser.newPage({ viewport: { width: 640, height: 480 } });
  ctx.pages.push(page);
  page.on('pageerror', (err) => console.error(`[${user}] page error:`, err));
  await page.goto(`${ctx.srv.url}/health`);
  const token = await ctx.srv.mint({ userId: user, name: user });
  await page.evaluate(
    async ({ url, token }) => {
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
      const sdk = await import('/app/switchboard.js' as string);
      const sb = new sdk.SwitchboardClient();
      const t = { sb, call: null, incoming: [], log: [], frames: {}, tones: [] } as unknown as Harness;
      (window as unknown as { t: Harness }).t = t;
      const watch = (call: PageCall) => {
        t.call = call;
        for (const type of [
          'call-accepted',
          'call-declined',
          'call-missed',
          'call-cancelled',
          'call-ended',
          'media-mode',
          'hold',
          'status',
        ]) {
          call.on(type, (p) => t.log.push(`${type} ${JSON.stringify(p)} @${Date.now()}`));
        }
      };
      sb.on('incoming-call', (call: PageCall) => {
        t.incoming.push(call);
        watch(call);
      });
      (window as unknown as { watch: (c: PageCall) => void }).watch = watch;
      sb.on('track-added', (remote: { participantId: string; kind: string; via: string; track: MediaStreamTrack }) => {
        if (remote.kind !== 'video') return;
        document.getElementById(`v-${remote.participantId}`)?.remove();
        const video = document.createElement('video');
        video.id = `v-${remote.participantId}`;
        video.muted = true;
        video.srcObject = new MediaStream([remote.track]);
        document.body.append(video);
        const frames = (t.frames[remote.participantId] ??= []);
        const tick = () => {
          frames.push({ t: Date.now(), via: remote.via });
          if (video.isConnected) video.requestVideoFrameCallback(tick);
        };
        video.requestVideoFrameCallback(tick);
        void video.play();
      });
      sb.on('track-removed', (remote: { participantId: string; track: MediaStreamTrack }) => {
        const video = document.getElementById(`v-${remote.participantId}`) as HTMLVideoElement | null;
        if (video && (video.srcObject as MediaStream | null)?.getTracks()[0] === remote.track) video.remove();
      });
      await sb.connect(url, token);
    },
    { url: `${ctx.srv.url.replace('http:', 'ws:')}/ws`, token },
  );
  return page;
}

function harness<T>(page: Page, fn: (t: Harness) => T | Promise<T>): Promise<T> {
  return page.evaluate<T>(`(${fn.toString()})(window.t)`);
}

async function placeCall(page: Page, to: string[], media: string): Promise<string> {
  return page.evaluate(
    async ({ to, media }) => {
      const w = window as unknown as { t: Harness; watch: (c: PageCall) => void };
      const call = await w.t.sb.call(to, { media });
      w.watch(call);
      return call.id;
    },
    { to, media },
  );
}

async function waitIncoming(page: Page, callId: string): Promise<void> {
  await page.waitForFunction((id) => (window as unknown as { t: Harness }).t.incoming.some((c) => c.id === id), callId, {
    timeout: 10_000,
  });
}

const frameCount = (page: Page, from: string, via?: string) =>
  page.evaluate(
    ({ from, via }) => ((window as unknown as { t: Harness }).t.frames[from] ?? []).filter((f) => !via || f.via === via).length,
    { from, via },
  );

/** The selected ICE candidate pair's local and remote candidate types. */
const selectedPair = (page: Page) =>
  harness(page, async (t) => {
    const pc = t.call?.peerConnection;
    if (!pc) return null;
    const stats: Array<Record<string, unknown>> = [];
    (await pc.getStats()).forEach((s: Record<string, unknown>) => stats.push(s));
    const transport = stats.find((s) => s['type'] === 'transport');
    const pair = stats.find((s) => s['id'] === transport?.['selectedCandidatePairId']);
    const local = stats.find((s) => s['id'] === pair?.['localCandidateId']);
    const remote = stats.find((s) => s['id'] === pair?.['remoteCandidateId']);
    return { local: local?.['candidateType'], remote: remote?.['candidateType'], address: local?.['address'] };
  });

/** Largest time without a decoded frame from `from` in [since, until], and the first SFU frame after `since`. */
const switchGap = (page: Page, from: string, since: number, until: number) =>
  page.evaluate(
    ({ from, since, until }) => {
      const frames = ((window as unknown as { t: Harness }).t.frames[from] ?? []).filter((f) => f.t >= since - 1000 && f.t <= until);
      let gap = 0;
      for (let i = 1; i < frames.length; i++) gap = Math.max(gap, frames[i].t - frames[i - 1].t);
      const firstSfu = frames.find((f) => f.via === 'sfu' && f.t >= since);
      return { gapMs: gap, firstSfuMs: firstSfu ? firstSfu.t - since : null };
    },
    { from, since, until },
  );

test('a 1:1 call goes peer-to-peer, holds, dials, then moves to the SFU when a third person joins', async (ctx) => {
  const [a, b, c] = await Promise.all([clientPage(ctx, 'p2p-alice'), clientPage(ctx, 'p2p-bob'), clientPage(ctx, 'p2p-carol')]);
  const callId = await placeCall(a, ['p2p-bob'], 'video');
  await waitIncoming(b, callId);
  await harness(b, (t) => t.incoming[0].accept());
  for (const page of [a, b]) {
    await page.waitForFunction(() => (window as unknown as { t: Harness }).t.call?.mediaMode === 'p2p', undefined, { timeout: 15_000 });
  }
  const ids = await Promise.all([a, b].map((p) => harness(p, (t) => t.sb.participantId ?? '')));
  const [aliceId, bobId] = ids as [string, string];
  await eventually(
    async () => (await frameCount(a, bobId, 'p2p')) > 10 && (await frameCount(b, aliceId, 'p2p')) > 10,
    15_000,
    'P2P video both ways',
  );

  // Peer-to-peer over loopback host candidates; nothing on the SFU.
  for (const page of [a, b]) {
    const pair = await selectedPair(page);
    assert.is(pair?.local, 'host');
    assert.is(pair?.remote, 'host');
    const sfu = await harness(page, (t) => ({
      producers: t.sb.producers.size,
      vias: [...t.sb.remoteTracks.values()].map((r) => r.via),
    }));
    assert.is(sfu.producers, 0, 'nobody publishes on the SFU');
    assert.ok(sfu.vias.length >= 2 && sfu.vias.every((v) => v === 'p2p'), `tracks ${sfu.vias.join(',')}`);
  }

  // Hold: Bob sees Alice on hold, Alice sends nothing; then unhold.
  await harness(a, (t) => t.call?.hold());
  await b.waitForFunction(() => (window as unknown as { t: Harness }).t.call?.remoteOnHold === true, undefined, { timeout: 5000 });
  const held = await harness(a, (t) => t.call?.peerConnection?.getSenders().map((s) => s.track) ?? []);
  assert.ok(held.length >= 2 && held.every((track) => track === null), 'a held call sends no tracks');
  await harness(a, (t) => t.call?.unhold());
  await b.waitForFunction(() => (window as unknown as { t: Harness }).t.call?.remoteOnHold === false, undefined, { timeout: 5000 });

  // DTMF on a P2P call: RFC 4733 events from the audio sender.
  const how = await harness(a, async (t) => {
    const sender = t.call?.peerConnection?.getSenders().find((s) => s.track?.kind === 'audio');
    sender?.dtmf?.addEventListener('tonechange', (e) => t.tones.push(e.tone));
    return t.call?.sendDtmf('12#');
  });
  assert.is(how, 'rtp');
  await eventually(() => harness(a, (t) => t.tones.join('')).then((s) => s.startsWith('12#')), 5000, 'the DTMF sender played 1, 2, #');

  // Carol is invited into the running call and joins: everyone moves to the SFU.
  await harness(a, (t) => t.call?.invite(['p2p-carol']));
  await waitIncoming(c, callId);
  const before = { a: await frameCount(a, bobId), b: await frameCount(b, aliceId) };
  const trigger = Date.now();
  await harness(c, (t) => t.incoming[0].accept());
  for (const page of [a, b, c]) {
    await page.waitForFunction(() => (window as unknown as { t: Harness }).t.call?.mediaMode === 'sfu', undefined, { timeout: 10_000 });
  }
  const carolId = await harness(c, (t) => t.sb.participantId ?? '');
  await eventually(
    async () => (await frameCount(a, bobId, 'sfu')) > 10 && (await frameCount(b, aliceId, 'sfu')) > 10,
    20_000,
    'Alice and Bob decode each other through the SFU',
  );
  await eventually(
    async () =>
      (await frameCount(c, aliceId, 'sfu')) > 10 && (await frameCount(c, bobId, 'sfu')) > 10 && (await frameCount(a, carolId, 'sfu')) > 10,
    20_000,
    'Carol decodes both, Alice decodes Carol',
  );
  const until = Date.now();
  assert.ok((await frameCount(a, bobId)) > before.a && (await frameCount(b, aliceId)) > before.b);
  for (const page of [a, b]) {
    const vias = await harness(page, (t) => [...t.sb.remoteTracks.values()].map((r) => r.via));
    assert.ok(vias.length >= 4 && vias.every((v) => v === 'sfu'), `after the switch: ${vias.join(',')}`);
    await page.waitForFunction(() => (window as unknown as { t: Harness }).t.call?.peerConnection === null, undefined, { timeout: 10_000 });
  }
  const atAlice = await switchGap(a, bobId, trigger, until);
  const atBob = await switchGap(b, aliceId, trigger, until);
  console.log(
    `  P2P -> SFU switch (third participant): Alice sees Bob's video with a largest gap of ${atAlice.gapMs} ms ` +
      `(first SFU frame ${atAlice.firstSfuMs} ms after Carol's accept); Bob sees Alice's: ${atBob.gapMs} ms (${atBob.firstSfuMs} ms)`,
  );
  assert.ok(atAlice.gapMs < 3000 && atBob.gapMs < 3000, 'the switch interrupts video for less than 3 s');

  // Bob hangs up: the group call goes on for Alice and Carol.
  await harness(b, (t) => t.call?.hangup());
  assert.is(await harness(b, (t) => t.call?.status), 'ended');
  assert.is(await harness(a, (t) => t.call?.status), 'active');
});

test('a broken peer-to-peer connection moves the call to the SFU on both sides', async (ctx) => {
  const [a, b] = await Promise.all([clientPage(ctx, 'ice-alice'), clientPage(ctx, 'ice-bob')]);
  const callId = await placeCall(a, ['ice-bob'], 'video');
  await waitIncoming(b, callId);
  await harness(b, (t) => t.incoming[0].accept());
  for (const page of [a, b]) {
    await page.waitForFunction(() => (window as unknown as { t: Harness }).t.call?.mediaMode === 'p2p', undefined, { timeout: 15_000 });
  }
  const [aliceId, bobId] = (await Promise.all([a, b].map((p) => harness(p, (t) => t.sb.participantId ?? '')))) as [string, string];
  await eventually(async () => (await frameCount(a, bobId, 'p2p')) > 5, 15_000, 'P2P video');
  // Bob's side of the connection dies without a word (as when a network path goes away): Alice receives
  // nothing for p2pStallMs (before ICE even notices) and moves; Bob follows when she publishes on the SFU.
  const broken = Date.now();
  await harness(b, (t) => t.call?.peerConnection?.close());
  for (const page of [a, b]) {
    await page.waitForFunction(() => (window as unknown as { t: Harness }).t.call?.mediaMode === 'sfu', undefined, { timeout: 15_000 });
  }
  const reasons = await Promise.all([a, b].map((p) => harness(p, (t) => t.log.filter((l) => l.startsWith('media-mode')).join(' '))));
  assert.match(reasons[0], /p2p-(media-stalled|ice-disconnected|ice-failed)/);
  assert.match(reasons[1], /sfu-publisher/);
  await eventually(
    async () => (await frameCount(a, bobId, 'sfu')) > 5 && (await frameCount(b, aliceId, 'sfu')) > 5,
    20_000,
    'video both ways through the SFU',
  );
  const gap = await switchGap(a, bobId, broken, Date.now());
  console.log(`  P2P -> SFU after a broken connection: Alice decodes Bob again ${gap.firstSfuMs} ms after the break`);
});

test('decline and cancel through the call API', async (ctx) => {
  const [a, b] = await Promise.all([clientPage(ctx, 'ring-alice'), clientPage(ctx, 'ring-bob')]);
  // Bob declines: Alice hears call-declined, then the call ends (declined) and she is out of its room.
  const first = await placeCall(a, ['ring-bob'], 'audio');
  await waitIncoming(b, first);
  await harness(b, (t) => t.incoming[0].decline());
  await a.waitForFunction(() => (window as unknown as { t: Harness }).t.call?.status === 'ended', undefined, { timeout: 5000 });
  const declined = await harness(a, (t) => ({ reason: t.call?.endReason, room: t.sb.room, log: t.log }));
  assert.is(declined.reason, 'declined');
  assert.is(declined.room, null);
  assert.ok(declined.log.some((l) => l.startsWith('call-declined')));
  assert.is(await harness(b, (t) => t.incoming[0].status), 'ended');

  // Alice cancels while it rings: Bob's ringing call hears call-cancelled and ends.
  const second = await placeCall(a, ['ring-bob'], 'audio');
  await waitIncoming(b, second);
  await harness(a, (t) => t.call?.cancel());
  await b.waitForFunction((id) => (window as unknown as { t: Harness }).t.incoming.find((c) => c.id === id)?.status === 'ended', second, {
    timeout: 5000,
  });
  const cancelled = await harness(b, (t) => ({ reason: t.incoming[1]?.endReason, log: t.log }));
  assert.is(cancelled.reason, 'cancelled');
  assert.ok(cancelled.log.some((l) => l.startsWith('call-cancelled')));
  assert.is(await harness(a, (t) => ({ status: t.call?.status, room: t.sb.room })).then((s) => `${s.status} ${s.room}`), 'ended null');
});

test('the demo: go online, call a user id, answer from the dialog, hold, dial, hang up', async (ctx) => {
  const open = async (user: string) => {
    const page = await ctx.browser.newPage({ viewport: { width: 1000, height: 800 } });
    ctx.pages.push(page);
    const token = await ctx.srv.mint({ userId: user, name: user });
    await page.goto(`${ctx.srv.url}/?token=${encodeURIComponent(token)}`);
    await page.getByRole('button', { name: 'Go online for calls' }).click();
    await page.getByText(`Online as ${user}`).waitFor({ timeout: 10_000 });
    return page;
  };
  const [a, b] = await Promise.all([open('demo-alice'), open('demo-bob')]);
  await a.getByLabel('User id to call').fill('demo-bob');
  await a.getByRole('button', { name: 'Call', exact: true }).click();
  await b.getByRole('dialog', { name: 'Incoming call' }).waitFor({ timeout: 10_000 });
  await b.getByRole('button', { name: 'Accept' }).click();
  for (const page of [a, b]) await page.getByRole('status').filter({ hasText: 'peer-to-peer' }).waitFor({ timeout: 15_000 });
  await a.getByRole('button', { name: 'Hold' }).click();
  await b.getByRole('status').filter({ hasText: 'put you on hold' }).waitFor({ timeout: 5000 });
  await a.getByRole('button', { name: 'Resume' }).click();
  await a.getByRole('button', { name: 'Dial 5' }).click();
  await a.getByText('DTMF sent: 5 (RFC 4733 in the audio)').waitFor({ state: 'attached', timeout: 5000 }); // in the collapsed event log
  assert.match((await a.locator('#call-timer').textContent()) ?? '', /^0:0\d$/);
  await b.getByRole('button', { name: 'Hang up' }).click();
  await a.getByRole('button', { name: 'Call', exact: true }).waitFor({ timeout: 5000 }); // back to the dial form
});

test.run();
