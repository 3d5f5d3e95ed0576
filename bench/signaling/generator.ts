// A load generator process, forked by run.ts. It owns whole rooms, so the
// sender and the receiver of every relayed message share one clock: latency is
// the receive time minus the send time written into the offer's sdp.
// Raw `ws` (no SignalingClient) keeps the generator's own cost per message low.

import { importPKCS8, SignJWT } from 'jose';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';
import { Histogram } from './histogram.js';
import type { FromGenerator, InitCmd, JoinCmd, RelayCmd, ToGenerator } from './ipc.js';

const enum State {
  Idle,
  Connecting,
  Authenticating,
  Joining,
  Joined,
  Failed,
  Dropped,
}

interface Client {
  index: number;
  room: number; // index into rooms
  user: string;
  token: string;
  state: State;
  ws: WebSocket | null;
  pid: string;
  t0: number;
  tStage: number;
  timer: NodeJS.Timeout | null;
  lastError: string | null;
}

interface Room {
  name: string;
  clients: Client[];
  members: Client[]; // joined, filled after the join phase
}

const OFFER_PREFIX = Buffer.from('{"type":"offer"');
const TS_MARK = Buffer.from('"sdp":"ts=');

let init: InitCmd;
let rooms: Room[] = [];
let clients: Client[] = [];
let filler = ''; // JSON-escaped sdp body after the timestamp

// Counters after the join phase.
const dropped: Record<string, number> = {};
const serverErrors: Record<string, number> = {};

// Relay phase state (read by the fast receive path).
let relayHist: Histogram | null = null;
let relayReceived = 0;
let relayInWindow = 0;
let relayWarmEnd = 0; // performance.now() ms
let relayWindowEnd = 0;
let relayStart = 0;
let relayMaxPerSecond: number[] = []; // worst latency (us) of messages received in each second

function send(msg: FromGenerator): void {
  process.send?.(msg);
}

const bump = (map: Record<string, number>, key: string) => {
  map[key] = (map[key] ?? 0) + 1;
};

/** A plausible SDP body so the ~sdpBytes string has the escapes a real one has. */
function makeFiller(sdpBytes: number): string {
  const lines = [
    'v=0',
    'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
    's=-',
    't=0 0',
    'a=group:BUNDLE 0 1',
    'a=msid-semantic: WMS stream',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8',
    'c=IN IP4 0.0.0.0',
    'a=rtcp:9 IN IP4 0.0.0.0',
    'a=ice-ufrag:Bq3v',
    'a=ice-pwd:m1TfjDG0f1u7pBQnQ4GjcZ3y',
    'a=fingerprint:sha-256 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64',
    'a=setup:actpass',
    'a=mid:0',
    'a=sendrecv',
    'a=rtcp-mux',
    'a=rtpmap:111 opus/48000/2',
  ];
  let body = '';
  for (let i = 0; body.length < sdpBytes; i++) body += `${lines[i % lines.length]}\r\n`;
  // "ts=<16 digits>;" comes first.
  body = body.slice(0, Math.max(0, sdpBytes - 20));
  return JSON.stringify(body).slice(1, -1);
}

