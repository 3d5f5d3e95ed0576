// Several processes per node, the primary: one process on
// this host can hold ~19.9k sockets (the open-files limit), so a node may run
// NODE_PROCESSES workers behind one public port. The primary owns the public
// listening socket, reads each new connection's request head (bounded in size
// and time), picks a worker (processRouting.ts) and hands the socket over with
// the bytes already read. Each worker is a full cluster member (its own
// NODE_ID, internal port, RTC ports; processPlan.ts); a join that lands on
// another process than its room's is relayed by the cluster relay as between
// nodes. A dead worker is restarted (with backoff) while the public port
// stays open; SIGTERM/SIGINT go to every worker, and the primary exits once
// they have.
//
// child_process.fork rather than node:cluster: a cluster worker's listen()
// is shared through the primary, and each worker here must listen on its own
// internal port (other nodes reach it there) while the primary, not
// node:cluster's scheduler, decides where a public connection goes (after
// reading its head).

import { fork, type ChildProcess } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Config } from '../../kernel/config.js';
import { ensureDevApiCredentials, ensureDevKeys } from '../auth/devKeys.js';
import type { Logger } from '../../kernel/logger.js';
import { installProcessGuards } from '../../kernel/lastResort.js';
import { planWorkers, type WorkerPlan } from './processPlan.js';
import { headEnd, homeProcess, isRequestLine, MAX_REQUEST_LINE, parseHead, routingRoom } from './processRouting.js';
import type { HandedConnection, WorkerMessage } from './processWorker.js';

const MAIN = fileURLToPath(new URL('../../main.js', import.meta.url));
/** A request head larger than this is refused (431) and the connection closed. */
export const MAX_HEAD_BYTES = 16 * 1024;
/** A connection that has not sent a whole request head within this long is closed. */
export const HEAD_TIMEOUT_MS = 5000;
/** Restart delays: 0.5 s, doubling up to 30 s; a worker that lived a minute starts the series again. */
const RESTART_BASE_MS = 500;
const RESTART_MAX_MS = 30_000;
const STABLE_AFTER_MS = 60_000;

interface Slot {
  plan: WorkerPlan;
  child: ChildProcess | null;
  ready: boolean;
  url: string | null;
  startedAt: number;
  failures: number;
  restartTimer: NodeJS.Timeout | null;
  lastExit: number | null;
}

