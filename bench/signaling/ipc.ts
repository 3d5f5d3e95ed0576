// Messages between the orchestrator (run.ts) and its load generators (generator.ts).

import type { HistogramJson } from './histogram.js';

export interface InitCmd {
  cmd: 'init';
  index: number;
  url: string; // ws://127.0.0.1:PORT/ws
  privatePem: string;
  audience: string;
  /** Rooms this generator owns: names `${roomPrefix}${firstRoom + i}` for i < roomCount. */
  roomPrefix: string;
  firstRoom: number;
  roomCount: number;
  roomSize: number;
  sources: string[]; // local addresses for the client sockets
  sdpBytes: number;
  /** Send the token as ?token= on the URL instead of an auth message (one round trip less per join). */
  urlToken: boolean;
}

export interface JoinCmd {
  cmd: 'join';
  concurrency: number;
  timeoutMs: number;
}

export interface RelayCmd {
  cmd: 'relay';
  rate: number; // messages/s this generator sends
  durationMs: number;
  warmupMs: number;
  drainMs: number;
}

export type ToGenerator = InitCmd | JoinCmd | RelayCmd | { cmd: 'stats' } | { cmd: 'exit' };

export interface ReadyEv {
  ev: 'ready';
  tokens: number;
  mintMs: number;
}

export interface JoinProgressEv {
  ev: 'join-progress';
  ok: number;
  failed: number;
  inflight: number;
}

export interface JoinDoneEv {
  ev: 'join-done';
  attempted: number;
  ok: number;
  failures: Record<string, number>;
  startedAt: number; // Date.now() of the first connect
  endedAt: number; // Date.now() when the last attempt settled
  total: HistogramJson; // connect start -> joined
  connect: HistogramJson; // connect start -> WebSocket open
  auth: HistogramJson; // auth sent -> ack
  join: HistogramJson; // join sent -> joined
  cpuSeconds: number;
}

export interface StatsEv {
  ev: 'stats';
  joined: number; // still open and joined
  dropped: Record<string, number>; // joined connections closed since, by close code
  serverErrors: Record<string, number>;
}

export interface RelayDoneEv {
  ev: 'relay-done';
  senders: number;
  sent: number;
  skipped: number; // sends given up because the generator fell > 100 ms behind schedule
  received: number; // until the end of the drain
  receivedInWindow: number; // received while sending
  latency: HistogramJson; // after warm-up
  maxPerSecondUs: number[]; // worst latency of the messages received in second i of the step (drain included)
  serverErrors: Record<string, number>;
  wallMs: number;
  cpuSeconds: number; // this generator's CPU while sending (not the drain)
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

export type FromGenerator = ReadyEv | JoinProgressEv | JoinDoneEv | StatsEv | RelayDoneEv | { ev: 'fatal'; message: string };
