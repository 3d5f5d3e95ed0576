// Cheap subscribers: plain-RTP (SRTP) consumers of every producer, each
// sending to a socket of a sink process (sinkProc.ts) that counts packets.

import { randomBytes } from 'node:crypto';
import type { Consumer, PlainTransport, RtpCapabilities } from 'mediasoup/types';
import type { PlainSubscriberOptions } from '../../sfu/plainSubscribers.js';
import type { Bench } from './bench.js';
import { r1, sleep } from './common.js';

export type SinkKind = 'read' | 'batch';

/** One plain-RTP consumer and the sink socket it sends to (shared by a subscriber's consumers with --plain-transports subscriber). */
export interface CheapConsumer {
  kind: 'audio' | 'video';
  ssrc: number;
  worker: number;
  proc: number;
  sinkIndex: number;
  port: number;
  transport: PlainTransport;
  consumer: Consumer;
}

/** A cheap subscriber: one consumer per producer. */
export type CheapSubscriber = CheapConsumer[];

/** Where cheap subscribers are made: a Switchboard MediaRoom, or the bare router of rawMediasoup.ts. */
export interface PlainTarget {
  readonly routerCount: number;
  createPlainSubscriber(producerIds: string[], opts: PlainSubscriberOptions): Promise<{ transport: PlainTransport; consumers: Consumer[] }>;
}

/** Router capabilities as a subscriber would offer them (optionally without transport-cc). */
export function subscriberCaps(routerCaps: RtpCapabilities, tcc: boolean): RtpCapabilities {
  if (tcc) return routerCaps;
  return {
    codecs: routerCaps.codecs?.map((c) => ({ ...c, rtcpFeedback: (c.rtcpFeedback ?? []).filter((f) => f.type !== 'transport-cc') })),
    headerExtensions: routerCaps.headerExtensions?.filter((h) => !h.uri.includes('transport-wide-cc')),
  };
}

/**
 * Adds cheap subscribers until there are `target`; each consumes every producer over plain RTP + SRTP.
 * `workerConsumers` counts consumers per worker (the worker a subscriber landed on is the one that grew).
 */
export async function addCheap(
  bench: Bench,
  media: PlainTarget,
  subs: CheapSubscriber[],
  target: number,
  producers: Record<string, string>,
  caps: RtpCapabilities,
  workerConsumers: () => number[] = () => bench.sfu.pool.slots.map((s) => s.consumers),
): Promise<{ added: number; ms_per_subscriber: number; new_routers: number; timed_out: boolean }> {
  const kinds = Object.keys(producers);
  const needSubs = target - subs.length;
  if (needSubs <= 0) return { added: 0, ms_per_subscriber: 0, new_routers: 0, timed_out: false };
  const shared = bench.o.plainTransports === 'subscriber';
  const need = shared ? needSubs : needSubs * kinds.length;
  // Sockets first (one per transport), spread round-robin over the sink processes.
  const perProc = bench.sinks.map((_, i) => Math.floor(need / bench.sinks.length) + (i < need % bench.sinks.length ? 1 : 0));
  const bases = bench.sinks.map((s) => s.sockets);
  const ports = await Promise.all(bench.sinks.map((s, i) => s.open(perProc[i], bench.o.sinkRcvbuf)));
  const routersBefore = media.routerCount;
  const start = performance.now();
  let next = 0;
  let added = 0;
  let timedOut = false;
  // One transport's worth of producers per request: all of them (subscriber) or one (consumer).
  const groups = shared ? [kinds] : kinds.map((k) => [k]);
  // One at a time: MediaRoom places consumers by router budget, and the
  // worker each lands on is read from the pool's counters around the call.
  for (let n = 0; n < needSubs; n++) {
    const sub: CheapSubscriber = [];
    for (const group of groups) {
      const proc = next % bench.sinks.length;
      const j = Math.floor(next / bench.sinks.length);
      next++;
      const port = ports[proc][j];
      const before = workerConsumers();
      const pending = media.createPlainSubscriber(
        group.map((k) => producers[k]),
        {
          ip: '127.0.0.1',
          port,
          rtpCapabilities: caps,
          srtp: { cryptoSuite: 'AES_CM_128_HMAC_SHA1_80', keyBase64: randomBytes(30).toString('base64') },
        },
      );
      // One request may itself never come back from a saturated worker: bound it by
      // what is left of the setup time (a late answer is closed when it arrives).
      const leftMs = Math.max(5_000, bench.o.maxSetupSeconds * 1000 - (performance.now() - start));
      const made = await Promise.race([pending, sleep(leftMs).then(() => null)]);
      if (!made) {
        void pending.then(
          ({ transport }) => transport.close(),
          () => {},
        );
        for (const c of sub) c.transport.close();
        timedOut = true;
        break;
      }
      const { transport, consumers } = made;
      const worker = workerConsumers().findIndex((c, i) => c > before[i]);
      group.forEach((kind, i) => {
        const consumer = consumers[i];
        sub.push({
          kind: kind as 'audio' | 'video',
          ssrc: consumer.rtpParameters.encodings?.[0]?.ssrc ?? 0,
          worker,
          proc,
          sinkIndex: bases[proc] + j,
          port,
          transport,
          consumer,
        });
      });
    }
    if (timedOut) break;
    subs.push(sub);
    added++;
    // A saturated worker answers control requests late (seconds each): stop adding, measure what there is.
    if (performance.now() - start > bench.o.maxSetupSeconds * 1000) {
      timedOut = true;
      break;
    }
  }
  const ms = performance.now() - start;
  return { added, ms_per_subscriber: r1(ms / Math.max(1, added)), new_routers: media.routerCount - routersBefore, timed_out: timedOut };
}