export class ProcessFront {
  private readonly slots: Slot[];
  private server: Server | null = null;
  private rr = 0;
  private stopping: string | null = null;
  private exitCode = 0;
  /** Connections whose head is still being read (closed when the primary stops). */
  private readonly reading = new Set<Socket>();
  private startup: { resolve: () => void; reject: (err: Error) => void } | null = null;

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
    env: Record<string, string | undefined> = process.env,
  ) {
    this.slots = planWorkers(config, env, process.execArgv).map((plan) => ({
      plan,
      child: null,
      ready: false,
      url: null,
      startedAt: 0,
      failures: 0,
      restartTimer: null,
      lastExit: null,
    }));
  }

  /** Starts every worker, then listens on the public port. Rejects when a worker fails to start. */
  async start(): Promise<string> {
    // The workers would race generating the development keys in DATA_DIR: made once, here.
    if (!this.config.jwt.publicKeyFile && !this.config.jwt.jwksUrl) ensureDevKeys(this.config.dataDir);
    if (!this.config.apiKey) ensureDevApiCredentials(this.config.dataDir);
    const started = new Promise<void>((resolve, reject) => {
      this.startup = { resolve, reject };
    });
    for (const slot of this.slots) this.spawn(slot);
    await started;
    this.startup = null;
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.port, this.config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.log.error({ err }, 'public listener error'));
    const address = server.address() as AddressInfo;
    const host = address.address === '0.0.0.0' ? '127.0.0.1' : address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const url = `http://${host}:${address.port}`;
    this.log.info(
      {
        url,
        node_id: this.config.nodeId,
        processes: this.slots.map((s) => ({ node_id: s.plan.nodeId, pid: s.child?.pid, url: s.url, rtc_workers: s.plan.rtcWorkers })),
      },
      'switchboard node listening',
    );
    return url;
  }

  private spawn(slot: Slot): void {
    slot.restartTimer = null;
    slot.ready = false;
    slot.startedAt = Date.now();
    const child = fork(MAIN, [], { env: slot.plan.env, execArgv: slot.plan.execArgv, stdio: 'inherit' });
    slot.child = child;
    child.on('message', (msg: WorkerMessage) => {
      if (msg?.type !== 'switchboard:ready' || slot.child !== child) return;
      slot.ready = true;
      slot.url = msg.url;
      this.log.info({ process: slot.plan.nodeId, pid: child.pid, url: msg.url }, 'worker process ready');
      if (this.startup && this.slots.every((s) => s.ready)) this.startup.resolve();
    });
    // The channel closes as the process dies, before its exit is reported: no connection goes there meanwhile.
    child.on('disconnect', () => {
      if (slot.child === child) slot.ready = false;
    });
    child.on('error', (err) => {
      // A send to a worker that just died fails here too (and in its callback, which retries elsewhere).
      if ((err as NodeJS.ErrnoException).code !== 'EPIPE') this.log.error({ err, process: slot.plan.nodeId }, 'worker process error');
    });
    child.once('exit', (code, signal) => this.exited(slot, child, code, signal));
  }

  private exited(slot: Slot, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (slot.child !== child) return;
    slot.child = null;
    slot.ready = false;
    slot.lastExit = Date.now();
    if (this.stopping) {
      if (code !== 0) this.exitCode = 1;
      this.log.info({ process: slot.plan.nodeId, code, signal }, 'worker process stopped');
      this.maybeFinish();
      return;
    }
    if (this.startup) {
      // A worker that cannot start (Redis or the database unreachable...) will not do better on retry: fail fast.
      this.startup.reject(new Error(`worker process ${slot.plan.nodeId} exited during start (code ${code}, signal ${signal})`));
      this.startup = null;
      this.stopping = 'startup failure';
      this.exitCode = code === 2 ? 2 : 1;
      for (const s of this.slots) s.child?.kill('SIGINT');
      this.maybeFinish();
      return;
    }
    if (Date.now() - slot.startedAt > STABLE_AFTER_MS) slot.failures = 0;
    const delay = Math.min(RESTART_MAX_MS, RESTART_BASE_MS * 2 ** slot.failures);
    slot.failures++;
    this.log.error({ process: slot.plan.nodeId, pid: child.pid, code, signal, restart_in_ms: delay }, 'worker process died: restarting it');
    slot.restartTimer = setTimeout(() => this.spawn(slot), delay);
  }

  // ---- the public port ----

  private accept(socket: Socket): void {
    if (this.stopping && this.slots.every((s) => !s.ready)) {
      socket.destroy();
      return;
    }
    this.reading.add(socket);
    let buf: Buffer = Buffer.alloc(0);
    const done = () => {
      clearTimeout(timer);
      socket.off('data', onData);
      this.reading.delete(socket);
    };
    const refuse = (status: string) => {
      done();
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      socket.destroySoon();
    };
    const timer = setTimeout(() => refuse('408 Request Timeout'), HEAD_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      const end = headEnd(buf);
      if (end < 0) {
        if (buf.length > MAX_HEAD_BYTES) return refuse('431 Request Header Fields Too Large');
        // Not even a request line (garbage): no need to wait for more.
        const eol = buf.indexOf('\r\n', 0, 'latin1');
        if (eol >= 0 ? !isRequestLine(buf.subarray(0, eol)) : buf.length > MAX_REQUEST_LINE) return refuse('400 Bad Request');
        return;
      }
      if (end > MAX_HEAD_BYTES) return refuse('431 Request Header Fields Too Large');
      const head = parseHead(buf.subarray(0, end - 4));
      if (!head) return refuse('400 Bad Request');
      stopReading(socket);
      done();
      this.handOver(socket, buf, routingRoom(head), new Set());
    };
    socket.on('data', onData);
    socket.on('error', () => {}); // a reset while the head is read concerns nobody else
    socket.once('close', () => done());
  }

  /**
   * Passes the socket and the bytes read to a worker. A worker that died a
   * moment ago (its exit not seen yet) refuses the write: the next one is tried.
   */
  private handOver(socket: Socket, bytes: Buffer, room: string | null, tried: Set<Slot>): void {
    const slot = this.pick(room, tried);
    if (!slot?.child) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      socket.destroySoon();
      return;
    }
    const msg: HandedConnection = { type: 'switchboard:connection', head: bytes.toString('latin1') };
    // keepOpen, then our copy is closed as soon as the descriptor is written to the channel (the
    // message in flight holds it). With keepOpen false Node closes it only when the worker's
    // acknowledgement arrives, and once one was never closed: when that worker was SIGKILLed,
    // its client's connection stayed open (held by the primary) and the client never noticed.
    slot.child.send(msg, socket, { keepOpen: true }, (err) => {
      if (!err) return socket.destroy();
      slot.ready = false;
      tried.add(slot);
      this.handOver(socket, bytes, room, tried);
    });
  }

  /** The room's home process when it is ready, else the next ready process in turn (none of `skip`). */
  private pick(room: string | null, skip: Set<Slot> = new Set()): Slot | null {
    if (room !== null) {
      const home = this.slots[homeProcess(room, this.slots.length)];
      if (home.ready && home.child && !skip.has(home)) return home;
    }
    for (let i = 0; i < this.slots.length; i++) {
      const slot = this.slots[(this.rr + i) % this.slots.length];
      if (slot.ready && slot.child && !skip.has(slot)) {
        this.rr = (this.rr + i + 1) % this.slots.length;
        return slot;
      }
    }
    return null;
  }

  // ---- stopping ----

  private finished: (() => void) | null = null;

  /** Forwards the signal to every worker (SIGTERM: they drain) and resolves with the exit code once all have exited. */
  stop(signal: 'SIGTERM' | 'SIGINT'): Promise<number> {
    return new Promise((resolve) => {
      this.finished = () => resolve(this.exitCode);
      if (this.stopping) return this.maybeFinish();
      this.stopping = signal;
      this.log.info({ signal, processes: this.slots.filter((s) => s.child).length }, 'stopping the node: signalling its processes');
      for (const slot of this.slots) {
        if (slot.restartTimer) clearTimeout(slot.restartTimer);
        slot.restartTimer = null;
        slot.child?.kill(signal);
      }
      this.maybeFinish();
    });
  }

  /** Kills every worker at once (the primary gives up waiting). */
  killAll(): void {
    for (const slot of this.slots) slot.child?.kill('SIGKILL');
  }

  private maybeFinish(): void {
    if (this.slots.some((s) => s.child)) return;
    for (const socket of this.reading) socket.destroy();
    this.server?.close();
    this.finished?.();
  }

  /** Node ids, pids and URLs of the workers (logs, tests). */
  get processes(): Array<{ nodeId: string; pid: number | null; url: string | null; ready: boolean }> {
    return this.slots.map((s) => ({ nodeId: s.plan.nodeId, pid: s.child?.pid ?? null, url: s.url, ready: s.ready }));
  }
}

