// The SFU bench's measurements: a fan-out room measured at increasing
// subscriber counts, and a room of real WebRTC subscribers.

import type { MediaBot, ReceivedTrack } from '../../clients/node/mediaBot.js';
import { analyseCheap, sustained, type Analysis } from './analysis.js';
import type { Bench } from './bench.js';
import { k, log, pct, quantile, r1, r4, sleep } from './common.js';
import type { PublisherStats } from './publisher.js';
import { loadBetween, sampleLoad, type BoxLoad } from '../shared/boxload.js';
import { publisherCounters, snapshot, type PublisherCounters, type Snapshot, type WorkerUsage } from './sampling.js';
import { ANCHOR_LABEL, openAnchors, versus, type AnchorName, type AnchorStepRecord, type BoxFields, type Versus } from './anchors.js';
import { addCheap, subscriberCaps, type CheapSubscriber, type SinkKind } from './subscribers.js';

/** One measuring window: the two readings and what the rest of the box did meanwhile. */
interface Window {
  a: Snapshot;
  b: Snapshot;
  box: BoxLoad;
  contended: boolean;
}

/** One step of a fan-out room: N subscribers measured over one window. */
export type StepRecord = {
  subscribers: number;
  consumers: number;
  routers: number;
  layout: ReturnType<Bench['routerLayout']>;
  setup: Awaited<ReturnType<typeof addCheap>>;
} & Analysis &
  BoxFields & {
    publisher_sender: PublisherStats[];
    /** --baseline raw: the same step through mediasoup alone (null once raw lost more than --stop-loss). */
    raw?: AnchorStepRecord | null;
    /** switchboard / raw for this step (null without a raw window). */
    vs_raw?: Versus | null;
    /** --baseline janus: the same step through Janus (VideoRoom, RTP forwarders). */
    janus?: AnchorStepRecord | null;
    vs_janus?: Versus | null;
    /** The order the sides were measured in at this step (it rotates by step). */
    order?: Array<'switchboard' | AnchorName>;
    /** Measuring attempts of this step (a contended round is repeated, see --retries). */
    attempts?: number;
  };

/** A fan-out room's part of the record (fields in the order they are filled). */
export interface FanoutRecord {
  mode: 'video' | 'audio';
  sink: SinkKind;
  room: string;
  steps: StepRecord[];
  baseline?: Pick<Analysis, 'publisher' | 'cpu_pct'>;
  /** --baseline: each anchor's publisher alone. */
  anchor_baselines?: Partial<Record<AnchorName, Pick<Analysis, 'publisher' | 'cpu_pct'>>>;
  max_subscribers_under_1pct_loss?: number;
  consumer_check?: Array<{ kind: 'audio' | 'video'; worker: number; sfu_sent: number | null; sink_received: number }>;
}

/** Reads everything at the start and end of `seconds`, with the box's other load over the same span. */
async function measure(bench: Bench, counters: () => Promise<PublisherCounters>, seconds: number, workers?: WorkerUsage): Promise<Window> {
  const l0 = sampleLoad();
  const a = await snapshot(bench, counters, workers);
  await sleep(seconds * 1000);
  const b = await snapshot(bench, counters, workers);
  const box = loadBetween(l0, sampleLoad());
  return { a, b, box, contended: box.other_pct > bench.o.contendedPct };
}

const stepLine = (m: Analysis & BoxFields) =>
  `forwarded ${k(m.forwarded_pps)}/${k(m.expected_pps)} pkt/s, loss ${pct(m.loss)} (vs publisher ${pct(m.loss_vs_publisher)}), ` +
  `${m.packets_per_worker_cpu_s === null ? '-' : k(m.packets_per_worker_cpu_s)} pkt per worker-cpu-s, ` +
  `workers ${m.workers.map((w) => `${w.cpu_pct}%`).join('+')} (loss ${m.workers.map((w) => pct(w.loss)).join('/')}), sinks ${m.cpu_pct.sinks}%, main ${m.cpu_pct.main_process}%, ` +
  `other load on the box ${m.box.other_pct}%${m.contended ? ' [CONTENDED]' : ''}, ` +
  `worker socket drops ${m.drops.worker_socket_drops}, sink drops ${m.drops.sink_socket_drops}; `;

const publisherLine = (p: Analysis['publisher']) =>
  Object.entries(p)
    .map(([kk, x]) => `${kk} ${x.packets_per_s} pkt/s ${x.kbps} kbps`)
    .join(', ');

