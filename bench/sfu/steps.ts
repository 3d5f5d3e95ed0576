// The SFU bench's measurements: a fan-out room measured at increasing
// subscriber counts, and a room of real WebRTC subscribers.

import type { MediaBot, ReceivedTrack } from '../../clients/node/mediaBot.js';
import { analyseCheap, sustained, type Analysis } from './analysis.js';
import type { Bench } from './bench.js';
import { k, log, pct, quantile, r1, r4, sleep } from './common.js';
import type { PublisherStats } from './publisher.js';
import { publisherCounters, snapshot } from './sampling.js';
import { addCheap, subscriberCaps, type CheapSubscriber, type SinkKind } from './subscribers.js';

/** One step of a fan-out room: N subscribers measured over one window. */
export type StepRecord = {
  subscribers: number;
  consumers: number;
  routers: number;
  layout: ReturnType<Bench['routerLayout']>;
  setup: Awaited<ReturnType<typeof addCheap>>;
} & Analysis & { publisher_sender: PublisherStats[] };

/** A fan-out room's part of the record (fields in the order they are filled). */
export interface FanoutRecord {
  mode: 'video' | 'audio';
  sink: SinkKind;
  room: string;
  steps: StepRecord[];
  baseline?: Pick<Analysis, 'publisher' | 'cpu_pct'>;
  max_subscribers_under_1pct_loss?: number;
  consumer_check?: Array<{ kind: 'audio' | 'video'; worker: number; sfu_sent: number | null; sink_received: number }>;
}

/** A fan-out room: publisher + increasing numbers of cheap subscribers. */
export async function fanout(bench: Bench, mode: 'video' | 'audio', sink: SinkKind, steps: number[], into: FanoutRecord[]): Promise<void> {
  const room = `bench-${mode}-${sink}`;
  log(`${mode}/${sink}: publisher joins ${room}`);
  const pub = await bench.publish(room, mode === 'video');
  const producers = pub.producers;
  const media = bench.media(room);
  const caps = subscriberCaps(await media.rtpCapabilities(), bench.o.tcc);
  const pubCounters = () => publisherCounters(media, pub);
  await sleep(bench.o.warmup * 1000);
  const subs: CheapSubscriber[] = [];
  const out: FanoutRecord = { mode, sink, room, steps: [] };
  into.push(out); // partial results survive an interrupt
  await Promise.all(bench.sinks.map((s) => s.batch(sink === 'batch' ? bench.o.batchMs : 0)));

  // N = 0: the publisher alone, for its rate and the workers' base cost.
  let a = await snapshot(bench, pubCounters);
  await sleep(Math.min(bench.o.duration, 10) * 1000);
  let b = await snapshot(bench, pubCounters);
  const base = analyseCheap(a, b, subs, sink);
  out.baseline = { publisher: base.publisher, cpu_pct: base.cpu_pct };
  log(
    `${mode}/${sink}: publisher alone: ${Object.entries(base.publisher)
      .map(([kk, p]) => `${kk} ${p.packets_per_s} pkt/s ${p.kbps} kbps`)
      .join(', ')}; workers ${base.cpu_pct.workers}% cpu`,
  );

  for (let n of steps) {
    if (bench.workerDied) break;
    const add = await addCheap(bench, media, subs, n, producers, caps);
    if (add.timed_out)
      log(
        `${mode}/${sink}: adding subscribers took over ${bench.o.maxSetupSeconds} s (the worker answers late): measuring N=${subs.length} instead of ${n}, then stopping`,
      );
    n = subs.length;
    log(
      `${mode}/${sink} N=${n}: +${add.added} subscribers (${add.ms_per_subscriber} ms each), routers ${media.routerCount}: ${JSON.stringify(bench.routerLayout())}`,
    );
    await sleep(bench.o.settle * 1000);
    a = await snapshot(bench, pubCounters);
    await sleep(bench.o.duration * 1000);
    b = await snapshot(bench, pubCounters);
    const m = analyseCheap(a, b, subs, sink);
    const sender = await pub.stats().catch(() => []);
    const step: StepRecord = {
      subscribers: n,
      consumers: subs.length * Object.keys(producers).length,
      routers: media.routerCount,
      layout: bench.routerLayout(),
      setup: add,
      ...m,
      publisher_sender: sender,
    };
    out.steps.push(step);
    log(
      `${mode}/${sink} N=${n}: forwarded ${k(m.forwarded_pps)}/${k(m.expected_pps)} pkt/s, loss ${pct(m.loss)} (vs publisher ${pct(m.loss_vs_publisher)}), ` +
        `${m.packets_per_worker_cpu_s === null ? '-' : k(m.packets_per_worker_cpu_s)} pkt per worker-cpu-s, ` +
        `workers ${m.workers.map((w) => `${w.cpu_pct}%`).join('+')} (loss ${m.workers.map((w) => pct(w.loss)).join('/')}), sinks ${m.cpu_pct.sinks}%, main ${m.cpu_pct.main_process}%, others ${m.cpu_pct.others_on_machine}%, ` +
        `worker socket drops ${m.drops.worker_socket_drops}, sink drops ${m.drops.sink_socket_drops}; ` +
        `${sender
          .filter((x) => x.kind === 'video')
          .map((x) => `camera ${x.frameWidth}x${x.frameHeight}@${x.framesPerSecond} (${x.qualityLimitationReason}) `)
          .join('')}publisher ${Object.entries(m.publisher)
          .map(([kk, p]) => `${kk} ${p.packets_per_s} pkt/s ${p.kbps} kbps (sent ${p.sent_packets_per_s})`)
          .join(', ')}`,
    );
    if (add.timed_out) break;
    if (m.loss > bench.o.stopLoss) {
      log(`${mode}/${sink}: loss ${pct(m.loss)} > ${pct(bench.o.stopLoss)}: no larger steps`);
      break;
    }
  }
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

  log(`${mode}/${sink}: tearing down ${subs.length} subscribers`);
  for (const s of subs) for (const c of s) c.transport.close();
  await Promise.all(bench.sinks.map((s) => s.closeAll()));
  await bench.unpublish(pub);
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
