// A deliberately small JSON router: method + path pattern -> handler.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError, httpStatusOf, toAppError } from '../errors.js';
import type { Logger } from '../logger.js';

export interface Request {
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  /** Parsed JSON body ({} when empty). */
  body(): Promise<unknown>;
}

export interface Response {
  status: number;
  body?: unknown;
  /** A non-JSON body (Prometheus text). */
  text?: string;
  contentType?: string;
}

export type Handler = (req: Request) => Promise<Response>;

interface Route {
  method: string;
  pattern: RegExp;
  keys: string[];
  handler: Handler;
}

const MAX_BODY_BYTES = 64 * 1024;

export function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new AppError('invalid_payload', `body larger than ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', reject);
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8').trim();
      if (!text) return resolve({});
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new AppError('bad_json', 'body is not valid JSON'));
      }
    });
  });
}

export class Router {
  private readonly routes: Route[] = [];

  /** Cluster (issue 6): may answer a request itself (sending it to another node); true when it did. */
  forwarder: ((req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>) | null = null;

  constructor(private readonly log: Logger) {}

  add(method: string, path: string, handler: Handler): this {
    const keys: string[] = [];
    const pattern = new RegExp(
      '^' + path.replace(/:([a-z_]+)/g, (_m, key: string) => {
        keys.push(key);
        return '([^/]+)';
      }) + '$',
    );
    this.routes.push({ method, pattern, keys, handler });
    return this;
  }

  /** Node http request listener. */
  readonly listener = (req: IncomingMessage, res: ServerResponse): void => {
    void this.handle(req, res);
  };

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    let response: Response;
    try {
      if (this.forwarder && (await this.forwarder(req, res, url))) return; // cluster (issue 6)
      response = await this.dispatch(req, url);
    } catch (err) {
      const error = toAppError(err);
      if (error.code === 'internal_error') this.log.error({ err, path: url.pathname }, 'request failed');
      // `field` names the offending body field, path or query parameter, as over the WebSocket.
      response = { status: httpStatusOf(error.code), body: { error: { code: error.code, message: error.message, ...(error.field ? { field: error.field } : {}) } } };
    }
    if (res.headersSent || res.destroyed) return;
    const body = response.text ?? (response.body === undefined ? '' : JSON.stringify(response.body));
    res.writeHead(response.status, {
      'content-type': response.contentType ?? 'application/json; charset=utf-8',
      'cache-control': 'no-store',
    });
    res.end(body);
  }

  private async dispatch(req: IncomingMessage, url: URL): Promise<Response> {
    const method = req.method ?? 'GET';
    let pathMatched = false;
    for (const route of this.routes) {
      const match = route.pattern.exec(url.pathname);
      if (!match) continue;
      pathMatched = true;
      if (route.method !== method) continue;
      const params: Record<string, string> = {};
      route.keys.forEach((key, i) => {
        params[key] = decodeURIComponent(match[i + 1]!);
      });
      return route.handler({
        method, path: url.pathname, params, query: url.searchParams, headers: req.headers,
        body: () => readBody(req),
      });
    }
    if (pathMatched) return { status: 405, body: { error: { code: 'invalid_payload', message: `${method} not allowed here` } } };
    throw new AppError('not_found', `no route ${method} ${url.pathname}`);
  }
}
