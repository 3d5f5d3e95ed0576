// The last-resort error policy (docs/reliability.md): what happens to an
// error nobody caught. A request or upgrade listener that throws (or whose
// promise rejects) answers 500 / closes its socket; at process level an
// unhandled rejection is logged and counted and the process keeps serving,
// an uncaught exception is logged and counted and the process drains and
// exits non-zero (its state may be half-updated; a supervisor restarts it).

import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { Counter } from 'prom-client';
import type { Logger } from './logger.js';

export type UncaughtKind = 'request' | 'upgrade' | 'unhandled_rejection' | 'uncaught_exception';

/**
 * One counter per process (errors are a process's, not one app's); every
 * app's registry (server/kernel/metrics.ts) exposes it. Registered nowhere by
 * itself so several apps in one process (tests) do not collide.
 */
export const uncaughtErrors = new Counter({
  name: 'switchboard_uncaught_errors_total',
  help: 'Errors that reached a last-resort handler, by kind (request, upgrade, unhandled_rejection, uncaught_exception)',
  labelNames: ['kind'],
  registers: [],
});

const INTERNAL_ERROR_BODY = JSON.stringify({ error: { code: 'internal_error', message: 'internal error' } });

function answer500(res: ServerResponse): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  res.writeHead(500, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(INTERNAL_ERROR_BODY);
}

/** `listener` whose synchronous throws and rejected promises become a logged, counted 500. */
export function guardRequests(listener: (req: IncomingMessage, res: ServerResponse) => unknown, log: Logger): RequestListener {
  const failed = (err: unknown, req: IncomingMessage, res: ServerResponse) => {
    uncaughtErrors.inc({ kind: 'request' });
    log.error({ err, method: req.method }, 'request listener failed');
    answer500(res);
  };
  return (req, res) => {
    try {
      const result = listener(req, res);
      if (result instanceof Promise) result.catch((err: unknown) => failed(err, req, res));
    } catch (err) {
      failed(err, req, res);
    }
  };
}

export type UpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => unknown;

/** `listener` whose synchronous throws and rejected promises close the socket (500 when nothing was written yet). */
export function guardUpgrades(listener: UpgradeListener, log: Logger): UpgradeListener {
  const failed = (err: unknown, socket: Duplex) => {
    uncaughtErrors.inc({ kind: 'upgrade' });
    log.error({ err }, 'upgrade listener failed');
    if (socket.destroyed) return;
    if (socket.writable) socket.end('HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    (socket as Duplex & { destroySoon?: () => void }).destroySoon?.();
  };
  return (req, socket, head) => {
    try {
      const result = listener(req, socket, head);
      if (result instanceof Promise) result.catch((err: unknown) => failed(err, socket));
    } catch (err) {
      failed(err, socket);
    }
  };
}

/**
 * Process-level handlers. `fatal` is called once after an uncaught exception
 * (main.ts drains and exits 1); a second one while it runs is only logged.
 */
export function installProcessGuards(log: Logger, fatal: (err: unknown) => void, proc: Pick<NodeJS.EventEmitter, 'on'> = process): void {
  let failing = false;
  proc.on('unhandledRejection', (reason: unknown) => {
    uncaughtErrors.inc({ kind: 'unhandled_rejection' });
    log.error({ err: reason }, 'unhandled promise rejection (the process keeps serving)');
  });
  proc.on('uncaughtException', (err: unknown) => {
    uncaughtErrors.inc({ kind: 'uncaught_exception' });
    log.fatal({ err }, failing ? 'uncaught exception while stopping' : 'uncaught exception: draining and exiting');
    if (failing) return;
    failing = true;
    fatal(err);
  });
}
