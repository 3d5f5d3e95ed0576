// Cluster: any node takes any WebSocket. When a client joins a room
// that runs on another node, this node (the edge) keeps the socket, the auth
// and the limits, and relays the client's messages, raw and already
// validated, to the room's node (the owner). There a RemoteSession, the same
// Session class the hub uses on a socket that is a link back to the edge,
// runs every handler as for a local client; what it sends goes back to the
// edge and out to the client unchanged. The client sees the same protocol.
//
// Bus methods: relay.* in server/edges/cluster/busCatalog.ts (RelayMethods), with
// their payloads, directions and replies.

import { randomBytes } from 'node:crypto';
import type { RawData } from 'ws';
import { AppError } from '../server/kernel/errors.js';
import type { Logger } from '../server/kernel/logger.js';
import type { BusRequest, ClusterBus, RelayFrame } from '../server/edges/cluster/busCatalog.js';
import type { RoomDirectory } from '../server/domain/rooms/roomDirectory.js';
import type { LeaveReason } from './protocol/protocol.js';
import { CloseCode, encode, type ClientPayloads, type ReconnectReason } from './protocol/protocol.js';
import type { HubContext, JoinRouter } from './hubContext.js';
import { identityOf, type Client, type SessionRelay } from './client.js';
import { Session, type SessionSocket } from './session.js';

/** What the edge needs from the cluster side besides the bus. */
export interface RelayCluster {
  bus: ClusterBus;
  directory: RoomDirectory;
  /** Resolves true when `node` is really gone (not just cut off for a moment). */
  confirmGone(node: string): Promise<boolean>;
  /** Frees a room whose owner died, so it can be placed again at once. */
  evict(room: string, deadOwner: string): Promise<void>;
}

const OPEN = 1 as const;
/** How long a detached link still delivers late replies to its client. */
const DETACHED_LINGER_MS = 10_000;
const CLOSED = 3 as const;

/** relay.in / relay.out travel as `<link id>\n<message text>` (raw on the bus: no escaping). */
function frame(link: string, text: string): RelayFrame {
  return `${link}\n${text}`;
}

function unframe(p: RelayFrame): [string, string] {
  const i = p.indexOf('\n');
  return [p.slice(0, i), p.slice(i + 1)];
}

/** The owner's side of a relayed connection: sending means publishing to the edge. */
class RelaySocket implements SessionSocket {
  readonly OPEN = OPEN;
  readyState: 0 | 1 | 2 | 3 = OPEN;
  readonly bufferedAmount = 0;
  onClose: (() => void) | null = null;

  constructor(
    private readonly bus: ClusterBus,
    readonly edge: string,
    readonly link: string,
  ) {}

  send(data: string): void {
    if (this.readyState === OPEN) this.bus.send(this.edge, 'relay.out', frame(this.link, data));
  }

  close(code?: number, reason?: string): void {
    if (this.readyState !== OPEN) return;
    this.readyState = CLOSED;
    this.bus.send(this.edge, 'relay.close', { link: this.link, code: code ?? CloseCode.normal, reason: reason ?? '' });
    this.onClose?.();
  }

  terminate(): void {
    this.close(CloseCode.goingAway, 'connection dropped');
  }
}

class RemoteSession extends Session<RelaySocket> {
  onRemoved: (() => void) | null = null;

  override removed(reason: LeaveReason): void {
    super.removed(reason);
    queueMicrotask(() => this.onRemoved?.());
  }
}

/** The edge's side of a relayed connection. */
class EdgeLink implements SessionRelay {
  detached = false;

  constructor(
    private readonly relay: ClusterRelay,
    readonly session: Client,
    readonly owner: string,
    readonly id: string,
  ) {}

  forward(type: string, text: string, id: string | undefined): void | Promise<void> {
    const { bus } = this.relay.cluster;
    if (type === 'leave') {
      // The owner answers once the leave is done; this connection then joins rooms through this node again.
      return bus.request(this.owner, 'relay.leave', { link: this.id, message: text }).then(() => this.relay.detach(this));
    }
    bus.trySend(this.owner, 'relay.in', frame(this.id, text)).catch((err) => {
      this.session.fail(id, err instanceof AppError ? err : new AppError('unavailable', "the room's node is unavailable"));
    });
  }

  closed(): void {
    this.relay.edgeLinks.delete(this.id);
    if (!this.detached) this.relay.cluster.bus.send(this.owner, 'relay.gone', { link: this.id });
  }
}

export class ClusterRelay implements JoinRouter {
  /** Edge: links of this node's sockets, by link id (detached ones stay until their socket closes: late replies). */
  readonly edgeLinks = new Map<string, EdgeLink>();
  /** Owner: relayed connections of other nodes' clients, by link id. */
  private readonly remotes = new Map<string, RemoteSession>();
  private ctx!: HubContext;