async function onInit(cmd: InitCmd): Promise<void> {
  init = cmd;
  filler = makeFiller(cmd.sdpBytes);
  const started = performance.now();
  const key = await importPKCS8(cmd.privatePem, 'RS256'); // once
  const exp = Math.floor(Date.now() / 1000) + 3 * 3600;
  rooms = [];
  clients = [];
  for (let r = 0; r < cmd.roomCount; r++) {
    const room: Room = { name: `${cmd.roomPrefix}${cmd.firstRoom + r}`, clients: [], members: [] };
    for (let k = 0; k < cmd.roomSize; k++) {
      const client: Client = {
        index: clients.length,
        room: r,
        user: `u${cmd.firstRoom + r}-${k}`,
        token: '',
        state: State.Idle,
        ws: null,
        pid: '',
        t0: 0,
        tStage: 0,
        timer: null,
        lastError: null,
      };
      room.clients.push(client);
      clients.push(client);
    }
    rooms.push(room);
  }
  // WebCrypto signs on the libuv thread pool: a few in flight use every core.
  let next = 0;
  const worker = async () => {
    while (next < clients.length) {
      const c = clients[next++];
      c.token = await new SignJWT({ role: 'speaker' })
        .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
        .setSubject(c.user)
        .setAudience(cmd.audience)
        .setIssuedAt()
        .setExpirationTime(exp)
        .sign(key);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  send({ ev: 'ready', tokens: clients.length, mintMs: Math.round(performance.now() - started) });
}

function errorCode(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code) return code;
  if (/handshake has timed out/i.test(err.message)) return 'handshake_timeout';
  if (/socket hang up/i.test(err.message)) return 'socket_hang_up';
  if (/closed before the connection/i.test(err.message)) return 'closed_before_open';
  return err.message.slice(0, 40).replace(/\s+/g, '_');
}

function runJoin(cmd: JoinCmd): void {
  const hTotal = new Histogram();
  const hConnect = new Histogram();
  const hAuth = new Histogram();
  const hJoin = new Histogram();
  const failures: Record<string, number> = {};
  const cpu0 = process.cpuUsage();
  const startedAt = Date.now();
  let next = 0;
  let inflight = 0;
  let ok = 0;
  let failed = 0;
  let finished = false;

  const progress = setInterval(() => send({ ev: 'join-progress', ok, failed, inflight }), 1000);

  const finish = () => {
    if (finished) return;
    finished = true;
    clearInterval(progress);
    for (const room of rooms) room.members = room.clients.filter((c) => c.state === State.Joined);
    const cpu = process.cpuUsage(cpu0);
    send({
      ev: 'join-done',
      attempted: clients.length,
      ok,
      failures,
      startedAt,
      endedAt: Date.now(),
      total: hTotal.toJSON(),
      connect: hConnect.toJSON(),
      auth: hAuth.toJSON(),
      join: hJoin.toJSON(),
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
    });
  };

  const settle = (c: Client, reason: string | null) => {
    if (c.timer) clearTimeout(c.timer);
    c.timer = null;
    inflight--;
    if (reason === null) {
      ok++;
      c.state = State.Joined;
    } else {
      failed++;
      c.state = State.Failed;
      bump(failures, reason);
      c.ws?.terminate();
    }
    pump();
  };

  const stageName = (s: State) => (s === State.Connecting ? 'connect' : s === State.Authenticating ? 'auth' : 'join');

  const start = (c: Client) => {
    c.state = State.Connecting;
    c.t0 = performance.now();
    // ?room= lets a multi-process node hand the connection to the room's process (and ?token= saves the auth round trip).
    const room = encodeURIComponent(rooms[c.room].name);
    const ws = new WebSocket(`${init.url}?room=${room}${init.urlToken ? `&token=${c.token}` : ''}`, {
      perMessageDeflate: false,
      handshakeTimeout: cmd.timeoutMs,
      localAddress: init.sources[(c.index + init.index) % init.sources.length],
    });
    c.ws = ws;
    c.timer = setTimeout(() => settle(c, `timeout_${stageName(c.state)}`), cmd.timeoutMs);
    ws.on('open', () => {
      if (c.state !== State.Connecting) return;
      const now = performance.now();
      hConnect.record((now - c.t0) * 1000);
      c.tStage = now;
      if (init.urlToken) {
        // The server verifies the URL's token first; a join sent meanwhile waits for it.
        c.state = State.Joining;
        ws.send(`{"type":"join","id":"2","payload":{"room":"${rooms[c.room].name}"}}`);
        return;
      }
      c.state = State.Authenticating;
      ws.send(`{"type":"auth","id":"1","payload":{"token":"${c.token}"}}`);
    });
    ws.on('message', (data: Buffer) => onMessage(c, data));
    ws.on('error', (err) => {
      c.lastError = errorCode(err);
    });
    ws.on('unexpected-response', (_req, res) => {
      if (c.state === State.Connecting) settle(c, `http_${res.statusCode}`);
      ws.terminate();
    });
    ws.on('close', (code) => {
      if (c.state === State.Joined) {
        c.state = State.Dropped;
        bump(dropped, `close_${code}`);
      } else if (c.state === State.Connecting || c.state === State.Authenticating || c.state === State.Joining) {
        settle(c, c.state === State.Connecting ? `connect_${c.lastError ?? `close_${code}`}` : `${stageName(c.state)}_close_${code}`);
      }
    });
  };

  // Replies during the join handshake (JSON-parsed; the relay path below is not).
  joinReply = (c, msg) => {
    const now = performance.now();
    if (c.state === State.Authenticating && msg.id === '1') {
      if (msg.type !== 'ack') return settle(c, `auth_${msg.payload?.code ?? msg.type}`);
      hAuth.record((now - c.tStage) * 1000);
      c.state = State.Joining;
      c.tStage = now;
      c.ws!.send(`{"type":"join","id":"2","payload":{"room":"${rooms[c.room].name}"}}`);
    } else if (c.state === State.Joining && msg.id === '2') {
      if (msg.type !== 'joined') return settle(c, `join_${msg.payload?.code ?? msg.type}`);
      hJoin.record((now - c.tStage) * 1000);
      hTotal.record((now - c.t0) * 1000);
      c.pid = msg.payload!.participant_id!;
      settle(c, null);
    }
  };

  const pump = () => {
    while (inflight < cmd.concurrency && next < clients.length) {
      inflight++;
      start(clients[next++]);
    }
    if (inflight === 0 && next >= clients.length) finish();
  };
  pump();
}

/** A server message as the handshake reads it: `joined` carries participant_id, `error` a code. */
type Msg = { type: string; id?: string; payload?: { participant_id?: string; code?: string } };
let joinReply: (c: Client, msg: Msg) => void = () => {};

function onMessage(c: Client, data: Buffer): void {
  if (c.state === State.Joined && data.length > 40 && data.compare(OFFER_PREFIX, 0, OFFER_PREFIX.length, 0, OFFER_PREFIX.length) === 0) {
    const at = data.indexOf(TS_MARK, 20);
    if (at >= 0 && relayHist) {
      let ts = 0;
      for (let k = at + TS_MARK.length; k < data.length; k++) {
        const d = data[k] - 48;
        if (d < 0 || d > 9) break;
        ts = ts * 10 + d;
      }
      const now = performance.now();
      const us = now * 1000 - ts;
      relayReceived++;
      if (now <= relayWindowEnd) relayInWindow++;
      if (now >= relayWarmEnd) relayHist.record(us);
      const sec = ((now - relayStart) / 1000) | 0;
      if (!(us <= (relayMaxPerSecond[sec] ?? -1))) relayMaxPerSecond[sec] = us;
    }
    return;
  }
  let msg: Msg;
  try {
    msg = JSON.parse(data.toString());
  } catch {
    return;
  }
  if (msg.type === 'error') bump(serverErrors, String(msg.payload?.code ?? 'unknown'));
  if (c.state !== State.Joined) joinReply(c, msg);
}

function runRelay(cmd: RelayCmd): void {
  const senders = clients.filter((c) => c.state === State.Joined && rooms[c.room].members.length >= 2);
  relayHist = new Histogram();
  relayReceived = 0;
  relayInWindow = 0;
  const errorsBefore = { ...serverErrors };
  const t0 = performance.now();
  relayStart = t0;
  relayMaxPerSecond = [];
  relayWarmEnd = t0 + cmd.warmupMs;
  relayWindowEnd = t0 + cmd.durationMs;
  const cpu0 = process.cpuUsage();
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  let sent = 0;
  let skipped = 0;
  const maxLag = Math.max(1, Math.round(cmd.rate * 0.1)); // 100 ms of schedule

  const sendOne = () => {
    const c = senders[(Math.random() * senders.length) | 0];
    const ws = c.ws!;
    if (c.state !== State.Joined || ws.readyState !== WebSocket.OPEN) {
      skipped++;
      return;
    }
    const members = rooms[c.room].members;
    let target = c;
    while (target === c) target = members[(Math.random() * members.length) | 0]!;
    ws.send(`{"type":"offer","payload":{"to":"${target.pid}","sdp":"ts=${Math.round(performance.now() * 1000)};${filler}"}}`);
    sent++;
  };

  let timer: NodeJS.Timeout | null = null;
  let cpuSending = 0;
  const finishSending = () => {
    if (timer) clearInterval(timer);
    timer = null;
    loop.disable();
    const cpu = process.cpuUsage(cpu0);
    cpuSending = (cpu.user + cpu.system) / 1e6;
    setTimeout(report, cmd.drainMs);
  };
  const report = () => {
    const latency = relayHist!.toJSON();
    relayHist = null;
    const errs: Record<string, number> = {};
    for (const [k, v] of Object.entries(serverErrors)) if (v !== (errorsBefore[k] ?? 0)) errs[k] = v - (errorsBefore[k] ?? 0);
    send({
      ev: 'relay-done',
      senders: senders.length,
      sent,
      skipped,
      received: relayReceived,
      receivedInWindow: relayInWindow,
      latency,
      maxPerSecondUs: Array.from(relayMaxPerSecond, (v) => v ?? 0),
      serverErrors: errs,
      wallMs: Math.round(cmd.durationMs),
      cpuSeconds: cpuSending,
      // The histogram holds whole timer intervals: the delay is what exceeds the 10 ms resolution.
      loopDelayP99Ms: Math.max(0, Math.round((loop.percentile(99) / 1e6 - 10) * 100) / 100),
      loopDelayMaxMs: Math.max(0, Math.round((loop.max / 1e6 - 10) * 100) / 100),
    });
  };

  if (senders.length === 0 || cmd.rate <= 0) {
    finishSending();
    return;
  }
  timer = setInterval(() => {
    const elapsed = performance.now() - t0;
    const due = Math.floor((cmd.rate * Math.min(elapsed, cmd.durationMs)) / 1000) - sent - skipped;
    let n = due;
    if (n > maxLag) {
      skipped += n - maxLag;
      n = maxLag;
    }
    for (let i = 0; i < n; i++) sendOne();
    if (elapsed >= cmd.durationMs) finishSending();
  }, 1);
}

function stats(): void {
  let joined = 0;
  for (const c of clients) if (c.state === State.Joined) joined++;
  send({ ev: 'stats', joined, dropped: { ...dropped }, serverErrors: { ...serverErrors } });
}

process.on('message', (msg: ToGenerator) => {
  try {
    switch (msg.cmd) {
      case 'init':
        onInit(msg).catch((err) => send({ ev: 'fatal', message: String(err?.stack ?? err) }));
        break;
      case 'join':
        runJoin(msg);
        break;
      case 'relay':
        runRelay(msg);
        break;
      case 'stats':
        stats();
        break;
      case 'exit':
        for (const c of clients) c.ws?.terminate();
        setTimeout(() => process.exit(0), 50);
        break;
    }
  } catch (err) {
    send({ ev: 'fatal', message: String((err as Error)?.stack ?? err) });
  }
});
// The orchestrator is gone (crash, SIGKILL): do not linger holding sockets.
process.on('disconnect', () => process.exit(0));
