// The address of the client a request comes from: one rule for everything
// that uses it (participants.client_ip, HLS viewer counting, per-address
// limits). Without TRUST_PROXY it is the socket's peer. With TRUST_PROXY=N
// (N proxies of ours in front, each appending the address it saw to
// X-Forwarded-For), it is the N-th entry from the right of X-Forwarded-For:
// the right-most N-1 entries were written by our own proxies, the N-th by the
// outermost one (the first hop we trust, so the first address we do not
// have to take on faith), and anything left of it was sent by the client and
// may be forged. A header that is absent, too short or not an IP address
// falls back to the socket's peer.

import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/** X-Forwarded-For values longer than this are not read (a proxy chain is a handful of hops). */
const MAX_XFF_LENGTH = 2048;

export function clientAddress(req: IncomingMessage, trustProxyHops: number): string | null {
  const peer = req.socket.remoteAddress ?? null;
  if (trustProxyHops <= 0) return peer;
  const header = req.headers['x-forwarded-for'];
  const raw = Array.isArray(header) ? header.join(',') : header;
  if (!raw || raw.length > MAX_XFF_LENGTH) return peer;
  const hops = raw
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h !== '');
  if (hops.length < trustProxyHops) return peer;
  const candidate = stripPort(hops[hops.length - trustProxyHops]);
  return isIP(candidate) ? candidate : peer;
}

/** `1.2.3.4:5678` -> 1.2.3.4, `[::1]:80` -> ::1 (some proxies add ports). */
function stripPort(hop: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(hop);
  if (bracketed) return bracketed[1];
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(hop);
  return v4 ? v4[1] : hop;
}
