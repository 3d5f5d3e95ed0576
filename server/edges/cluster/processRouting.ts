// Several processes per node: which process of the node a
// new TCP connection goes to, decided from its HTTP request head. A WebSocket
// upgrade naming a room (`?room=`, else the `room` claim of a `?token=` JWT)
// goes to the process the room's name hashes to, so the participants of a
// room meet on one process; everything else is spread round-robin. Routing is
// only an optimisation: a join that lands elsewhere is relayed to the room's
// process by the cluster relay.

/** signaling/hub.ts WS_PATH (not imported: the primary does not load the hub). */
const WS_PATH = '/ws';

/** FNV-1a (32 bit) of the room name: stable across processes, restarts and Node versions. */
export function roomHash(room: string): number {
  let h = 0x811c9dc5;
  const bytes = Buffer.from(room, 'utf8');
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The process (0 .. processes-1) of the node that a room belongs to. */
export function homeProcess(room: string, processes: number): number {
  return roomHash(room) % processes;
}

/** Worker i's node id. */
export function processNodeId(nodeId: string, index: number): string {
  return `${nodeId}-p${index}`;
}

export interface RequestHead {
  method: string;
  target: string;
  /** Lower-cased header names; the last value of a repeated header. */
  headers: Record<string, string>;
}

/** Where the head ends (index after CRLFCRLF), or -1 while it is incomplete. */
export function headEnd(buf: Buffer): number {
  const i = buf.indexOf('\r\n\r\n', 0, 'latin1');
  return i < 0 ? -1 : i + 4;
}

const REQUEST_LINE = /^([A-Z]{1,16}) (\S{1,8192}) HTTP\/1\.[01]$/;
/** Longest request line accepted (method, target of 8 KiB, version). */
export const MAX_REQUEST_LINE = 8192 + 32;

/** `GET /path HTTP/1.1` (without its CRLF)? */
export function isRequestLine(line: Buffer): boolean {
  return line.length <= MAX_REQUEST_LINE && REQUEST_LINE.test(line.toString('latin1'));
}

/** Parses an HTTP/1.x request head (without the final blank line); null when it is not one (garbage). */
export function parseHead(head: Buffer): RequestHead | null {
  const lines = head.toString('latin1').split('\r\n');
  const m = REQUEST_LINE.exec(lines[0] ?? '');
  if (!m) return null;
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) return null;
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { method: m[1], target: m[2], headers };
}

/** The `room` claim of a JWT, read WITHOUT verifying it (routing only: the worker verifies the token). */
export function unverifiedRoomClaim(token: string): string | null {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1].length > 8192) return null;
  try {
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as { room?: unknown };
    return typeof claims.room === 'string' && claims.room !== '' ? claims.room : null;
  } catch {
    return null;
  }
}

/** The room a request is about, for routing: a WebSocket upgrade to /ws with `?room=` or a token with a room claim. */
export function routingRoom(head: RequestHead): string | null {
  if ((head.headers['upgrade'] ?? '').toLowerCase() !== 'websocket') return null;
  let url: URL;
  try {
    url = new URL(head.target, 'http://localhost');
  } catch {
    return null;
  }
  if (url.pathname !== WS_PATH) return null;
  const room = url.searchParams.get('room');
  if (room) return room;
  const token = url.searchParams.get('token');
  return token ? unverifiedRoomClaim(token) : null;
}
