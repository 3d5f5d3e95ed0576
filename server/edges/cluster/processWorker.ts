// Several processes per node, worker side: connections
// the node's primary accepted on the public port arrive over IPC with the
// bytes it already read (the request head), and are fed to this process's
// HTTP server as if it had accepted them itself (the @socket.io/sticky pattern).

import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../../kernel/logger.js';

/** Primary -> worker: a connection of the public port, with what was read from it. */
export interface HandedConnection {
  type: 'switchboard:connection';
  /** The bytes the primary read (latin1: one char per byte). */
  head: string;
}

/** Worker -> primary. */
export type WorkerMessage = { type: 'switchboard:ready'; url: string };

export function isHandedConnection(msg: unknown): msg is HandedConnection {
  return (
    typeof msg === 'object' &&
    msg !== null &&
    (msg as HandedConnection).type === 'switchboard:connection' &&
    typeof (msg as HandedConnection).head === 'string'
  );
}

/** Takes the primary's connections into `server`, and tells the primary this process is ready for them. */
export function serveForPrimary(server: Server, url: string, log: Logger): void {
  process.on('message', (msg: unknown, handle: unknown) => {
    if (!isHandedConnection(msg)) return;
    const socket = handle as Socket | undefined;
    if (!socket) return; // closed by the client while in flight
    socket.on('error', () => {}); // a reset before the HTTP server attached its own handler
    server.emit('connection', socket);
    // The HTTP parser reads what the primary already read first, then the socket.
    socket.emit('data', Buffer.from(msg.head, 'latin1'));
    socket.resume();
  });
  process.send?.({ type: 'switchboard:ready', url } satisfies WorkerMessage);
  log.info({ url }, "serving the node's public port through the primary");
}
