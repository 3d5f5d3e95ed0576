// A deliberately small JSON router: method + path pattern -> handler.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError, httpStatusOf, RateLimitedError, toAppError } from '../../kernel/errors.js';
import type { Logger } from '../../kernel/logger.js';
import { AddressLimiter } from './addressLimiter.js';
import { clientAddress } from './clientAddress.js';
import { decodePathPart, parseTarget, type RequestTarget } from './requestTarget.js';

export interface Request {
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  /** The client's address (TRUST_PROXY aware); null when the socket has none. */
  clientIp: string | null;
  /** Parsed JSON body ({} when empty). */
  body(): Promise<unknown>;
}

export interface Response {
  status: number;
  body?: unknown;
  /** A non-JSON body (Prometheus text). */
  text?: string;
  contentType?: string;
  /** Extra response headers (Retry-After). */
  headers?: Record<string, string>;
}

export type Handler = (req: Request) => Promise<Response>;

interface Route {
  method: string;
  pattern: RegExp;
  keys: string[];
  handler: Handler;
}

const MAX_BODY_BYTES = 64 * 1024;
/**
 * After a body is refused as too large, up to this many more bytes are read
 * and dropped, so the client (still sending) gets to read the 413 instead of
 * a reset; a client sending more than that has its connection closed.
 */
const MAX_DISCARD_BYTES = 1024 * 1024;

/**
 * The request's body, at most `max` bytes. A larger one (by its
 * Content-Length or as it arrives) rejects with payload_too_large at once;
 * the rest is read and dropped (bounded, see MAX_DISCARD_BYTES) while the
 * caller answers 413.
 */
export function readLimitedBody(req: IncomingMessage, max = MAX_BODY_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    const refuse = () => {
      refused = true;
      chunks.length = 0;
      reject(new AppError('payload_too_large', `body larger than ${max} bytes`));
    };
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > max) refuse();
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (refused) {
        if (size > max + MAX_DISCARD_BYTES) req.destroy();
        return;
      }
      if (size > max) return refuse();
      chunks.push(chunk);
    });
    req.on('error', reject);
    req.on('end', () => {
      if (!refused) resolve(Buffer.concat(chunks));
    });
  });
}

export async function readBody(req: IncomingMessage): Promise<unknown> {
  const text = (await readLimitedBody(req)).toString('utf8').trim();
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new AppError('bad_json', 'body is not valid JSON');
  }
}

export interface RouterOptions {
  /** TRUST_PROXY hops (server/edges/http/clientAddress.ts). */
  trustProxyHops?: number;
  /** REST writes per client address; none: unlimited. */
  writeLimit?: { ratePerSecond: number; burst: number };
  /** Requests exempt from the write limit (another cluster node passing on a request it already counted). */
  unlimited?: (req: IncomingMessage) => boolean;
}

/** Methods that change something: rate limited per client address. */
const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export class Router {
  private readonly routes: Route[] = [];

  /** Cluster: may answer a request itself (sending it to another node); true when it did. */
  forwarder: ((req: IncomingMessage, res: ServerResponse, target: RequestTarget) => Promise<boolean>) | null = null;
  private readonly trustProxyHops: number;
  private readonly writeLimiter: AddressLimiter | null;
  private readonly unlimited: ((req: IncomingMessage) => boolean) | null;

  constructor(
    private readonly log: Logger,
    opts: RouterOptions = {},
  ) {
    this.trustProxyHops = opts.trustProxyHops ?? 0;
    this.writeLimiter = opts.writeLimit ? new AddressLimiter(opts.writeLimit.ratePerSecond, opts.writeLimit.burst) : null;
    this.unlimited = opts.unlimited ?? null;
  }

  add(method: string, path: string, handler: Handler): this {
    const keys: string[] = [];
    const pattern = new RegExp(
      '^' +
        path.replace(/:([a-z_]+)/g, (_m, key: string) => {
          keys.push(key);
          return '([^/]+)';
        }) +
        '$',
    );
    this.routes.push({ method, pattern, keys, handler });
    return this;
  }

  /** Node http request listener. */
  readonly listener = (req: IncomingMessage, res: ServerResponse): void => {
    void this.handle(req, res);
  };

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = parseTarget(req.url);
    let response: Response;
    try {
      if (!target) throw new AppError('invalid_payload', 'malformed request target');
      const clientIp = clientAddress(req, this.trustProxyHops);
      const method = req.method ?? 'GET';
      if (this.writeLimiter && WRITE_METHODS.has(method) && !this.unlimited?.(req)) {
        const wait = this.writeLimiter.take(clientIp ?? 'unknown');
        if (wait > 0) throw new RateLimitedError(`too many requests from this address; retry in ${wait} s`, wait);
      }
      if (this.forwarder && (await this.forwarder(req, res, target))) return;
      response = await this.dispatch(req, target, clientIp);
    } catch (err) {
      const error = toAppError(err);
      if (error.code === 'internal_error') this.log.error({ err, path: target?.pathname }, 'request failed');
      // `field` names the offending body field, path or query parameter, as over the WebSocket.
      response = {
        status: httpStatusOf(error.code),
        body: { error: { code: error.code, message: error.message, ...(error.field ? { field: error.field } : {}) } },
      };
      if (error instanceof RateLimitedError) response.headers = { 'retry-after': String(error.retryAfterSeconds) };
    }
    if (res.headersSent || res.destroyed) return;
    const body = response.text ?? (response.body === undefined ? '' : JSON.stringify(response.body));
    res.writeHead(response.status, {
      'content-type': response.contentType ?? 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      ...response.headers,
    });
    res.end(body);
  }

  private async dispatch(req: IncomingMessage, target: RequestTarget, clientIp: string | null): Promise<Response> {
    const method = req.method ?? 'GET';
    const path = target.pathname;
    let pathMatched = false;
    for (const route of this.routes) {
      const match = route.pattern.exec(path);
      if (!match) continue;
      pathMatched = true;
      if (route.method !== method) continue;
      const params: Record<string, string> = {};
      route.keys.forEach((key, i) => {
        const value = decodePathPart(match[i + 1]);
        if (value === null) throw new AppError('invalid_payload', `malformed percent-escape in the ${key} of the path`, key);
        params[key] = value;
      });
      return route.handler({
        method,
        path,
        params,
        query: target.searchParams,
        headers: req.headers,
        clientIp,
        body: () => readBody(req),
      });
    }
    if (pathMatched) return { status: 405, body: { error: { code: 'invalid_payload', message: `${method} not allowed here` } } };
    throw new AppError('not_found', `no route ${method} ${path.slice(0, 256)}`);
  }
}
