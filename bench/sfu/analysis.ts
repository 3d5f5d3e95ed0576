// What one measuring window says about the cheap subscribers: forwarded
// packets, loss (from RTP sequence numbers at the sinks, and against what
// the publisher sent), drops by where they happened, and CPU per party.

import { quantile, r1, r4 } from './common.js';
import type { Snapshot } from './sampling.js';
import type { CheapSubscriber, SinkKind } from './subscribers.js';

/** Everything measured over one window for the cheap subscribers. */
export function analyseCheap(a: Snapshot, b: Snapshot, subs: CheapSubscriber[], sink: SinkKind) {
  const secs = (b.t - a.t) / 1000;
  const pubDelta: Record<string, { packets: number; bytes: number; lost: number; sent: number }> = {};
  for (const kind of Object.keys(b.publisher)) {
    pubDelta[kind] = {
      packets: b.publisher[kind].packets - (a.publisher[kind]?.packets ?? 0),
      bytes: b.publisher[kind].bytes - (a.publisher[kind]?.bytes ?? 0),
      lost: b.publisher[kind].lost - (a.publisher[kind]?.lost ?? 0),
      sent: b.publisher[kind].sent - (a.publisher[kind]?.sent ?? 0),
    };
  }
  const nWorkers = b.workers.length;
  type Acc = { consumers: number; received: number; expected_pub: number; expected_seq: number; bytes: number };
  const acc = (): Acc => ({ consumers: 0, received: 0, expected_pub: 0, expected_seq: 0, bytes: 0 });
  const perWorker = Array.from({ length: nWorkers }, acc);
  const perKind: Record<string, Acc> = {};
  let other = 0;
  let rtcp = 0;
  let silent = 0;
  let outOfOrder = 0;
  let sinkDrops = 0;
  let backlogA = 0;
  let backlogB = 0;
  const perSubLoss: number[] = [];
  // Per-socket counters once per socket (a subscriber's consumers may share one).
  const portsSeen = new Set<number>();
  for (const sub of subs) {
    let subRecv = 0;
    let subExp = 0;
    const own = new Set(sub.map((c) => c.ssrc));
    for (const c of sub) {
      const firstOnPort = !portsSeen.has(c.port);
      portsSeen.add(c.port);
      // What the publisher sent (its own outbound-rtp), so packets the worker dropped on ingress count too.
      const expectedPub = pubDelta[c.kind]?.sent || pubDelta[c.kind]?.packets || 0;
      if (firstOnPort) {
        sinkDrops += (b.portDrops.get(c.port) ?? 0) - (a.portDrops.get(c.port) ?? 0);
        backlogA += a.portQueue.get(c.port) ?? 0;
        backlogB += b.portQueue.get(c.port) ?? 0;
      }
      const sa = a.sinks[c.proc]?.[c.sinkIndex];
      const sb = b.sinks[c.proc]?.[c.sinkIndex];
      const fa = sa?.streams.find((x) => x[0] === c.ssrc);
      const fb = sb?.streams.find((x) => x[0] === c.ssrc);
      const received = (fb?.[1] ?? 0) - (fa?.[1] ?? 0);
      const bytes = (fb?.[2] ?? 0) - (fa?.[2] ?? 0);
      // Sequence numbers the consumer used in the window (a stream first seen inside it counts
      // from its first packet); a silent stream is expected to have sent what the publisher did.
      const expectedSeq = fb && received > 0 ? (fa ? fb[3] - fa[3] : fb[3] - fb[4] + 1) : expectedPub;
      outOfOrder += (fb?.[5] ?? 0) - (fa?.[5] ?? 0);
      if (firstOnPort) rtcp += (sb?.rtcp ?? 0) - (sa?.rtcp ?? 0);
      for (const x of firstOnPort ? (sb?.streams ?? []) : []) {
        if (own.has(x[0])) continue;
        other += x[1] - (sa?.streams.find((y) => y[0] === x[0])?.[1] ?? 0);
      }
      if (received === 0) silent++;
      for (const x of [perWorker[c.worker] ?? perWorker[0], (perKind[c.kind] ??= acc())]) {
        x.consumers++;
        x.received += received;
        x.expected_pub += expectedPub;
        x.expected_seq += expectedSeq;
        x.bytes += bytes;
      }
      subRecv += received;
      subExp += expectedSeq;
    }
    perSubLoss.push(subExp > 0 ? Math.max(0, 1 - subRecv / subExp) : 0);
  }
  // Loss from sequence numbers: exact, and immune to the sinks reading later than the window ends.
  const lossOf = (x: Acc) => r4(x.expected_seq > 0 ? 1 - x.received / x.expected_seq : 0);
  const lossVsPub = (x: Acc) => r4(x.expected_pub > 0 ? 1 - x.received / x.expected_pub : 0);
  const total = acc();
  for (const w of perWorker) for (const key of Object.keys(total) as Array<keyof Acc>) total[key] += w[key];
  const workerCpuMs = b.workers.map((w, i) => w.cpu_ms - a.workers[i].cpu_ms);
  const workerCpuTotalMs = workerCpuMs.reduce((x, y) => x + y, 0);
  const sinkCpuMs = b.sinkCpuMs.reduce((n, x, i) => n + x - (a.sinkCpuMs[i] ?? 0), 0);
  const mainCpuMs = (b.mainCpu.user - a.mainCpu.user + b.mainCpu.system - a.mainCpu.system) / 1000;
  const machineBusyMs = b.machine.busyMs - a.machine.busyMs;
  const machineTotalMs = b.machine.totalMs - a.machine.totalMs;
  const dropsDelta = (pid: number) => (b.drops.get(pid)?.drops ?? 0) - (a.drops.get(pid)?.drops ?? 0);
  const snmpDelta: Record<string, number> = {};
  for (const key of ['InDatagrams', 'NoPorts', 'InErrors', 'OutDatagrams', 'RcvbufErrors', 'SndbufErrors']) {
    snmpDelta[key] = (b.snmp[key] ?? 0) - (a.snmp[key] ?? 0);
  }
  perSubLoss.sort((x, y) => x - y);
  const pctOf = (ms: number) => r1((ms / (secs * 1000)) * 100);
  const lost = Math.max(0, total.expected_seq - total.received);
  return {
    sink,
    window_s: r4(secs),
    publisher: Object.fromEntries(
      Object.entries(pubDelta).map(([kind, d]) => [
        kind,
        {
          packets_per_s: r1(d.packets / secs),
          kbps: r1((d.bytes * 8) / secs / 1000),
          sent_packets_per_s: r1(d.sent / secs),
          // Publisher packets the SFU never got (its ingress socket overflowed, or the network).
          ingress_loss: r4(d.sent > 0 ? 1 - d.packets / d.sent : 0),
          packets_lost: d.lost,
        },
      ]),
    ),
    forwarded_packets: total.received,
    forwarded_pps: Math.round(total.received / secs),
    expected_pps: Math.round(total.expected_pub / secs),
    loss: lossOf(total),
    loss_basis: 'rtp sequence numbers at the sinks',
    loss_vs_publisher: lossVsPub(total),
    per_kind: Object.fromEntries(
      Object.entries(perKind).map(([kind, x]) => [
        kind,
        {
          forwarded_pps: Math.round(x.received / secs),
          loss: lossOf(x),
          loss_vs_publisher: lossVsPub(x),
          mbps_out: r1((x.bytes * 8) / secs / 1e6),
        },
      ]),
    ),
    subscribers_over_1pct_loss: perSubLoss.filter((x) => x > 0.01).length,
    subscriber_loss_p50: r4(quantile(perSubLoss, 0.5)),
    subscriber_loss_p95: r4(quantile(perSubLoss, 0.95)),
    subscriber_loss_max: r4(perSubLoss[perSubLoss.length - 1] ?? 0),
    silent_consumers: silent,
    out_of_order_packets: outOfOrder,
    other_ssrc_packets: other,
    rtcp_packets_to_sinks: rtcp,
    packets_per_worker_cpu_s: workerCpuTotalMs > 0 ? Math.round(total.received / (workerCpuTotalMs / 1000)) : null,
    workers: b.workers.map((w, i) => {
      const pw = perWorker[i];
      return {
        worker: w.index,
        consumers: pw.consumers,
        cpu_pct: pctOf(workerCpuMs[i]),
        forwarded_pps: Math.round(pw.received / secs),
        loss: lossOf(pw),
        packets_per_cpu_s: workerCpuMs[i] > 0 ? Math.round(pw.received / (workerCpuMs[i] / 1000)) : null,
        socket_drops: dropsDelta(w.pid),
        rss_mb: r1(w.rss_kb / 1024),
      };
    }),
    drops: {
      lost_packets: lost,
      sink_socket_drops: sinkDrops,
      sfu_side: Math.max(0, lost - sinkDrops),
      // Unread bytes in the sink sockets at the window's start and end: growth means the
      // sinks fell behind, which shows as loss_vs_publisher but not as sequence gaps.
      sink_backlog_kb: [Math.round(backlogA / 1024), Math.round(backlogB / 1024)],
      worker_socket_drops: b.workers.reduce((n, w) => n + dropsDelta(w.pid), 0),
      udp: snmpDelta,
    },
    cpu_pct: {
      workers: pctOf(workerCpuTotalMs),
      sinks: pctOf(sinkCpuMs),
      main_process: pctOf(mainCpuMs),
      others_on_machine: pctOf(Math.max(0, machineBusyMs - workerCpuTotalMs - sinkCpuMs - mainCpuMs)),
      machine_idle: pctOf(Math.max(0, machineTotalMs - machineBusyMs)),
    },
  };
}

export type Analysis = ReturnType<typeof analyseCheap>;

/**
 * A step the node sustains: under 1% loss at the subscribers (sequence gaps) and under 1% of
 * the publisher's packets still missing at the SFU's producer (a worker that falls behind
 * first queues its ingress, which no sequence gap shows yet).
 */
export function sustained(step: { loss: number; publisher: Record<string, { ingress_loss: number }> }): boolean {
  return step.loss < 0.01 && Object.values(step.publisher).every((p) => (p.ingress_loss ?? 0) < 0.01);
}
