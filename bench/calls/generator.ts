// A bench/calls load generator process, forked by run.ts. It holds its share
// of the reachable users (authenticated connections, not in any room) and
// places calls between two of its own idle users at the asked rate, so the
// caller and the callee share one clock: invite -> call-incoming -> accept ->
// both in the call, then the caller hangs up after holdMs.
// Raw `ws` (no SignalingClient) keeps the generator's own cost low.

import { importPKCS8, SignJWT } from 'jose';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';
import { Histogram } from '../signaling/histogram.js';
import type { FromGenerator, InitCmd, StepCmd, ToGenerator } from './ipc.js';

interface User {
  id: string;
  ws: WebSocket;
  busy: boolean;
  /** The setup this user takes part in (as caller or callee). */
  setup: Setup | null;
}

interface Setup {
  caller: User;
  callee: User;
  t0: number;
  callId: string | null;
  rang: boolean;
  accepted: boolean; // the caller heard call-accepted
  joined: boolean; // the callee got joined
  done: boolean;
  timer: NodeJS.Timeout;
}

interface Message {
  type: string;
  id?: string;
  payload: { call_id?: string; code?: string };
}

const send = (m: FromGenerator) => process.send?.(m);
let users: User[] = [];
const idle: User[] = [];
let stepStats: { started: number; completed: number; failed: number; skipped: number; errors: Record<string, number> } | null = null;
let setupHist = new Histogram();
let ringHist = new Histogram();
let stepCfg: StepCmd | null = null;
let nextId = 1;

function take(): User | null {
  const u = idle.pop();
  if (!u) return null;
  u.busy = true;
  return u;
}

function release(u: User): void {
  u.setup = null;
  if (!u.busy) return;
  u.busy = false;
  idle.push(u);
}

function fail(s: Setup, why: string): void {
  if (s.done) return;
  s.done = true;
  clearTimeout(s.timer);
  if (stepStats) {
    stepStats.failed++;
    stepStats.errors[why] = (stepStats.errors[why] ?? 0) + 1;
  }
  // Leave whatever room either side is in, so both are idle for the next call.
  for (const u of [s.caller, s.callee])
    if (u.ws.readyState === WebSocket.OPEN) u.ws.send(JSON.stringify({ type: 'leave', id: String(nextId++), payload: {} }));
  setTimeout(() => {
    release(s.caller);
    release(s.callee);
  }, 500);
}

function complete(s: Setup): void {
  if (s.done || !s.accepted || !s.joined) return;
  s.done = true;
  clearTimeout(s.timer);
  setupHist.record((performance.now() - s.t0) * 1000);
  if (stepStats) stepStats.completed++;
  const hold = stepCfg?.holdMs ?? 0;
  // With an id: its ack says the caller is out, free for the next call.
  setTimeout(() => s.caller.ws.send(JSON.stringify({ type: 'leave', id: String(nextId++), payload: {} })), hold);
}

function onMessage(u: User, raw: string): void {
  const m = JSON.parse(raw) as Message;
  const s = u.setup;
  switch (m.type) {
    case 'ack':
      if (s && u === s.caller && m.payload.call_id && s.callId === null) s.callId = m.payload.call_id;
      else if (s?.done && u === s.caller) release(u); // the caller's leave: hung up
      return;
    case 'call-incoming': {
      if (!s || u !== s.callee || s.rang) return;
      s.rang = true;
      ringHist.record((performance.now() - s.t0) * 1000);
      u.ws.send(JSON.stringify({ type: 'call-accept', id: String(nextId++), payload: { call_id: m.payload.call_id } }));
      return;
    }
    case 'joined':
      if (s && u === s.callee) {
        s.joined = true;
        complete(s);
      }
      return;
    case 'call-accepted':
      if (s && u === s.caller) {
        s.accepted = true;
        complete(s);
      }
      return;
    case 'call-ended':
      // The call is over for this side (the caller's leave ended a direct call for both).
      if (s?.done) release(u);
      return;
    case 'error':
      if (s && !s.done) fail(s, m.payload.code ?? 'error');
      else if (s?.done) release(u); // a hang-up that found the call over already
      return;
  }
}

