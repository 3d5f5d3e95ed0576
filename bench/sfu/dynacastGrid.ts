// The dynacast bench's participants: SDK clients in headless Chromium pages
// (several per page, each with its own fake camera), every one publishing a
// simulcast camera and receiving everyone else, then showing only a few
// tiles: the others paused, the shown ones at a grid tile's layer. Reads the
// publishers' outbound-rtp and the subscribers' inbound-rtp bytes.

import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_FLAGS } from '../../test/support/chromium.js';

export interface GridOptions {
  /** The server's http(s) URL (it serves the SDK at /app/switchboard.js). */
  url: string;
  room: string;
  /** One token per participant, in order. */
  tokens: string[];
  perPage: number;
  width: number;
  height: number;
  fps: number;
}

/** Bytes so far: each publisher's camera per rid, and what each subscriber received of video. */
export interface GridBytes {
  at: number;
  sent: Array<Record<string, number>>;
  /** Of `sent`, each publisher's retransmissions (RTX, including the bandwidth probes Chromium sends that way). */
  retransmitted: number[];
  received: number[];
}

// Chromium limits simulcast layers by resolution (2 at 640x360): this field trial lets the
// SDK's three encodings (scaleResolutionDownBy 4, 2, 1) all be sent at small sizes.
const FLAGS = [...CHROMIUM_FLAGS, '--force-fieldtrials=WebRTC-LegacySimulcastLayerLimit/Disabled/'];

type PageClient = {
  participantId: string | null;
  localTracks: Map<string, { producer: { rtpSender: RTCRtpSender } | null }>;
  remoteTracks: Map<string, { kind: string; producerId: string; participantId: string; receiver: RTCRtpReceiver | null }>;
  setSubscriptionPaused(id: string, paused: boolean): Promise<void>;
  setPreferredLayers(id: string, spatial: number): Promise<void>;
};
type GridWindow = { grid: PageClient[] };

export class Grid {
  private constructor(
    private readonly browser: Browser,
    private readonly pages: Page[],
    /** Participant ids, in token order. */
    readonly participantIds: string[],
  ) {}

  /** Launches Chromium, joins and publishes every participant (page by page); throws when one fails. */
  static async start(o: GridOptions, log: (msg: string) => void): Promise<Grid> {
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
    const pages: Page[] = [];
    const ids: string[] = [];
    try {
      for (let first = 0; first < o.tokens.length; first += o.perPage) {
        const page = await browser.newPage({ viewport: { width: 320, height: 240 } });
        pages.push(page);
        await page.goto(`${o.url}/health`);
        const tokens = o.tokens.slice(first, first + o.perPage);
        const joined = await page.evaluate(
          async ({ ws, room, tokens, width, height, fps }) => {
            // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
            const sdk = await import('/app/switchboard.js' as string);
            const w = window as unknown as GridWindow;
            w.grid = [];
            const ids: string[] = [];
            for (const token of tokens) {
              const client = new sdk.SwitchboardClient({});
              await client.connect(ws, token);
              await client.join(room);
              await client.publish({ video: { width, height, frameRate: fps } });
              w.grid.push(client);
              ids.push(client.participantId);
            }
            return ids;
          },
          { ws: `${o.url.replace(/^http/, 'ws')}/ws`, room: o.room, tokens, width: o.width, height: o.height, fps: o.fps },
        );
        ids.push(...joined);
        log(`page ${pages.length}: ${ids.length}/${o.tokens.length} participants publishing`);
      }
    } catch (err) {
      await browser.close().catch(() => {});
      throw err;
    }
    return new Grid(browser, pages, ids);
  }

  /** Waits until every participant receives everyone else's camera. */
  async waitSubscribed(timeoutMs: number): Promise<void> {
    const others = this.participantIds.length - 1;
    for (const page of this.pages) {
      await page.waitForFunction(
        (n) =>
          (window as unknown as GridWindow).grid.every((c) => [...c.remoteTracks.values()].filter((r) => r.kind === 'video').length >= n),
        others,
        { timeout: timeoutMs, polling: 250 },
      );
    }
  }

  /**
   * Each participant i shows the cameras of the next `visible` participants
   * (i+1 ... i+visible, wrapping), so every camera is shown by `visible`
   * subscribers: those at `layer`, the rest paused.
   */
  async showTiles(visible: number, layer: number): Promise<void> {
    const ids = this.participantIds;
    let index = 0;
    for (const page of this.pages) {
      const count = await page.evaluate(() => (window as unknown as GridWindow).grid.length);
      const views = Array.from({ length: count }, (_, k) => {
        const i = index + k;
        return Array.from({ length: visible }, (_, v) => ids[(i + 1 + v) % ids.length]).filter((id) => id !== ids[i]);
      });
      index += count;
      await page.evaluate(
        async ({ views, layer }) => {
          const grid = (window as unknown as GridWindow).grid;
          await Promise.all(
            grid.map(async (client, k) => {
              for (const r of client.remoteTracks.values()) {
                if (r.kind !== 'video') continue;
                const shown = views[k].includes(r.participantId);
                if (shown) await client.setPreferredLayers(r.producerId, layer);
                await client.setSubscriptionPaused(r.producerId, !shown);
              }
            }),
          );
        },
        { views, layer },
      );
    }
  }

  async bytes(): Promise<GridBytes> {
    const sent: GridBytes['sent'] = [];
    const retransmitted: number[] = [];
    const received: number[] = [];
    for (const page of this.pages) {
      const part = await page.evaluate(async () => {
        const grid = (window as unknown as GridWindow).grid;
        return Promise.all(
          grid.map(async (client) => {
            const byRid: Record<string, number> = {};
            let rtx = 0;
            const sender = client.localTracks.get('camera')?.producer?.rtpSender;
            (await sender?.getStats())?.forEach(
              (s: { type: string; rid?: string; bytesSent?: number; retransmittedBytesSent?: number }) => {
                if (s.type !== 'outbound-rtp') return;
                byRid[s.rid ?? 'single'] = Number(s.bytesSent ?? 0);
                rtx += Number(s.retransmittedBytesSent ?? 0);
              },
            );
            let got = 0;
            for (const r of client.remoteTracks.values()) {
              if (r.kind !== 'video' || !r.receiver) continue;
              (await r.receiver.getStats()).forEach((s: { type: string; bytesReceived?: number }) => {
                if (s.type === 'inbound-rtp') got += Number(s.bytesReceived ?? 0);
              });
            }
            return { byRid, rtx, got };
          }),
        );
      });
      for (const p of part) {
        sent.push(p.byRid);
        retransmitted.push(p.rtx);
        received.push(p.got);
      }
    }
    return { at: Date.now(), sent, retransmitted, received };
  }

  async close(): Promise<void> {
    await this.browser.close().catch(() => {});
  }
}
