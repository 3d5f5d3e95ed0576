// A probe repeats one operation at a fixed interval and records each try's
// outcome; after a fault, `recovery()` says when the operation worked again
// for good (the first success after the last failure).

import { SignalingClient, SignalingError } from '../../clients/node/signalingClient.js';
import { errorCode } from './load.js';

export interface ProbeTry {
  at: number;
  ok: boolean;
  ms: number;
  code: string | null;
}

export interface Recovery {
  tries: number;
  failures: number;
  /** Failure codes and their counts. */
  codes: Record<string, number>;
  /** ms from the injection to the first failure (null: nothing failed). */
  first_failure_ms: number | null;
  /** ms from the injection to the end of the first success after the last failure (0: never interrupted; null: not recovered). */
  recovered_ms: number | null;
  /** The slowest try (ms): an operation held up, not refused, shows here. */
  slowest_ms: number;
}

export class Probe {
  readonly tries: ProbeTry[] = [];
  private timer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(
    readonly name: string,
    private readonly intervalMs: number,
    private readonly op: () => Promise<void>,
  ) {}

  start(): this {
    this.timer = setInterval(() => void this.once(), this.intervalMs);
    return this;
  }

  private async once(): Promise<void> {
    if (this.running) return; // one try at a time: a hung try is one failure, not many
    this.running = true;
    const at = Date.now();
    try {
      await this.op();
      this.tries.push({ at, ok: true, ms: Date.now() - at, code: null });
    } catch (err) {
      this.tries.push({
        at,
        ok: false,
        ms: Date.now() - at,
        code: errorCode(err) === 'connect_failed' ? shortMessage(err) : errorCode(err),
      });
    } finally {
      this.running = false;
    }
  }

  /** Outcome of the tries that started at or after `from` (ms), up to `to`. */
  recovery(from: number, to = Date.now()): Recovery {
    const window = this.tries.filter((t) => t.at >= from && t.at <= to);
    const failures = window.filter((t) => !t.ok);
    const codes: Record<string, number> = {};
    for (const f of failures) codes[f.code ?? '?'] = (codes[f.code ?? '?'] ?? 0) + 1;
    const last = failures.at(-1);
    const after = last ? window.find((t) => t.ok && t.at > last.at) : undefined;
    return {
      tries: window.length,
      failures: failures.length,
      codes,
      first_failure_ms: failures[0] ? failures[0].at - from : null,
      recovered_ms: !last ? 0 : after ? after.at + after.ms - from : null,
      slowest_ms: Math.max(0, ...window.map((t) => t.ms)),
    };
  }

  /** True once a try that started after `since` succeeded and none failed after it. */
  recoveredSince(since: number): boolean {
    const recent = this.tries.filter((t) => t.at >= since);
    const lastFail = recent.findLastIndex((t) => !t.ok);
    return recent.slice(lastFail + 1).some((t) => t.ok);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

function shortMessage(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return (
    msg
      .replace(/[^A-Za-z0-9 _-].*$/, '')
      .slice(0, 40)
      .trim()
      .replace(/\s+/g, '_') || 'error'
  );
}

/**
 * A probe's own connection: connected, authenticated and (optionally) joined
 * on demand, again after it was dropped, so a probe recovers as a client would.
 */
export class ProbeClient {
  private client: SignalingClient | null = null;
  private joinedRoom: string | null = null;

  constructor(
    private readonly url: string,
    private readonly user: string,
    private readonly mint: (user: string) => Promise<string>,
    private readonly room: string | null,
  ) {}

  async ready(): Promise<SignalingClient> {
    if (this.client && this.client.closeInfo === null && (this.room === null || this.joinedRoom === this.room)) return this.client;
    if (!this.client || this.client.closeInfo !== null) {
      void this.client?.close();
      this.client = null;
      this.joinedRoom = null;
      const c = await SignalingClient.connect(this.url, { handshakeTimeout: 3000 });
      try {
        await c.request('auth', { token: await this.mint(this.user) }, 5000);
      } catch (err) {
        void c.close();
        throw err;
      }
      this.client = c;
    }
    if (this.room !== null) {
      try {
        await this.client.request('join', { room: this.room }, 5000);
      } catch (err) {
        if (!(err instanceof SignalingError && err.code === 'already_in_room')) throw err;
      }
      this.joinedRoom = this.room;
    }
    return this.client;
  }

  async close(): Promise<void> {
    await this.client?.close();
  }
}