/**
 * A fan-out room: publisher + increasing numbers of cheap subscribers. With
 * --baseline, each anchor (anchors.ts) has a room with its own publisher
 * beside it; only one side forwards at a time (the others are paused), and
 * each step measures every side back to back in an order that rotates by step
 * (Switchboard first at step 0, the next side first at step 1, ...), so a slow
 * drift of the box weighs on all alike.
 */
export async function fanout(bench: Bench, mode: 'video' | 'audio', sink: SinkKind, steps: number[], into: FanoutRecord[]): Promise<void> {
  const room = `bench-${mode}-${sink}`;
  log(`${mode}/${sink}: publisher joins ${room}`);
  const pub = await bench.publish(room, mode === 'video');
  const producers = pub.producers;
  const media = bench.media(room);
  const caps = subscriberCaps(await media.rtpCapabilities(), bench.o.tcc);
  const pubCounters = () => publisherCounters(media, pub);
  const anchors = await openAnchors(bench, mode);
  for (const x of anchors)
    log(`${mode}/${sink}: ${ANCHOR_LABEL[x.name]} baseline room with its own publisher, paused while another side forwards`);
  /** Only `who` forwards: every other side's producers are paused (a paused producer forwards nothing). */
  const activate = async (who: 'switchboard' | AnchorName) => {
    if (anchors.length === 0) return;
    for (const x of anchors) if (x.name !== who) await x.setPaused(true);
    const sbPaused = who !== 'switchboard';
    await Promise.all(Object.values(producers).map((id) => media.setProducerPaused(pub.participantId, id, sbPaused)));
    for (const x of anchors) if (x.name === who) await x.setPaused(false);
  };
  await activate('switchboard');
  await sleep(bench.o.warmup * 1000);
  const subs: CheapSubscriber[] = [];
  const out: FanoutRecord = { mode, sink, room, steps: [] };
  into.push(out); // partial results survive an interrupt
  await Promise.all(bench.sinks.map((s) => s.batch(sink === 'batch' ? bench.o.batchMs : 0)));

  // N = 0: each publisher alone, for its rate and the workers' base cost.
  const baseSeconds = Math.min(bench.o.duration, 10);
  let w = await measure(bench, pubCounters, baseSeconds);
  const base = analyseCheap(w.a, w.b, subs, sink);
  out.baseline = { publisher: base.publisher, cpu_pct: base.cpu_pct };
  log(`${mode}/${sink}: publisher alone: ${publisherLine(base.publisher)}; workers ${base.cpu_pct.workers}% cpu`);
  if (anchors.length) out.anchor_baselines = {};
  for (const x of anchors) {
    await activate(x.name);
    await sleep(bench.o.warmup * 1000); // its publisher's first forwarding: the same warm-up as Switchboard's
    w = await measure(bench, x.counters, baseSeconds, x.usage);
    const m = analyseCheap(w.a, w.b, x.subs, sink);
    out.anchor_baselines![x.name] = { publisher: m.publisher, cpu_pct: m.cpu_pct };
    log(`${mode}/${sink}: ${ANCHOR_LABEL[x.name]} publisher alone: ${publisherLine(m.publisher)}; its worker ${m.cpu_pct.workers}% cpu`);
  }

  for (const [index, target] of steps.entries()) {
    if (bench.workerDied) break;
    const sides: Array<'switchboard' | AnchorName> = ['switchboard', ...anchors.filter((x) => x.on).map((x) => x.name)];
    const order = sides.map((_, i) => sides[(i + index) % sides.length]);
    let n = target;
    let add: StepRecord['setup'] | null = null;
    const anchorAdd = new Map<AnchorName, StepRecord['setup']>();
    let best: { sb: Analysis & BoxFields; anchors: Map<AnchorName, Analysis & BoxFields> } | null = null;
    let worst = Infinity;
    let attempts = 0;
    for (;;) {
      attempts++;
      let sb: (Analysis & BoxFields) | null = null;
      const round = new Map<AnchorName, Analysis & BoxFields>();
      for (const who of order) {
        await activate(who);
        if (who === 'switchboard') {
          if (!add) {
            add = await addCheap(bench, media, subs, n, producers, caps);
            if (add.timed_out)
              log(
                `${mode}/${sink}: adding subscribers took over ${bench.o.maxSetupSeconds} s (the worker answers late): measuring N=${subs.length} instead of ${n}, then stopping`,
              );
            n = subs.length;
            log(
              `${mode}/${sink} N=${n}: +${add.added} subscribers (${add.ms_per_subscriber} ms each), routers ${media.routerCount}: ${JSON.stringify(bench.routerLayout())}`,
            );
          }
          await sleep(bench.o.settle * 1000);
          w = await measure(bench, pubCounters, bench.o.duration);
          sb = { ...analyseCheap(w.a, w.b, subs, sink), box: w.box, contended: w.contended };
        } else {
          const x = anchors.find((y) => y.name === who)!;
          if (!anchorAdd.has(who)) {
            const t = x.target;
            const added = await addCheap(bench, t, x.subs, n, t.producers, x.caps, () => [t.consumerCount]);
            anchorAdd.set(who, added);
            log(`${mode}/${sink} N=${n} ${ANCHOR_LABEL[who]}: +${added.added} subscribers (${added.ms_per_subscriber} ms each)`);
          }
          await sleep(bench.o.settle * 1000);
          w = await measure(bench, x.counters, bench.o.duration, x.usage);
          round.set(who, { ...analyseCheap(w.a, w.b, x.subs, sink), box: w.box, contended: w.contended });
        }
      }
      // Keep the least contended round: the one whose busiest window had the least other load.
      const other = Math.max(sb!.box.other_pct, ...[...round.values()].map((m) => m.box.other_pct));
      if (other < worst) {
        worst = other;
        best = { sb: sb!, anchors: round };
      }
      const contended = best!.sb.contended || [...best!.anchors.values()].some((m) => m.contended);
      if (!contended || attempts > bench.o.retries || bench.workerDied) break;
      log(`${mode}/${sink} N=${n}: contended (other load up to ${other}% of a core): measuring again`);
    }
    const m = best!.sb;
    const sender = await pub.stats().catch(() => []);
    const step: StepRecord = {
      subscribers: n,
      consumers: subs.length * Object.keys(producers).length,
      routers: media.routerCount,
      layout: bench.routerLayout(),
      setup: add!,
      ...m,
      publisher_sender: sender,
    };
    for (const x of anchors) {
      const r = best!.anchors.get(x.name);
      const rec: AnchorStepRecord | null = r
        ? {
            subscribers: x.subs.length,
            consumers: x.subs.length * Object.keys(x.target.producers).length,
            setup: anchorAdd.get(x.name)!,
            ...r,
          }
        : null;
      if (x.name === 'raw') {
        step.raw = rec;
        step.vs_raw = r ? versus(m, r) : null;
      } else {
        step.janus = rec;
        step.vs_janus = r ? versus(m, r) : null;
      }
    }
    if (anchors.length) {
      step.order = order;
      step.attempts = attempts;
    }
    out.steps.push(step);
    log(
      `${mode}/${sink} N=${n}: ${stepLine(m)}` +
        `${sender
          .filter((x) => x.kind === 'video')
          .map((x) => `camera ${x.frameWidth}x${x.frameHeight}@${x.framesPerSecond} (${x.qualityLimitationReason}) `)
          .join('')}publisher ${Object.entries(m.publisher)
          .map(([kk, p]) => `${kk} ${p.packets_per_s} pkt/s ${p.kbps} kbps (sent ${p.sent_packets_per_s})`)
          .join(', ')}`,
    );
    for (const x of anchors) {
      const r = best!.anchors.get(x.name);
      if (!r) continue;
      const v = versus(m, r);
      log(
        `${mode}/${sink} N=${n} ${ANCHOR_LABEL[x.name]}: ${stepLine(r)}publisher ${publisherLine(r.publisher)}; ` +
          `switchboard/${x.name} ${v.packets_per_worker_cpu_s ?? '-'} per worker-cpu-s, delivered ${v.delivered ?? '-'}${v.contended ? ' [CONTENDED]' : ''}`,
      );
      if (r.loss > bench.o.stopLoss) {
        log(`${mode}/${sink}: ${ANCHOR_LABEL[x.name]} loss ${pct(r.loss)} > ${pct(bench.o.stopLoss)}: no larger ${x.name} steps`);
        x.on = false;
        await x.setPaused(true);
        for (const s of x.subs.splice(0)) for (const c of s) c.transport.close();
      }
    }
    if (add!.timed_out) break;
    if (m.loss > bench.o.stopLoss) {
      log(`${mode}/${sink}: loss ${pct(m.loss)} > ${pct(bench.o.stopLoss)}: no larger steps`);
      break;
    }
  }
  await activate('switchboard');
  const passing = out.steps.filter(sustained).map((s) => s.subscribers);
  out.max_subscribers_under_1pct_loss = passing.length ? Math.max(...passing) : 0;

  {
    // Sanity: what a few consumers say they sent, against what their sinks got (whole run).
    const sample = subs.slice(0, 2).flat();
    const snap = await Promise.all(bench.sinks.map((s) => s.snapshot()));
    out.consumer_check = await Promise.all(
      sample.map(async (c) => {
        const stats = (await c.consumer.getStats()) as Array<{ type: string; packetCount: number }>;
        return {
          kind: c.kind,
          worker: c.worker,
          sfu_sent: stats.find((x) => x.type === 'outbound-rtp')?.packetCount ?? null,
          sink_received: snap[c.proc][c.sinkIndex]?.streams.find((x) => x[0] === c.ssrc)?.[1] ?? 0,
        };
      }),
    );
  }

  log(`${mode}/${sink}: tearing down ${subs.length} subscribers${anchors.map((x) => ` and ${x.subs.length} ${x.name} ones`).join('')}`);
  for (const s of [...subs, ...anchors.flatMap((x) => x.subs)]) for (const c of s) c.transport.close();
  await Promise.all(bench.sinks.map((s) => s.closeAll()));
  await bench.unpublish(pub);
  for (const x of anchors) await x.close().catch(() => {});
  await sleep(1000);
}

