// The anchor of `bench/signaling --baseline bare`: the least a hub must do
// for the bench's load, run as its own process like the real server. `ws`
// (no compression) + jose RS256 (key imported once, audience checked), rooms
// in memory, the relay with `from` added. It answers exactly what the
// generators and the probe send: auth -> ack, join -> joined (+ peer-joined
// to the room), offer -> relayed to `to`, ping -> ack with server_time; the
// token may also come as ?token=. GET /health gives pid and counts.
// No database, no keep-alive pings, no limits, no metrics: whatever the
// product does beyond this is what the ratio switchboard/bare prices.
//
// Env: PORT, HOST (127.0.0.1), JWT_PUBLIC_KEY_FILE, JWT_AUDIENCE (switchboard).

import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { importSPKI, jwtVerify } from 'jose';
import { WebSocketServer, type WebSocket } from 'ws';

interface Peer {
  ws: WebSocket;
  /** Messages that arrived while a token was being verified (handled after it, in order); null when none is. */
  queue: string[] | null;
  user: string | null;
  id: string | null;
  room: Map<string, Peer> | null;
  roomName: string;
  info: Record<string, unknown> | null;
}

const key = await importSPKI(readFileSync(process.env['JWT_PUBLIC_KEY_FILE']!, 'utf8'), 'RS256');
const audience = process.env['JWT_AUDIENCE'] ?? 'switchboard';
const rooms = new Map<string, Map<string, Peer>>();
let connections = 0;
let participants = 0;

const verify = async (token: string) =>
  (await jwtVerify(token, key, { algorithms: ['RS256'], audience, requiredClaims: ['exp', 'sub'] })).payload.sub!;
const reply = (p: Peer, type: string, id: unknown, payload: unknown) => p.ws.send(JSON.stringify({ type, id, payload }));
const fail = (p: Peer, id: unknown, code: string) => reply(p, 'error', id, { code, message: code });

/** Handles one message at once; only a token's verification waits (the messages after it queue). */
function onMessage(p: Peer, text: string): void {
  if (p.queue) return void p.queue.push(text);
  let msg: { type: string; id?: string; payload?: Record<string, string> };
  try {
    msg = JSON.parse(text);
  } catch {
    return fail(p, undefined, 'invalid_message');
  }
  const data = msg.payload ?? {};
  if (msg.type === 'ping') return reply(p, 'ack', msg.id, { server_time: Date.now() });
  if (msg.type === 'auth') return authenticate(p, data['token'] ?? '', msg.id);
  if (!p.user) return fail(p, msg.id, 'unauthorized');
  if (msg.type === 'join' && !p.room) {
    const room = rooms.get(data['room']) ?? new Map<string, Peer>();
    rooms.set(data['room'], room);
    p.id = randomUUID();
    p.info = { participant_id: p.id, user_id: p.user, display_name: p.user, joined_at: new Date().toISOString() };
    for (const mate of room.values()) reply(mate, 'peer-joined', undefined, { participant: p.info });
    room.set(p.id, p);
    p.room = room;
    p.roomName = data['room'];
    participants++;
    const others = [...room.values()].map((x) => x.info);
    return reply(p, 'joined', msg.id, { participant_id: p.id, room_state: { room: data['room'], participants: others } });
  }
  if (msg.type === 'offer' && p.room) {
    const to = p.room.get(data['to']);
    if (!to) return fail(p, msg.id, 'not_found');
    return to.ws.send(JSON.stringify({ type: 'offer', payload: { ...data, from: p.id } }));
  }
  fail(p, msg.id, 'unsupported');
}

/** Verifies a token (auth message, or the URL's when id is null), then handles what queued meanwhile. */
function authenticate(p: Peer, token: string, id: string | undefined | null): void {
  p.queue = [];
  void verify(token)
    .catch(() => null)
    .then((user) => {
      p.user = user;
      if (id === null && !user) p.ws.close(4001, 'unauthorized');
      else if (id !== null)
        reply(p, user ? 'ack' : 'error', id, user ? { user_id: user } : { code: 'unauthorized', message: 'unauthorized' });
      const queued = p.queue ?? [];
      p.queue = null;
      for (const text of queued) onMessage(p, text);
    });
}

function leave(p: Peer): void {
  connections--;
  if (!p.room || !p.id) return;
  p.room.delete(p.id);
  participants--;
  for (const mate of p.room.values()) reply(mate, 'peer-left', undefined, { participant_id: p.id });
  if (p.room.size === 0) rooms.delete(p.roomName);
}

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false, maxPayload: 64 * 1024 });
const http = createServer((req, res) => {
  if (req.method !== 'GET' || req.url !== '/health') return void res.writeHead(404).end();
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ status: 'ok', kind: 'bare', connections, participants, rooms: rooms.size, process: { pid: process.pid } }));
});
http.on('upgrade', (req, socket, head) => {
  socket.on('error', () => {});
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname !== '/ws') return void socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
  wss.handleUpgrade(req, socket, head, (ws) => {
    const p: Peer = { ws, queue: null, user: null, id: null, room: null, roomName: '', info: null };
    connections++;
    const token = url.searchParams.get('token');
    if (token) authenticate(p, token, null);
    ws.on('message', (data) => onMessage(p, String(data)));
    ws.on('error', () => {});
    ws.on('close', () => leave(p));
  });
});
http.listen(Number(process.env['PORT']), process.env['HOST'] ?? '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