  constructor(
    readonly cluster: RelayCluster,
    private readonly log: Logger,
  ) {
    const { bus } = cluster;
    bus.handle('relay.open', (p, from) => this.open(p, from));
    bus.handle('relay.in', (p, from) => {
      const [link, text] = unframe(p);
      this.incoming(link, text, from);
    });
    bus.handle('relay.leave', (p, from) => this.leave(p.link, p.message, from));
    bus.handle('relay.gone', (p) => this.gone(p.link));
    bus.handle('relay.out', (p) => {
      const [link, text] = unframe(p);
      this.edgeLinks.get(link)?.session.send(text);
    });
    bus.handle('relay.close', (p) => this.edgeLinks.get(p.link)?.session.close(p.code, p.reason, 'relay'));
    // Which of these links does this edge still hold? (The owner forgets the others: a lost relay.gone.)
    bus.handle('relay.alive', (p) => ({
      dead: p.links.filter((l) => {
        const link = this.edgeLinks.get(l);
        return !link || link.detached || link.session.closed;
      }),
    }));
    bus.handle('relay.detach', (p) => {
      const link = this.edgeLinks.get(p.link);
      if (link) this.detach(link);
    });
  }

  /** The hub context RemoteSessions run with (it holds this relay, so it comes after construction). */
  attach(ctx: HubContext): void {
    this.ctx = ctx;
  }

  /** The rooms domain of this node (for the REST forwarder: is the room here?). */
  localRooms(): HubContext['rooms'] {
    return this.ctx.rooms;
  }

  get nodeId(): string {
    return this.cluster.bus.nodeId;
  }

  /** Connections of other nodes' clients served here, and this node's clients served elsewhere. */
  get counts(): { remote: number; relayed: number } {
    return { remote: this.remotes.size, relayed: [...this.edgeLinks.values()].filter((l) => !l.detached).length };
  }

  // ---- edge ----

  /**
   * Handles a join whose room runs on another node (true), or leaves it to
   * the local rooms domain (false: the room is, or is being placed, here).
   */
  async joinElsewhere(session: Client, payload: ClientPayloads['join'], id: string | undefined): Promise<boolean> {
    if (this.ctx.rooms.getRoom(payload.room)) return false;
    const identity = identityOf(session);
    if (identity.room !== null && identity.room !== payload.room) {
      throw new AppError('unauthorized', `this token is only valid for room ${identity.room}`, 'room');
    }
    for (let attempt = 0; ; attempt++) {
      const owner = await this.cluster.directory.locate(payload.room);
      if (owner === this.nodeId) return false;
      try {
        await this.relayFirst(session, owner, { type: 'join', ...(id !== undefined ? { id } : {}), payload });
      } catch (err) {
        // The owner died and its lease has not run out yet: free the room and place it again.
        if (attempt < 2 && err instanceof AppError && err.code === 'unavailable' && (await this.cluster.confirmGone(owner))) {
          await this.cluster.evict(payload.room, owner);
          continue;
        }
        throw err;
      }
      return true;
    }
  }

  /**
   * Calls: an accept of a call that rings from another node goes to that
   * node (where its room is) over a link, as a join does; `joined` comes back
   * through it. False when the call's room runs here or nowhere.
   */
  async acceptElsewhere(session: Client, payload: ClientPayloads['call-accept'], id: string | undefined): Promise<boolean> {
    const owner = (await this.ctx.calls?.nodeOf(payload.call_id)) ?? null;
    if (owner === null || owner === this.nodeId) return false;
    await this.relayFirst(session, owner, { type: 'call-accept', ...(id !== undefined ? { id } : {}), payload });
    return true;
  }

  /** Opens a link for the client to `owner` and sends its first message there (its room's requests follow it). */
  private async relayFirst(
    session: Client,
    owner: string,
    first: { type: 'join' | 'call-accept'; id?: string; payload: unknown },
  ): Promise<void> {
    const link = new EdgeLink(this, session, owner, `${this.nodeId}/${randomBytes(9).toString('base64url')}`);
    await this.cluster.bus.request(owner, 'relay.open', {
      link: link.id,
      identity: identityOf(session),
      ip: session.clientIp,
      device: session.callDeviceId,
    });
    if (session.closed) {
      this.cluster.bus.send(owner, 'relay.gone', { link: link.id });
      return;
    }
    this.edgeLinks.set(link.id, link);
    session.relay = link;
    this.cluster.bus.send(owner, 'relay.in', frame(link.id, JSON.stringify(first)));
  }

  /** The client is out of the room on the owner: its next join is this node's to route. */
  detach(link: EdgeLink): void {
    if (link.detached) return;
    link.detached = true;
    if (link.session.relay === link) link.session.relay = null;
    // Kept a moment for replies still on their way, then forgotten.
    setTimeout(() => {
      if (this.edgeLinks.get(link.id) === link) this.edgeLinks.delete(link.id);
    }, DETACHED_LINGER_MS).unref();
  }

  /** The owner of some links is gone: their clients reconnect (and land where their room is placed again). */
  ownerGone(node: string, reason: ReconnectReason = 'node-failure'): void {
    for (const link of [...this.edgeLinks.values()]) {
      if (link.owner !== node || link.detached) continue;
      this.detach(link);
      link.session.send(encode({ type: 'reconnect', payload: { reason, room: null, retry_after_ms: 0 } }));
      link.session.close(CloseCode.reconnect, "reconnect: the room's node is gone", 'reconnect');
    }
  }