/** Real WebRTC subscribers (wrtc + mediasoup-client), decoding what they get. */
export async function real(bench: Bench, count: number, background: number) {
  const room = 'bench-real';
  log(`real: publisher joins ${room}`);
  const pub = await bench.publish(room, true);
  const producers = pub.producers;
  const media = bench.media(room);
  const pubCounters = () => publisherCounters(media, pub);
  await sleep(bench.o.warmup * 1000);
  const subs: CheapSubscriber[] = [];
  if (background > 0) {
    await Promise.all(bench.sinks.map((s) => s.batch(bench.o.batchMs)));
    const add = await addCheap(bench, media, subs, background, producers, subscriberCaps(await media.rtpCapabilities(), bench.o.tcc));
    log(`real: ${add.added} cheap background subscribers added ('batch' sinks)`);
  }
  const viewers: Array<{ bot: MediaBot; tracks: Record<string, ReceivedTrack> }> = [];
  for (let i = 0; i < count; i++) {
    const v = await bench.join(`viewer-${i}`, room, 'viewer');
    const tracks: Record<string, ReceivedTrack> = {};
    for (const [kind, id] of Object.entries(producers)) tracks[kind] = await v.consume(id);
    viewers.push({ bot: v, tracks });
  }
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && !viewers.every((v) => Object.values(v.tracks).every((t) => t.frames > 0))) await sleep(200);
  log(`real: ${count} subscribers decoding; layout ${JSON.stringify(bench.routerLayout())}`);
  await sleep(bench.o.settle * 1000);

  type Inbound = {
    packetsReceived: number;
    packetsLost: number;
    framesDecoded: number;
    bytesReceived: number;
    nackCount: number;
    jitter: number;
    frames: number;
  };
  // wrtc has no RTCRtpReceiver.getStats: read the recv transport's (peer connection's) report.
  const readViewers = () =>
    Promise.all(
      viewers.map(async (v) => {
        const out: Record<string, Inbound> = {};
        for (const [kind, t] of Object.entries(v.tracks)) {
          out[kind] = { packetsReceived: 0, packetsLost: 0, framesDecoded: 0, bytesReceived: 0, nackCount: 0, jitter: 0, frames: t.frames };
        }
        const report = await v.bot.recvTransport!.getStats();
        report.forEach((x: Record<string, unknown>) => {
          if (x['type'] !== 'inbound-rtp') return;
          const s = out[String(x['kind'] ?? x['mediaType'])];
          if (!s) return;
          s.packetsReceived += Number(x['packetsReceived'] ?? 0);
          s.packetsLost += Number(x['packetsLost'] ?? 0);
          s.framesDecoded += Number(x['framesDecoded'] ?? 0);
          s.bytesReceived += Number(x['bytesReceived'] ?? 0);
          s.nackCount += Number(x['nackCount'] ?? 0);
          s.jitter = Math.max(s.jitter, Number(x['jitter'] ?? 0));
        });
        return out;
      }),
    );
  const [va, a] = await Promise.all([readViewers(), snapshot(bench, pubCounters)]);
  await sleep(bench.o.duration * 1000);
  const [vb, b] = await Promise.all([readViewers(), snapshot(bench, pubCounters)]);
  const cheap = analyseCheap(a, b, subs, 'batch');
  const secs = cheap.window_s;
  const kinds = Object.keys(producers);
  const perKind: Record<string, unknown> = {};
  let realForwarded = 0;
  let realExpected = 0;
  let realLost = 0;
  for (const kind of kinds) {
    const d = viewers.map((_, i) => {
      const x = va[i][kind];
      const y = vb[i][kind];
      return {
        packets: y.packetsReceived - x.packetsReceived,
        lost: y.packetsLost - x.packetsLost,
        framesDecoded: y.framesDecoded - x.framesDecoded,
        frames: y.frames - x.frames,
        nacks: y.nackCount - x.nackCount,
        jitter: y.jitter,
      };
    });
    const expected = (b.publisher[kind].packets - a.publisher[kind].packets) * viewers.length;
    const packets = d.reduce((n, x) => n + x.packets, 0);
    realForwarded += packets;
    realExpected += expected;
    const rate = d.map((x) => x.frames / secs).sort((p, q) => p - q);
    const lost = d.reduce((n, x) => n + x.lost, 0);
    realLost += lost;
    perKind[kind] = {
      forwarded_pps: Math.round(packets / secs),
      loss: r4(packets + lost > 0 ? lost / (packets + lost) : 0),
      loss_vs_publisher: r4(expected > 0 ? 1 - packets / expected : 0),
      receiver_packets_lost: lost,
      receiver_nacks: d.reduce((n, x) => n + x.nacks, 0),
      max_jitter_s: Math.max(...d.map((x) => x.jitter)),
      ...(kind === 'video'
        ? {
            frames_decoded_per_s_min: r1(rate[0] ?? 0),
            frames_decoded_per_s_median: r1(quantile(rate, 0.5)),
            stats_frames_decoded: d.reduce((n, x) => n + x.framesDecoded, 0),
          }
        : { audio_10ms_chunks_per_s_min: r1(rate[0] ?? 0), audio_10ms_chunks_per_s_median: r1(quantile(rate, 0.5)) }),
    };
  }
  const workerCpuS = cheap.workers.reduce((n, w) => n + (w.cpu_pct / 100) * secs, 0);
  const forwarded = realForwarded + cheap.forwarded_packets;
  const out = {
    room,
    real_subscribers: count,
    background_cheap_subscribers: background,
    window_s: secs,
    publisher: cheap.publisher,
    real: {
      forwarded_pps: Math.round(realForwarded / secs),
      loss: r4(realForwarded + realLost > 0 ? realLost / (realForwarded + realLost) : 0),
      loss_basis: 'inbound-rtp packetsLost / (packetsReceived + packetsLost) at the receivers',
      loss_vs_publisher: r4(realExpected > 0 ? 1 - realForwarded / realExpected : 0),
      per_kind: perKind,
    },
    ...(background > 0 ? { cheap: { forwarded_pps: cheap.forwarded_pps, loss: cheap.loss } } : {}),
    packets_per_worker_cpu_s: workerCpuS > 0 ? Math.round(forwarded / workerCpuS) : null,
    // Receive-buffer drops of the real subscribers' sockets (libwebrtc, in this process).
    receiver_socket_drops: (b.drops.get(process.pid)?.drops ?? 0) - (a.drops.get(process.pid)?.drops ?? 0),
    workers: cheap.workers.map((w) => ({ worker: w.worker, cpu_pct: w.cpu_pct, socket_drops: w.socket_drops })),
    cpu_pct: cheap.cpu_pct,
    layout: bench.routerLayout(),
    publisher_sender: [] as PublisherStats[],
  };
  log(
    `real: ${count} subscribers: ${k(realForwarded / secs)} pkt/s, loss ${pct(out.real.loss)}, ` +
      `video fps median ${(perKind['video'] as { frames_decoded_per_s_median: number }).frames_decoded_per_s_median}, ` +
      `${out.packets_per_worker_cpu_s === null ? '-' : k(out.packets_per_worker_cpu_s)} pkt per worker-cpu-s, main ${cheap.cpu_pct.main_process}%`,
  );
  for (const s of subs) for (const c of s) c.transport.close();
  await Promise.all(bench.sinks.map((s) => s.closeAll()));
  for (const v of viewers) {
    await v.bot.close().catch(() => {});
    bench.bots.splice(bench.bots.indexOf(v.bot), 1);
  }
  out.publisher_sender = await pub.stats().catch(() => []);
  await bench.unpublish(pub);
  return out;
}

export type RealRecord = Awaited<ReturnType<typeof real>>;
