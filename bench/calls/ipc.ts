// Messages between bench/calls/run.ts and its generator processes.

import type { HistogramJson } from '../signaling/histogram.js';

export interface InitCmd {
  cmd: 'init';
  url: string;
  /** PKCS#8 PEM the server's JWT_PUBLIC_KEY_FILE matches. */
  privatePem: string;
  audience: string;
  /** This generator's users: `u<first>` .. `u<first + count - 1>`. */
  first: number;
  count: number;
  /** Connections opened at once while connecting. */
  concurrency: number;
}

export interface StepCmd {
  cmd: 'step';
  /** Call setups per second this generator starts. */
  rate: number;
  seconds: number;
  /** How long each call lasts once both are in it. */
  holdMs: number;
  /** A setup not done by then counts as failed. */
  timeoutMs: number;
}

export type ToGenerator = InitCmd | StepCmd | { cmd: 'exit' };

export interface ReadyEv {
  ev: 'ready';
  connected: number;
  failed: number;
  seconds: number;
}

export interface StepDoneEv {
  ev: 'step-done';
  started: number;
  completed: number;
  failed: number;
  /** Setups the generator could not start: no two idle users left. */
  skipped: number;
  errors: Record<string, number>;
  /** invite sent -> caller heard call-accepted and callee got joined. */
  setup: HistogramJson;
  /** invite sent -> callee got call-incoming. */
  ring: HistogramJson;
  /** Users idle (free for the next call) when the step's last setup settled, of `users`. */
  idle_after: number;
  users: number;
  /** Event-loop delay p99 of the generator (ms): a busy generator inflates latency. */
  loop_p99_ms: number;
}

export type FromGenerator = ReadyEv | StepDoneEv | { ev: 'log'; msg: string };