  /** Every client of this node relayed to a room elsewhere reconnects (this node drains). */
  closeEdges(reason: ReconnectReason): void {
    for (const link of [...this.edgeLinks.values()]) {
      if (link.detached) continue;
      this.detach(link);
      link.session.send(encode({ type: 'reconnect', payload: { reason, room: null, retry_after_ms: 0 } }));
      link.session.close(CloseCode.reconnect, 'reconnect: this node is draining', 'reconnect');
    }
  }

  // ---- owner ----

  private open(p: BusRequest<'relay.open'>, edge: string): Record<string, never> {
    if (!this.ctx) throw new AppError('unavailable', 'this node is starting');
    const socket = new RelaySocket(this.cluster.bus, edge, p.link);
    const session = new RemoteSession(socket, p.ip, this.ctx);
    session.adoptIdentity(p.identity);
    session.relayedDeviceId = p.device ?? null;
    socket.onClose = () => {
      this.remotes.delete(p.link);
      session.onClosed();
    };
    session.onRemoved = () => void this.detachIfOut(p.link);
    this.remotes.set(p.link, session);
    return {};
  }

  private incoming(link: string, text: string, edge: string): void {
    const session = this.remotes.get(link);
    if (!session) {
      this.answerDetached(link, text, edge);
      return;
    }
    // Session reads the frame with toString() only; a string is its own text.
    session.onMessage(text as unknown as RawData, false);
    void session.settled().then(() => this.detachIfOut(link));
  }

  private async leave(link: string, text: string, edge: string): Promise<Record<string, never>> {
    const session = this.remotes.get(link);
    if (!session) {
      this.answerDetached(link, text, edge);
      return {};
    }
    session.onMessage(text as unknown as RawData, false);
    await session.settled();
    await this.detachIfOut(link);
    return {};
  }

  /** A message for a connection that is no longer in a room here: it is answered as a local one would be. */
  private answerDetached(link: string, text: string, edge: string): void {
    // The edge may have missed the handover (Redis was away): it routes this connection itself again.
    this.cluster.bus.send(edge, 'relay.detach', { link });
    let id: unknown;
    try {
      id = (JSON.parse(text) as { id?: unknown }).id;
    } catch {
      return;
    }
    if (typeof id !== 'string') return;
    const message = encode({ type: 'error', id, payload: { code: 'not_in_room', message: 'join a room first' } });
    this.cluster.bus.send(edge, 'relay.out', frame(link, message));
  }

  /** The relayed client is neither in a room nor joining one here any more: hand it back to its edge. */
  private detachIfOut(link: string): Promise<void> {
    const out = () => {
      const s = this.remotes.get(link);
      return s && !s.participant && !s.joining && !s.closed ? s : null;
    };
    if (!out()) return Promise.resolve();
    // A failed join's error is sent a few microtasks after `joining` drops: let it go out first.
    return new Promise((resolve) =>
      setImmediate(() => {
        this.detachNow(link, out());
        resolve();
      }),
    );
  }

  private detachNow(link: string, session: RemoteSession | null): void {
    if (!session) return;
    this.remotes.delete(link);
    const socket = session.ws;
    this.cluster.bus.send(socket.edge, 'relay.detach', { link });
    socket.readyState = CLOSED;
    session.onClosed();
  }

  private gone(link: string): void {
    const session = this.remotes.get(link);
    if (!session) return;
    this.remotes.delete(link);
    session.ws.readyState = CLOSED;
    session.onClosed(); // leaves the room: 'disconnected'
  }

  /**
   * Relayed connections whose edge no longer holds them are closed here (a
   * relay.gone lost while Redis was away would otherwise leave a ghost in the room).
   */
  async reconcile(): Promise<void> {
    const byEdge = new Map<string, string[]>();
    for (const [link, session] of this.remotes) byEdge.set(session.ws.edge, [...(byEdge.get(session.ws.edge) ?? []), link]);
    for (const [edge, links] of byEdge) {
      try {
        const { dead } = await this.cluster.bus.request(edge, 'relay.alive', { links });
        for (const link of dead) {
          this.log.info({ link, edge }, 'relayed connection no longer held by its edge: disconnected');
          this.gone(link);
        }
      } catch {
        // the edge is unreachable: its death, if it is one, is handled as such
      }
    }
  }

  /** An edge node is gone: its clients' connections are gone with it. */
  edgeGone(node: string): void {
    for (const [link, session] of [...this.remotes]) {
      if (session.ws.edge !== node) continue;
      this.log.info({ link, edge: node }, 'edge node gone: relayed participant disconnected');
      // Should the edge still be there after all, its client reconnects instead of waiting for nothing.
      this.cluster.bus.send(node, 'relay.close', {
        link,
        code: CloseCode.reconnect,
        reason: "reconnect: the room's node lost this connection",
      });
      this.gone(link);
    }
  }

  /** This node stops: relayed clients are told to reconnect (1001 from their edge, as for local ones). */
  close(): void {
    for (const session of [...this.remotes.values()]) session.close(CloseCode.goingAway, 'server shutting down', 'shutdown');
  }
}
