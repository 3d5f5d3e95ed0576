// A load generator process (generator.ts) seen from the bench: requests over
// IPC, each answered by one event (ipc.ts), and its CPU time.

import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FromGenerator, JoinProgressEv, ToGenerator } from './ipc.js';
import { procCpuSeconds } from './procstat.js';
import { children } from './server.js';
import { sleep } from './util.js';

const GENERATOR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'generator.js');

export class Generator {
  private readonly waiters = new Map<string, { resolve: (m: FromGenerator) => void; reject: (e: Error) => void }>();
  progress: JoinProgressEv = { ev: 'join-progress', ok: 0, failed: 0, inflight: 0 };
  exited = false;

  constructor(
    readonly index: number,
    readonly child: ChildProcess,
    readonly connections: number,
  ) {
    child.on('message', (m: FromGenerator) => {
      if (m.ev === 'join-progress') {
        this.progress = m;
        return;
      }
      if (m.ev === 'fatal') {
        for (const w of this.waiters.values()) w.reject(new Error(`generator ${index}: ${m.message}`));
        this.waiters.clear();
        return;
      }
      const w = this.waiters.get(m.ev);
      this.waiters.delete(m.ev);
      w?.resolve(m);
    });
    child.once('exit', (code) => {
      this.exited = true;
      children.delete(child);
      for (const w of this.waiters.values()) w.reject(new Error(`generator ${index} exited (${code})`));
      this.waiters.clear();
    });
  }

  /** Forks generator `index`, which will hold `connections` connections. */
  static start(index: number, connections: number): Generator {
    const child = fork(GENERATOR, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.add(child);
    return new Generator(index, child, connections);
  }

  request<T extends FromGenerator>(cmd: ToGenerator, ev: T['ev']): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.exited) return reject(new Error(`generator ${this.index} is gone`));
      this.waiters.set(ev, { resolve: (m) => resolve(m as T), reject });
      this.child.send(cmd);
    });
  }

  cpuSeconds(): number {
    return procCpuSeconds(this.child.pid!) ?? 0;
  }

  async exit(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
    try {
      this.child.send({ cmd: 'exit' } satisfies ToGenerator);
    } catch {
      // channel closed
    }
    if (!(await Promise.race([gone.then(() => true), sleep(5000).then(() => false)]))) this.child.kill('SIGKILL');
  }
}
