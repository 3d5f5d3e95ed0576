// One reading of everything the SFU bench counts, taken at a step's start and
// end: the publisher's and the SFU's producer counters, what each sink read,
// kernel UDP drops and queues, and the CPU of workers, sinks, this process
// and the machine.

import type { MediaRoom } from '../../sfu/mediaRoom.js';
import type { Bench } from './bench.js';
import { machineCpu, processCpuMs, snmpUdp, udpDropsByInode, udpDropsOf } from './procnet.js';
import type { PublisherStats } from './publisher.js';
import type { Publisher } from './publisherClient.js';
import type { SinkSnapshot } from './sink.js';

export /** Per kind: what the SFU's producer received (packets, bytes, lost) and what the publisher sent (sent). */
interface PublisherCounters {
  [kind: string]: { packets: number; bytes: number; lost: number; sent: number };
}

export interface Snapshot {
  t: number;
  /** Per sink process, per socket: what the sink read. */
  sinks: SinkSnapshot[][];
  /** Kernel receive-buffer drops per local UDP port (127.0.0.1). */
  portDrops: Map<number, number>;
  /** Bytes waiting unread per local UDP port. */
  portQueue: Map<number, number>;
  sinkCpuMs: number[];
  workers: Array<{ index: number; pid: number; cpu_ms: number; rss_kb: number }>;
  publisher: PublisherCounters;
  mainCpu: NodeJS.CpuUsage;
  machine: { busyMs: number; totalMs: number };
  drops: Map<number, { sockets: number; drops: number }>;
  snmp: Record<string, number>;
}

export async function publisherCounters(media: MediaRoom, pub: Publisher): Promise<PublisherCounters> {
  const out: PublisherCounters = {};
  const sender = pub.stats().catch(() => [] as PublisherStats[]);
  await Promise.all(
    Object.entries(pub.producers).map(async ([kind, id]) => {
      const stats = (await media.stats(pub.participantId, { producerId: id })) as Array<{
        packetCount: number;
        byteCount: number;
        packetsLost: number;
      }>;
      const c = { packets: 0, bytes: 0, lost: 0, sent: 0 };
      for (const s of stats) {
        c.packets += s.packetCount;
        c.bytes += s.byteCount;
        c.lost += s.packetsLost;
      }
      out[kind] = c;
    }),
  );
  for (const x of await sender) if (out[x.kind]) out[x.kind].sent += x.packetsSent;
  return out;
}

export async function snapshot(bench: Bench, publisher: () => Promise<PublisherCounters>): Promise<Snapshot> {
  // Kernel counters first and together with the publisher's: they are exact at this instant.
  const pubPromise = publisher();
  const usagePromise = bench.sfu.pool.usage();
  const portDrops = new Map<number, number>();
  const portQueue = new Map<number, number>();
  for (const { port, drops, rxQueue } of udpDropsByInode().values()) {
    portDrops.set(port, drops);
    portQueue.set(port, rxQueue);
  }
  const [pub, workers, sinks] = await Promise.all([pubPromise, usagePromise, Promise.all(bench.sinks.map((s) => s.snapshot()))]);
  const t = performance.now();
  const mainCpu = process.cpuUsage();
  const machine = machineCpu();
  const drops = udpDropsOf([...workers.map((w) => w.pid), ...bench.sinks.map((s) => s.pid), process.pid]);
  const sinkCpuMs = bench.sinks.map((s) => processCpuMs(s.pid) ?? 0);
  return { t, sinks, portDrops, portQueue, sinkCpuMs, workers, publisher: pub, mainCpu, machine, drops, snmp: snmpUdp() };
}
