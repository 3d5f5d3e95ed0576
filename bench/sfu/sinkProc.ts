// Drives one sink process (sink.ts) over IPC: UDP sockets that count RTP per
// SSRC. Used by bench/sfu and bench/cascade.

import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { SinkReply, SinkRequest, SinkSnapshot } from './sink.js';

/** One socket's receive buffer: the default of both benches. */
export const SINK_RCVBUF = 1 << 20;

export class SinkProc {
  private nextId = 1;
  private readonly pending = new Map<number, (r: SinkReply) => void>();
  sockets = 0;

  constructor(readonly child: ChildProcess) {
    child.on('message', (reply: SinkReply) => {
      const resolve = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      resolve?.(reply);
    });
  }

  static start(): SinkProc {
    const file = fileURLToPath(new URL('./sink.js', import.meta.url));
    return new SinkProc(fork(file, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  }

  get pid(): number {
    return this.child.pid!;
  }

  private call(req: Omit<SinkRequest, 'id'>): Promise<SinkReply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (r) => ('error' in r ? reject(new Error(r.error)) : resolve(r)));
      this.child.send({ ...req, id });
    });
  }

  async open(count: number, rcvbuf = SINK_RCVBUF): Promise<number[]> {
    const r = (await this.call({ cmd: 'open', count, rcvbuf } as Omit<SinkRequest, 'id'>)) as { ports: number[] };
    this.sockets += count;
    return r.ports;
  }

  async snapshot(): Promise<SinkSnapshot[]> {
    return ((await this.call({ cmd: 'snapshot' })) as { sinks: SinkSnapshot[] }).sinks;
  }

  async closeAll(): Promise<void> {
    await this.call({ cmd: 'close' });
    this.sockets = 0;
  }

  /** ms > 0: read in batches, sleeping ms in between (see sink.ts). */
  async batch(ms: number): Promise<void> {
    await this.call({ cmd: 'batch', ms } as Omit<SinkRequest, 'id'>);
  }

  kill(): void {
    this.child.kill();
  }
}
