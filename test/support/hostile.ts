// Hostile HTTP requests written byte for byte on raw sockets: request
// targets that made `new URL()` or decodeURIComponent throw inside a
// listener (which used to end the process), malformed escapes, absolute-form
// and authority-looking targets, NUL bytes, oversized targets, the same on the
// WebSocket upgrade path.

import { connect as tcpConnect } from 'node:net';

export interface RawAnswer {
  /** The status code of the answer, or null when the connection closed without one. */
  status: number | null;
  text: string;
}

/** Writes `bytes` on a new connection and resolves with what came back once the server closed it (bounded). */
export function sendRaw(url: string, bytes: Buffer | string, opts: { localAddress?: string; timeoutMs?: number } = {}): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host: hostname, port: Number(port), ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new Error(
          `no answer and no close within ${opts.timeoutMs ?? 5000} ms for ${JSON.stringify(String(bytes).slice(0, 80))}; got ${JSON.stringify(text.slice(0, 200))}`,
        ),
      );
    }, opts.timeoutMs ?? 5000);
    socket.on('error', () => {}); // a reset counts as a close
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.once('close', () => {
      clearTimeout(timer);
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : null, text });
    });
    socket.write(bytes);
  });
}

const UPGRADE_HEADERS =
  'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

/** A request line with `target` (raw, not encoded), closing the connection after the answer. */
export function rawRequest(method: string, target: string, headers = '', upgrade = false): string {
  return `${method} ${target} HTTP/1.1\r\nHost: localhost\r\n${upgrade ? UPGRADE_HEADERS : 'Connection: close\r\n'}${headers}\r\n`;
}

/** Targets that do not parse, or carry escapes that do not decode, at every listener that reads one. */
export const HOSTILE_TARGETS: string[] = [
  '//',
  '//x:99999',
  '//x:99999/live/r/index.m3u8',
  '/\\x:99999',
  '/%',
  '/%E0%A4%A',
  '/live/%E0%A4%A',
  '/live/%/index.m3u8',
  '/live/%E0%A4%A/index.m3u8?token=%',
  '/api/v1/rooms/%ZZ',
  '/api/v1/rooms/%ZZ/participants',
  '/api/v1/rooms/a%00b',
  '/api/v1/recordings/%/files/x/content',
  '/api/v1/recordings/x/files/%E0%A4%A/content',
  '/calls/%E0%A4%A',
  '/app/%',
  '/app/%00',
  '/ws%',
  'http://',
  'http://x:99999/health',
  '*',
  `/${'a'.repeat(10_000)}`,
  `/live/${'%'.repeat(3000)}/index.m3u8`,
];

/** Whole requests (request line and headers) that are malformed as bytes: NUL and control bytes, a huge target. */
export const HOSTILE_RAW: string[] = [
  'GET /health\0 HTTP/1.1\r\nHost: localhost\r\n\r\n',
  'GET /\0/x HTTP/1.1\r\nHost: localhost\r\n\r\n',
  'GET /\x01\x7f HTTP/1.1\r\nHost: localhost\r\n\r\n',
  `GET /${'b'.repeat(40_000)} HTTP/1.1\r\nHost: localhost\r\n\r\n`,
  'GET / HTTP/1.1\r\nHost: \0\r\n\r\n',
];

/** Every hostile request: each target as GET, as POST with the API key, and as a WebSocket upgrade; then the raw ones. */
export function hostileRequests(authorization: string): string[] {
  const out: string[] = [];
  for (const target of HOSTILE_TARGETS) {
    out.push(rawRequest('GET', target));
    out.push(rawRequest('POST', target, `Authorization: ${authorization}\r\nContent-Length: 2\r\n`) + '{}');
    out.push(rawRequest('GET', target, '', true));
  }
  return [...out, ...HOSTILE_RAW];
}
