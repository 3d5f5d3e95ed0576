// Request/reply plumbing over one signaling connection, shared by the browser
// SDK (clients/browser/sdk/signaling.ts) and the Node client
// (clients/node/signalingClient.ts). Pure TypeScript: no DOM and no Node
// imports, so both builds can include it; the caller owns the socket and
// hands in how to send a text frame.

import type {
  AckResults,
  ClientPayloads,
  ClientType,
  ErrorCode,
  JoinedReply,
  ServerMessage,
  ServerPayloads,
} from '../../signaling/protocol/protocol.js';

/** What a request resolves with: `joined` for `join`, the `ack` payload otherwise. */
export type Reply<K extends ClientType> = K extends JoinedReply
  ? ServerPayloads['joined']
  : K extends keyof AckResults
    ? AckResults[K]
    : never;

/** An `error` reply from the server. */
export class SignalingError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'SignalingError';
  }
}

/**
 * The signaling URL for a server URL (already resolved): http(s) becomes
 * ws(s), and a URL without a path gets `/ws`.
 */
export function toSignalingUrl(target: URL): URL {
  if (target.protocol === 'http:') target.protocol = 'ws:';
  if (target.protocol === 'https:') target.protocol = 'wss:';
  if (target.pathname === '' || target.pathname === '/') target.pathname = '/ws';
  return target;
}

interface Pending {
  resolve: (payload: unknown) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * The requests in flight on one connection: numbers them, times them out,
 * and settles them from the replies (`ack`, `joined`, `error`) that carry their id.
 */
export class PendingRequests {
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();

  /** `send` writes one text frame to the current socket. */
  constructor(private readonly send: (text: string) => void) {}

  /** Sends a request with an id; resolves with its reply, rejects with SignalingError or on timeout. */
  request<K extends ClientType>(type: K, payload: ClientPayloads[K], timeoutMs: number): Promise<Reply<K>> {
    const id = String(this.nextId++);
    return new Promise<Reply<K>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no reply to ${type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (p: unknown) => void, reject, timer });
      this.send(JSON.stringify({ type, id, payload }));
    });
  }

  /**
   * Takes one text frame from the server. A reply to a pending request settles
   * it; the result is then undefined, as it is for text that is not JSON.
   * Any other message is returned for the caller to deliver.
   */
  receive(text: string): ServerMessage | undefined {
    let message: ServerMessage;
    try {
      message = JSON.parse(text) as ServerMessage;
    } catch {
      return undefined;
    }
    if (message.id !== undefined && (message.type === 'ack' || message.type === 'joined' || message.type === 'error')) {
      const pending = this.pending.get(message.id);
      if (pending) {
        this.pending.delete(message.id);
        clearTimeout(pending.timer);
        if (message.type === 'error') {
          const { code, message: text, field } = message.payload;
          pending.reject(new SignalingError(code, text, field));
        } else {
          pending.resolve(message.payload);
        }
        return undefined;
      }
    }
    return message;
  }

  /** Fails every request in flight with `err` (the connection is gone). */
  failAll(err: Error): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }
}