/**
 * Stops the primary reading the socket before it is handed over. pause() is
 * not enough: it only stops 'data' events, and libuv goes on reading into the
 * stream until the worker acknowledges the handle and the primary's copy is
 * closed; bytes the client sends in that window (its first message, right
 * after the 101 it got from the worker) were read here and lost (1 connection
 * in ~3,000). With reading stopped, they stay in the kernel for the worker.
 */
function stopReading(socket: Socket): void {
  socket.pause();
  const handle = (socket as unknown as { _handle?: { readStop?: () => number; reading?: boolean } })._handle;
  if (handle?.readStop) {
    handle.reading = false;
    handle.readStop();
  }
}

/** main.ts with NODE_PROCESSES > 1: runs the node's primary until its workers have stopped. */
export async function runPrimary(config: Config, log: Logger): Promise<void> {
  const front = new ProcessFront(config, log);
  let failed = false;
  const stop = (signal: 'SIGTERM' | 'SIGINT') => {
    // The workers give up on their own after this long (main.ts); the primary waits a little longer.
    const force = setTimeout(
      () => {
        log.error('worker processes did not stop in time: killing them');
        front.killAll();
        process.exit(1);
      },
      30_000 + (signal === 'SIGTERM' ? config.cluster.drainTimeoutSeconds * 1000 : 0),
    );
    force.unref();
    void front.stop(signal).then((code) => process.exit(failed ? 1 : code));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // Last resort (docs/reliability.md): an uncaught exception in the primary stops the workers quickly and exits 1.
  installProcessGuards(log, () => {
    failed = true;
    stop('SIGINT');
  });
  try {
    await front.start();
  } catch (err) {
    log.error({ err: (err as Error).message }, 'the node could not start all its processes');
    const code = await front.stop('SIGINT');
    process.exit(code || 1);
  }
}
