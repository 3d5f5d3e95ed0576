// Cluster: REST calls about a room (/api/v1/rooms/:room/...) act on
// the room's in-memory state, which lives on its owner node; so does ending a
// call (/api/v1/calls/:call_id/end), on the node it rings or runs on. A node
// that gets such a request for another node passes it on over HTTP (that
// node checks the API key as usual) and relays the answer.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { httpStatusOf } from '../../kernel/errors.js';
import type { Logger } from '../../kernel/logger.js';
import type { ClusterNode } from '../cluster/clusterNode.js';
import { decodePathPart, type RequestTarget } from './requestTarget.js';
import { readLimitedBody } from './router.js';

const ROOM_PATH = /^\/api\/v1\/rooms\/([^/]+)(\/.*)?$/;
const CALL_END_PATH = /^\/api\/v1\/calls\/([0-9a-f-]{36})\/end$/;
/** Set on a forwarded request: the receiving node acts itself (no second hop, no loop). */
export const FORWARDED_HEADER = 'x-switchboard-forwarded-by';
const FORWARD_TIMEOUT_MS = 10_000;

/**
 * A request another node of the cluster passed on (it counted it against its
 * own per-address limit already): it carries FORWARDED_HEADER and comes
 * straight from a registered node's address. The header alone could be
 * forged by any client; the address check keeps the exemption to nodes.
 */
export function fromClusterNode(cluster: ClusterNode, req: IncomingMessage): boolean {
  if (typeof req.headers[FORWARDED_HEADER] !== 'string') return false;
  const peer = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
  return cluster.registry.cachedNodes().some((n) => {
    try {
      return new URL(n.signalingUrl).hostname.replace(/^\[|\]$/g, '') === peer;
    } catch {
      return false;
    }
  });
}

/** The node a request acts on, when that is known and another node (null: answer here). */
async function targetNode(
  cluster: ClusterNode,
  url: RequestTarget,
  callNode: (callId: string) => Promise<string | null>,
): Promise<string | null> {
  const call = CALL_END_PATH.exec(url.pathname);
  if (call) return callNode(call[1]);
  const match = ROOM_PATH.exec(url.pathname);
  if (!match) return null;
  // Minting a join token needs no room state, and its ws_url must name the node the caller reached.
  if (match[2] === '/join') return null;
  const room = decodePathPart(match[1]);
  if (room === null) return null; // the router answers the malformed escape
  if (cluster.relay.localRooms().getRoom(room)) return null;
  try {
    return await cluster.directory.owner(room);
  } catch {
    return null; // Redis away: this node answers from what it has (stored rows)
  }
}

export function clusterForwarder(cluster: ClusterNode, log: Logger, callNode: (callId: string) => Promise<string | null>) {
  return async (req: IncomingMessage, res: ServerResponse, url: RequestTarget): Promise<boolean> => {
    if (req.headers[FORWARDED_HEADER] || !req.headers.authorization?.startsWith('Basic ')) return false;
    const owner = await targetNode(cluster, url, callNode);
    if (!owner || owner === cluster.nodeId) return false;
    const target = await cluster.registry.findNode(owner);
    if (!target) return false; // owner not live: its room is gone with it
    const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : await readLimitedBody(req);
    const headers: Record<string, string> = { [FORWARDED_HEADER]: cluster.nodeId, authorization: req.headers.authorization };
    if (req.headers['content-type']) headers['content-type'] = req.headers['content-type'];
    let status: number;
    let contentType: string;
    let text: string;
    try {
      const answer = await fetch(`${target.signalingUrl}${url.pathname}${url.search}`, {
        method: req.method ?? 'GET',
        headers,
        ...(body && body.length > 0 ? { body: body.toString('utf8') } : {}),
        signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS),
      });
      status = answer.status;
      contentType = answer.headers.get('content-type') ?? 'application/json; charset=utf-8';
      text = await answer.text();
    } catch (err) {
      log.warn({ err: String(err), node: owner, path: url.pathname }, 'forwarding a request to its node failed');
      status = httpStatusOf('unavailable');
      contentType = 'application/json; charset=utf-8';
      text = JSON.stringify({ error: { code: 'unavailable', message: `node ${owner} did not answer; try again` } });
    }
    if (res.headersSent || res.destroyed) return true;
    res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store', 'x-switchboard-node': owner });
    res.end(text);
    return true;
  };
}
