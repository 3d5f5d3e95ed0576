// One reading of everything the SFU bench counts, taken at a step's start and
// end: the publisher's and the SFU's producer counters, what each sink read,
// kernel UDP drops and queues, and the CPU of workers, sinks, this process
// and the machine.

import type { MediaRoom } from '../../sfu/mediaRoom.js';
import type { Bench } from './bench.js';
import { machineCpu, processCpuMs, snmpUdp, udpDropsByInode, udpDropsOf } from './procnet.js';
import type { PublisherCounters, PublisherStats } from './publisher.js';

export type { PublisherCounters } from './publisher.js';
import type { Publisher } from './publisherClient.js';
import type { SinkSnapshot } from './sink.js';

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

/** The CPU time and memory of the mediasoup workers measured, from their own getResourceUsage (ru_utime + ru_stime). */
export type WorkerUsage = () => Promise<Array<{ index: number; pid: number; cpu_ms: number; rss_kb: number }>>;

/** `workers`: whose CPU counts (default Switchboard's pool; the raw baseline passes its own worker). */
export async function snapshot(bench: Bench, publisher: () => Promise<PublisherCounters>, workers?: WorkerUsage): Promise<Snapshot> {
  // Kernel counters first and together with the publisher's: they are exact at this instant.
  const pubPromise = publisher();
  const usagePromise = workers ? workers() : bench.sfu.pool.usage();
  const portDrops = new Map<number, number>();
  const portQueue = new Map<number, number>();
  for (const { port, drops, rxQueue } of udpDropsByInode().values()) {
    portDrops.set(port, drops);
    portQueue.set(port, rxQueue);
  }
  const [pub, usage, sinks] = await Promise.all([pubPromise, usagePromise, Promise.all(bench.sinks.map((s) => s.snapshot()))]);
  const t = performance.now();
  const mainCpu = process.cpuUsage();
  const machine = machineCpu();
  const drops = udpDropsOf([...usage.map((w) => w.pid), ...bench.sinks.map((s) => s.pid), process.pid]);
  const sinkCpuMs = bench.sinks.map((s) => processCpuMs(s.pid) ?? 0);
  return { t, sinks, portDrops, portQueue, sinkCpuMs, workers: usage, publisher: pub, mainCpu, machine, drops, snmp: snmpUdp() };
}
