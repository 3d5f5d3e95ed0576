// The publisher process (publisher.ts) seen from the bench: requests over IPC,
// each answered by a reply with the same id. In raw mode (--baseline raw) the
// publisher also asks the bench to connect its transport and make its producers.

import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sleep } from './common.js';
import type { PublisherRequest, PublisherStats, StartRequest, UpReply, UpRequest } from './publisher.js';

/** A publisher reply: start -> participantId + producers, stats -> stats, close -> nothing. */
interface Reply {
  id: number;
  error?: string;
  participantId?: string;
  producers?: Record<string, string>;
  stats?: PublisherStats[];
}

export class Publisher {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  participantId = '';
  /** kind ('audio' | 'video') -> producer id */
  producers: Record<string, string> = {};

  /** Raw mode: what the publisher's send transport asks of mediasoup. */
  onUp: ((req: UpRequest) => Promise<Omit<UpReply, 'up'>>) | null = null;

  constructor(readonly child: ChildProcess) {
    child.on('message', (reply: Reply | UpRequest) => {
      if ('up' in reply) {
        const req = reply;
        const answer = this.onUp ? this.onUp(req) : Promise.reject(new Error('this publisher has no raw harness'));
        answer.then(
          (r) => this.child.send({ ...r, up: req.up }),
          (err: unknown) => this.child.send({ up: req.up, error: String((err as Error)?.message ?? err) }),
        );
        return;
      }
      const p = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (reply.error) p?.reject(new Error(`publisher: ${reply.error}`));
      else p?.resolve(reply);
    });
    child.on('exit', () => {
      for (const p of this.pending.values()) p.reject(new Error('publisher process exited'));
      this.pending.clear();
    });
  }

  static start(): Publisher {
    const file = fileURLToPath(new URL('./publisher.js', import.meta.url));
    return new Publisher(fork(file, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  }

  private call(req: Omit<PublisherRequest, 'id'>): Promise<Reply> {
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ ...req, id });
    });
  }

  async begin(req: {
    url: string;
    token: string;
    room: string;
    video: boolean;
    width: number;
    height: number;
    fps: number;
    kbps: number;
    bwe: boolean;
    raw?: StartRequest['raw'];
    janus?: boolean;
  }): Promise<void> {
    const r = await this.call({ cmd: 'start', ...req });
    this.participantId = r.participantId ?? '';
    this.producers = r.producers ?? {};
  }

  async stats(): Promise<PublisherStats[]> {
    return (await this.call({ cmd: 'stats' })).stats ?? [];
  }

  /** Janus mode: the sources stop (false) or go on (true) feeding the encoder. */
  async setSending(on: boolean): Promise<void> {
    await this.call({ cmd: 'sending', on } as Omit<PublisherRequest, 'id'>);
  }

  async close(): Promise<void> {
    await Promise.race([this.call({ cmd: 'close' }), sleep(3000)]).catch(() => {});
    this.kill();
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill();
  }
}