function startSetup(): void {
  if (!stepStats) return;
  if (idle.length < 2) {
    stepStats.skipped++;
    return;
  }
  const caller = take();
  const callee = take();
  if (!caller || !callee) return;
  const s: Setup = {
    caller,
    callee,
    t0: performance.now(),
    callId: null,
    rang: false,
    accepted: false,
    joined: false,
    done: false,
    timer: setTimeout(() => fail(s, 'timeout'), stepCfg?.timeoutMs ?? 10_000),
  };
  caller.setup = s;
  callee.setup = s;
  stepStats.started++;
  caller.ws.send(JSON.stringify({ type: 'call-invite', id: String(nextId++), payload: { to: [callee.id], media: 'audio' } }));
}

async function connectAll(cmd: InitCmd): Promise<void> {
  const started = performance.now();
  const key = await importPKCS8(cmd.privatePem, 'RS256');
  const token = (sub: string) =>
    new SignJWT({ name: sub, role: 'speaker' })
      .setProtectedHeader({ alg: 'RS256' })
      .setSubject(sub)
      .setAudience(cmd.audience)
      .setIssuedAt()
      .setExpirationTime('2h')
      .sign(key);
  let failed = 0;
  const connectOne = async (i: number): Promise<User | null> => {
    const id = `u${cmd.first + i}`;
    const url = `${cmd.url.replace(/^http/, 'ws')}/ws?token=${await token(id)}`;
    return new Promise((resolve) => {
      const ws = new WebSocket(url);
      const timer = setTimeout(() => {
        ws.terminate();
        resolve(null);
      }, 30_000);
      ws.once('error', () => {
        clearTimeout(timer);
        resolve(null);
      });
      ws.on('message', function first(data) {
        const m = JSON.parse(String(data)) as Message;
        if (m.type !== 'authenticated') return;
        ws.off('message', first);
        clearTimeout(timer);
        const u: User = { id, ws, busy: false, setup: null };
        ws.on('message', (d) => onMessage(u, String(d)));
        ws.on('close', () => {
          u.busy = true; // a dropped user is never picked again
        });
        resolve(u);
      });
    });
  };
  for (let i = 0; i < cmd.count; i += cmd.concurrency) {
    const batch = await Promise.all(Array.from({ length: Math.min(cmd.concurrency, cmd.count - i) }, (_, j) => connectOne(i + j)));
    for (const u of batch) {
      if (u) {
        users.push(u);
        idle.push(u);
      } else failed++;
    }
  }
  send({ ev: 'ready', connected: users.length, failed, seconds: (performance.now() - started) / 1000 });
}

async function runStep(cmd: StepCmd): Promise<void> {
  stepCfg = cmd;
  stepStats = { started: 0, completed: 0, failed: 0, skipped: 0, errors: {} };
  setupHist = new Histogram();
  ringHist = new Histogram();
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const interval = 1000 / cmd.rate;
  const t0 = performance.now();
  let due = 0;
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const elapsed = performance.now() - t0;
      if (elapsed >= cmd.seconds * 1000) {
        clearInterval(tick);
        resolve();
        return;
      }
      const should = Math.floor(elapsed / interval) + 1;
      while (due < should) {
        due++;
        startSetup();
      }
    }, 5);
  });
  // Let the last setups finish (or time out).
  const deadline = performance.now() + cmd.timeoutMs + 1000;
  while (performance.now() < deadline && stepStats.completed + stepStats.failed < stepStats.started)
    await new Promise((r) => setTimeout(r, 50));
  loop.disable();
  const stats = stepStats;
  stepStats = null;
  send({
    ev: 'step-done',
    ...stats,
    setup: setupHist.toJSON(),
    ring: ringHist.toJSON(),
    loop_p99_ms: loop.percentile(99) / 1e6,
    idle_after: idle.length,
    users: users.length,
  });
  // Calls still held end before the next step starts.
  await new Promise((r) => setTimeout(r, cmd.holdMs + 1000));
}

process.on('message', (m: ToGenerator) => {
  if (m.cmd === 'init') void connectAll(m);
  else if (m.cmd === 'step') void runStep(m);
  else {
    for (const u of users) u.ws.terminate();
    users = [];
    process.exit(0);
  }
});
