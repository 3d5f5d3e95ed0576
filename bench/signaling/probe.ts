// One extra connection, held by the orchestrator, that sends a protocol
// `ping` every few milliseconds during each relay step and times the ack. The
// relay latency the generators measure mixes the server's event loop with
// delivery to 20k sockets; the probe's round trip is the server's event loop
// alone (and loopback), so a relay spike with a quiet probe is not a stall of
// the server. With several processes it measures the process it lands on.

import { importPKCS8, SignJWT } from 'jose';
import WebSocket from 'ws';
import { Histogram, type LatencySummaryMs } from './histogram.js';

const INTERVAL_MS = 10;

export interface ProbeResult {
  rtt_ms: LatencySummaryMs;
  /** Worst round trip in each second of the step: lines up with max_latency_ms_per_second. */
  rtt_max_ms_per_second: number[];
  /** Pings with no ack when the step ended. */
  unanswered: number;
  /**
   * For the worst ping of each second: [to the server, back], in ms, from the
   * ack's server_time (1 ms resolution). The wall clock may be slewed against
   * the monotonic one, so the offset between them is taken from the fastest
   * ping of the step (split evenly). Tells a request that waited to be read
   * from an answer that waited to be delivered.
   */
  worst_split_ms_per_second: Array<[number, number]>;
  /** How late the probe's own 10 ms timer fired, worst per second: a late probe inflates its round trips. */
  own_lateness_max_ms_per_second: number[];
}

export class ServerProbe {
  private readonly sent = new Map<string, number>();
  private hist = new Histogram();
  private perSecond: number[] = [];
  /** The worst ping of each second: sent and answered (performance clock) and the server's Date.now(). */
  private worst: Array<{ sentAt: number; now: number; serverTime: number }> = [];
  /** serverTime − midpoint of the fastest ping: the wall clock's offset from the performance clock. */
  private offset = { rtt: Infinity, value: 0 };
  private startedAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private seq = 0;
  private lateness: number[] = [];
  private lastTick = 0;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => this.onMessage(String(data)));
  }

  static async open(wsUrl: string, privatePem: string, audience: string): Promise<ServerProbe> {
    const key = await importPKCS8(privatePem, 'RS256');
    const token = await new SignJWT({ role: 'viewer' })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
      .setSubject('bench-probe')
      .setAudience(audience)
      .setIssuedAt()
      .setExpirationTime('6h')
      .sign(key);
    const ws = new WebSocket(`${wsUrl}?token=${token}`);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.on('error', () => {}); // a probe that breaks reports unanswered pings, it does not stop the bench
    return new ServerProbe(ws);
  }

  start(): void {
    this.stop();
    this.hist = new Histogram();
    this.perSecond = [];
    this.worst = [];
    this.offset = { rtt: Infinity, value: 0 };
    this.sent.clear();
    this.lateness = [];
    this.startedAt = performance.now();
    this.lastTick = this.startedAt;
    this.timer = setInterval(() => {
      const now = performance.now();
      const second = Math.floor((now - this.startedAt) / 1000);
      this.lateness[second] = Math.max(this.lateness[second] ?? 0, now - this.lastTick - INTERVAL_MS);
      this.lastTick = now;
      if (this.ws.readyState !== WebSocket.OPEN) return;
      const id = `p${++this.seq}`;
      this.sent.set(id, performance.now());
      this.ws.send(`{"type":"ping","id":"${id}","payload":{}}`);
    }, INTERVAL_MS);
  }

  /** Ends the step: pings still in flight count as unanswered, with their age as their round trip. */
  stop(): ProbeResult {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const now = performance.now();
    for (const at of this.sent.values()) this.record(at, now);
    const unanswered = this.sent.size;
    this.sent.clear();
    return {
      rtt_ms: this.hist.summaryMs(),
      rtt_max_ms_per_second: Array.from(this.perSecond, (us) => Math.round((us ?? 0) / 100) / 10),
      worst_split_ms_per_second: Array.from(this.worst, (w): [number, number] => {
        if (!w || !Number.isFinite(w.serverTime)) return [0, 0];
        const handled = w.serverTime - this.offset.value;
        return [Math.round(handled - w.sentAt), Math.round(w.now - handled)];
      }),
      unanswered,
      own_lateness_max_ms_per_second: Array.from(this.lateness, (ms) => Math.round((ms ?? 0) * 10) / 10),
    };
  }

  close(): void {
    this.stop();
    this.ws.terminate();
  }

  private onMessage(text: string): void {
    const id = /"id":"(p\d+)"/.exec(text)?.[1];
    const at = id ? this.sent.get(id) : undefined;
    if (at === undefined) return;
    this.sent.delete(id!);
    const serverTime = Number(/"server_time":(\d+)/.exec(text)?.[1]);
    this.record(at, performance.now(), serverTime);
  }

  private record(sentAt: number, now: number, serverTime = NaN): void {
    const us = (now - sentAt) * 1000;
    this.hist.record(us);
    if (Number.isFinite(serverTime) && now - sentAt < this.offset.rtt)
      this.offset = { rtt: now - sentAt, value: serverTime - (sentAt + now) / 2 };
    const second = Math.floor((sentAt - this.startedAt) / 1000);
    if (us < (this.perSecond[second] ?? 0)) return;
    this.perSecond[second] = us;
    this.worst[second] = { sentAt, now, serverTime };
  }
}
