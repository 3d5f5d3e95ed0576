// A sink process for the SFU bench: many UDP sockets on 127.0.0.1, one per
// cheap subscriber, each counting the RTP packets it receives per SSRC and
// tracking the highest (extended) sequence number, so loss is visible without
// decrypting: SRTP leaves the RTP header in clear. Driven over IPC by run.ts:
//   { id, cmd: 'open', count, rcvbuf }  -> { id, ports }
//   { id, cmd: 'snapshot' }             -> { id, cpu, sinks: SinkSnapshot[] }
//   { id, cmd: 'batch', ms }            -> { id } (ms > 0: read in batches, sleeping ms between them)
//   { id, cmd: 'close' }                -> { id } (closes every socket)
//
// Batches: a sink that waits in epoll is woken for every packet, and on
// loopback that wake-up is paid inside the sender's send call, i.e. by the
// mediasoup worker. A batch sink blocks its thread (not in epoll) for `ms`,
// then drains every socket and blocks again: the worker only queues packets.

import dgram from 'node:dgram';

/** Per SSRC: [ssrc, packets, bytes, highest extended seq, first extended seq, out-of-order packets]. */
export type StreamSnapshot = [number, number, number, number, number, number];
/** Per sink: RTCP packets received (SRTCP sender reports), then its streams. */
export interface SinkSnapshot {
  rtcp: number;
  streams: StreamSnapshot[];
}

export type SinkRequest =
  | { id: number; cmd: 'open'; count: number; rcvbuf: number }
  | { id: number; cmd: 'snapshot' }
  | { id: number; cmd: 'batch'; ms: number }
  | { id: number; cmd: 'close' };

export type SinkReply =
  | { id: number; ports: number[] }
  | { id: number; cpu: NodeJS.CpuUsage; sinks: SinkSnapshot[] }
  | { id: number; error: string }
  | { id: number };

class Stream {
  packets = 0;
  bytes = 0;
  maxExt: number;
  readonly firstExt: number;
  outOfOrder = 0;

  constructor(
    readonly ssrc: number,
    seq: number,
  ) {
    // Start one cycle up so a little reordering around the first packet stays positive.
    this.maxExt = 65536 + seq;
    this.firstExt = this.maxExt;
  }

  add(seq: number, len: number): void {
    this.packets++;
    this.bytes += len;
    const delta = (((seq - this.maxExt) & 0xffff) << 16) >> 16; // signed 16-bit distance
    if (delta > 0) this.maxExt += delta;
    else this.outOfOrder++;
  }
}

class Sink {
  rtcp = 0;
  readonly streams: Stream[] = [];

  constructor(readonly socket: dgram.Socket) {
    socket.on('message', (msg) => this.onPacket(msg));
    socket.on('error', () => {});
  }

  private onPacket(msg: Buffer): void {
    readsThisTurn++;
    if (msg.length < 12 || msg[0] >> 6 !== 2) return;
    const pt = msg[1] & 0x7f;
    if (pt >= 64 && pt <= 95) {
      // RTCP multiplexed on the same port (RFC 5761): 200-204 with the marker bit.
      this.rtcp++;
      return;
    }
    const ssrc = msg.readUInt32BE(8);
    const seq = msg.readUInt16BE(2);
    const streams = this.streams;
    for (let i = 0; i < streams.length; i++) {
      const s = streams[i];
      if (s.ssrc === ssrc) {
        s.add(seq, msg.length);
        return;
      }
    }
    const s = new Stream(ssrc, seq);
    s.packets = 1;
    s.bytes = msg.length;
    streams.push(s);
  }

  snapshot(): SinkSnapshot {
    return { rtcp: this.rtcp, streams: this.streams.map((s) => [s.ssrc, s.packets, s.bytes, s.maxExt, s.firstExt, s.outOfOrder]) };
  }
}

const sinks: Sink[] = [];
let batchMs = 0;
let batchLoop = false;
/** Packets read since the last check phase of the event loop. */
let readsThisTurn = 0;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** In the check phase: when the last poll phase read nothing, everything is drained; sleep. */
function batchTurn(): void {
  if (batchMs <= 0) {
    batchLoop = false;
    return;
  }
  if (readsThisTurn === 0) Atomics.wait(sleeper, 0, 0, batchMs);
  readsThisTurn = 0;
  setImmediate(batchTurn);
}

function bind(rcvbuf: number): Promise<Sink> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: rcvbuf });
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve(new Sink(socket));
    });
  });
}

async function handle(req: SinkRequest): Promise<SinkReply> {
  switch (req.cmd) {
    case 'open': {
      const ports: number[] = [];
      for (let i = 0; i < req.count; i++) {
        const sink = await bind(req.rcvbuf);
        sinks.push(sink);
        ports.push(sink.socket.address().port);
      }
      return { id: req.id, ports };
    }
    case 'snapshot':
      return { id: req.id, cpu: process.cpuUsage(), sinks: sinks.map((s) => s.snapshot()) };
    case 'batch':
      batchMs = req.ms;
      if (batchMs > 0 && !batchLoop) {
        batchLoop = true;
        setImmediate(batchTurn);
      }
      return { id: req.id };
    case 'close':
      for (const s of sinks.splice(0)) s.socket.close();
      return { id: req.id };
  }
}

process.on('message', (req: SinkRequest) => {
  handle(req).then(
    (reply) => process.send!(reply),
    (err: unknown) => process.send!({ id: req.id, error: String((err as Error)?.message ?? err) }),
  );
});
// The bench owns this process: when it goes, so do we.
process.on('disconnect', () => process.exit(0));
