// The anchors a fan-out room is measured against in the same run (--baseline):
// raw mediasoup (rawMediasoup.ts) and Janus (janus.ts). Each is a "side" with
// its own publisher process, subscribers into the same sink processes, a way
// to stop forwarding while another side is measured, and its own CPU reading.

import type { RtpCapabilities } from 'mediasoup/types';
import type { Analysis } from './analysis.js';
import type { Bench } from './bench.js';
import { r4 } from './common.js';
import { JanusRoom } from './janus.js';
import type { PublisherCounters } from './publisher.js';
import type { WorkerUsage } from './sampling.js';
import { subscriberCaps, type addCheap, type CheapSubscriber, type PlainTarget } from './subscribers.js';

export type AnchorName = 'raw' | 'janus';
export const ANCHOR_LABEL: Record<AnchorName, string> = { raw: 'raw mediasoup', janus: 'Janus' };

/** What the box did besides us in a window (bench/shared/boxload.ts), and whether that was too much. */
export type BoxFields = { box: import('../shared/boxload.js').BoxLoad; contended: boolean };

/** An anchor's window at one step. */
export type AnchorStepRecord = { subscribers: number; consumers: number; setup: Awaited<ReturnType<typeof addCheap>> } & Analysis &
  BoxFields;

/** Switchboard against an anchor at one step. */
export interface Versus {
  /** switchboard / anchor of forwarded packets per worker-CPU-second: 1 = as cheap as the anchor. */
  packets_per_worker_cpu_s: number | null;
  /** switchboard / anchor of the delivered share, (1 - loss) / (1 - loss): below 1 = we lose more. */
  delivered: number | null;
  loss: { switchboard: number; anchor: number };
  worker_cpu_pct: { switchboard: number; anchor: number };
  /** Either window was contended: the ratio is not trusted. */
  contended: boolean;
}

export function versus(sb: Analysis & BoxFields, anchor: Analysis & BoxFields): Versus {
  const p = sb.packets_per_worker_cpu_s;
  const q = anchor.packets_per_worker_cpu_s;
  return {
    packets_per_worker_cpu_s: p !== null && q !== null && q > 0 ? r4(p / q) : null,
    delivered: anchor.loss < 1 ? r4((1 - sb.loss) / (1 - anchor.loss)) : null,
    loss: { switchboard: sb.loss, anchor: anchor.loss },
    worker_cpu_pct: { switchboard: sb.cpu_pct.workers, anchor: anchor.cpu_pct.workers },
    contended: sb.contended || anchor.contended,
  };
}

/** One anchor in one fan-out room. */
export interface AnchorSide {
  name: AnchorName;
  target: PlainTarget & { consumerCount: number; producers: Record<string, string> };
  caps: RtpCapabilities;
  subs: CheapSubscriber[];
  /** Still measured (false once it lost more than --stop-loss). */
  on: boolean;
  setPaused(paused: boolean): Promise<void>;
  counters(): Promise<PublisherCounters>;
  usage: WorkerUsage;
  close(): Promise<void>;
}

/** Opens every anchor of --baseline for a fan-out room (each with its own publisher, paused). */
export async function openAnchors(bench: Bench, mode: 'video' | 'audio'): Promise<AnchorSide[]> {
  const { width, height, fps, videoKbps: kbps, publisherBwe: bwe, tcc } = bench.o;
  const pubOpts = { video: mode === 'video', width, height, fps, kbps, bwe };
  const sides: AnchorSide[] = [];
  if (bench.raw) {
    const raw = bench.raw;
    const room = await raw.room(pubOpts);
    await room.setPaused(true);
    sides.push({
      name: 'raw',
      target: room,
      caps: subscriberCaps(room.router.rtpCapabilities, tcc),
      subs: [],
      on: true,
      setPaused: (p) => room.setPaused(p),
      counters: () => room.counters(),
      usage: () => raw.usage(),
      close: async () => {
        await room.unpublish();
        room.close();
      },
    });
  }
  if (bench.janus) {
    const janus = bench.janus;
    const room = await JanusRoom.open(janus, { ...pubOpts, tcc });
    await room.setPaused(true);
    sides.push({
      name: 'janus',
      target: room,
      caps: {}, // forwarders negotiate nothing: plain SRTP to the sink
      subs: [],
      on: true,
      setPaused: (p) => room.setPaused(p),
      counters: () => room.counters(),
      usage: () => Promise.resolve(janus.usage()),
      close: () => room.close(),
    });
  }
  return sides;
}
