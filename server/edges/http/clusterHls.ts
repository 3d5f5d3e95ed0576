// Cluster x live streaming: a stream's ffmpeg, playlist
// and segments live on the node that runs its room, but an HLS player behind
// a load balancer may reach any node. A node asked for /live/<room>/... of a
// stream it does not serve passes the GET on to the room's node and streams
// the answer back (segments are binary; nothing is buffered whole).

import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { ClusterNode } from '../cluster/clusterNode.js';
import type { LiveService } from '../../domain/live/liveService.js';
import type { Logger } from '../../kernel/logger.js';
import { FORWARDED_HEADER } from './clusterForward.js';
import { decodePathPart, parseTarget, type RequestTarget } from './requestTarget.js';

const HLS_PATH = /^\/live\/([^/]+)\/[^/]+$/;
const FORWARD_TIMEOUT_MS = 10_000;
/** Headers of the owner's answer a player needs (type, caching, length for HEAD and ranges). */
const PASSED_HEADERS = ['content-type', 'content-length', 'cache-control', 'accept-ranges', 'content-range'];

export function withClusterHls(cluster: ClusterNode, live: LiveService, next: RequestListener, log: Logger): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const url = parseTarget(req.url);
    const match = url ? HLS_PATH.exec(url.pathname) : null;
    if (!url || !match || req.headers[FORWARDED_HEADER] || (req.method !== 'GET' && req.method !== 'HEAD')) return next(req, res);
    const room = decodePathPart(match[1]);
    if (room === null || live.servedStream(room)) return next(req, res); // a malformed name: the live handler answers not_found
    void forward(cluster, room, req, res, url).then(
      (done) => {
        if (!done) next(req, res);
      },
      (err) => {
        log.warn({ err: String(err), room, path: url.pathname }, "forwarding an HLS request to the room's node failed");
        if (!res.headersSent) {
          res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
          res.end(JSON.stringify({ error: { code: 'unavailable', message: `the node running room ${room} did not answer; try again` } }));
        } else res.destroy();
      },
    );
  };
}

/** Resolves false when the room runs nowhere else (this node answers itself). */
async function forward(
  cluster: ClusterNode,
  room: string,
  req: IncomingMessage,
  res: ServerResponse,
  url: RequestTarget,
): Promise<boolean> {
  let owner: string | null;
  try {
    owner = await cluster.directory.owner(room);
  } catch {
    return false; // Redis away: only local streams can be served
  }
  if (!owner || owner === cluster.nodeId) return false;
  const target = await cluster.registry.findNode(owner);
  if (!target) return false;
  const headers: Record<string, string> = { [FORWARDED_HEADER]: cluster.nodeId };
  if (typeof req.headers.range === 'string') headers['range'] = req.headers.range;
  const answer = await fetch(`${target.signalingUrl}${url.pathname}${url.search}`, {
    method: req.method ?? 'GET',
    headers,
    signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS),
  });
  const out: Record<string, string> = { 'x-switchboard-node': owner };
  for (const name of PASSED_HEADERS) {
    const value = answer.headers.get(name);
    if (value !== null) out[name] = value;
  }
  res.writeHead(answer.status, out);
  if (req.method === 'HEAD' || !answer.body) {
    res.end();
    return true;
  }
  const body = Readable.fromWeb(answer.body as import('node:stream/web').ReadableStream<Uint8Array>);
  body.on('error', () => res.destroy());
  res.on('close', () => body.destroy());
  body.pipe(res);
  return true;
}
