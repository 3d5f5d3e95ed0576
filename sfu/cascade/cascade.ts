// The owner node's side of cascading: per room, the routers it opened on
// other nodes and where the next viewer goes; per node, the events agents
// send back and the liveness checks that notice a node that died.

import type { Router } from 'mediasoup/types';
import { AppError } from '../../server/kernel/errors.js';
import type { Logger } from '../../server/kernel/logger.js';
import { LivenessChecks } from './liveness.js';
import { RemoteRouter } from './remoteRouter.js';
import {
  METHOD,
  fromReply,
  type CascadeBus,
  type CascadeEvent,
  type CascadeNodes,
  type CascadeOptions,
  type TransportOptions,
} from './wire.js';

/** What a room's cascade needs from its MediaRoom. */
export interface CascadeHost {
  primaryRouter(): Promise<Router>;
  producerIds(): string[];
  onEvent(router: RemoteRouter, event: CascadeEvent): void;
  /** The remote router is gone (its worker or node died, or it shut down): its viewers must rebuild. */
  onLost(router: RemoteRouter, reason: string): void;
}

export class Cascade {
  private readonly routers = new Map<string, { remote: RemoteRouter; room: RoomCascade }>();
  private readonly liveness: LivenessChecks;
  private readonly timer: NodeJS.Timeout;
  /** Routers being opened, per node. */
  private readonly opening = new Map<string, number>();

  constructor(
    readonly bus: CascadeBus,
    private readonly nodes: CascadeNodes,
    readonly opts: CascadeOptions,
    readonly log: Logger,
  ) {
    // Only the node hosting a router speaks for it.
    bus.handle(METHOD.event, (event, from) => {
      const entry = this.routers.get(event.routerId);
      if (!entry || entry.remote.node !== from) return;
      if (event.type === 'router-lost') entry.room.lost(entry.remote, event.reason);
      else entry.room.host.onEvent(entry.remote, event);
    });
    bus.handle(METHOD.alive, (req, from) => ({
      // While a router is being opened there, its id may not be registered yet: not missing.
      missing: (this.opening.get(from) ?? 0) > 0 ? [] : req.routerIds.filter((id) => this.routers.get(id)?.remote.node !== from),
    }));
    this.liveness = new LivenessChecks({ misses: opts.pingMisses, busHealthy: () => nodes.busHealthy?.() ?? true });
    // The cluster thinks the node died: confirm it now rather than at the next round.
    nodes.onNodeDown?.((node) => {
      const routerIds = this.remoteRouters.filter((r) => r.node === node).map((r) => r.routerId);
      if (routerIds.length > 0) this.checkNode(node, routerIds, true);
    });
    this.timer = setInterval(() => this.checkNodes(), opts.pingIntervalMs);
    this.timer.unref();
  }

  room(name: string, host: CascadeHost): RoomCascade {
    return new RoomCascade(this, name, host);
  }

  candidates(): Promise<string[]> {
    return Promise.resolve(this.nodes.candidates()).then((ids) => ids.filter((id) => id !== this.bus.nodeId));
  }

  /** Remote routers this node opened, for tests and the admin view. */
  get remoteRouters(): RemoteRouter[] {
    return [...this.routers.values()].map((e) => e.remote);
  }

  /** Runs the opening of a router on `node`, during which that node's alive checks find nothing missing. */
  async whileOpening<T>(node: string, open: () => Promise<T>): Promise<T> {
    this.opening.set(node, (this.opening.get(node) ?? 0) + 1);
    try {
      return await open();
    } finally {
      const n = (this.opening.get(node) ?? 1) - 1;
      if (n > 0) this.opening.set(node, n);
      else this.opening.delete(node);
    }
  }

  register(remote: RemoteRouter, room: RoomCascade): void {
    this.routers.set(remote.routerId, { remote, room });
    remote.pipe.observer.once('close', () => this.routers.delete(remote.routerId));
  }

  private checkNodes(): void {
    const byNode = new Map<string, string[]>();
    for (const { remote } of this.routers.values()) byNode.set(remote.node, [...(byNode.get(remote.node) ?? []), remote.routerId]);
    for (const [node, routerIds] of byNode) this.checkNode(node, routerIds);
  }

  /** A node that leaves pingMisses checks in a row unanswered is dead: its routers are lost. */
  private checkNode(node: string, routerIds: string[], urgent = false): void {
    const probe = async () => {
      const reply = await this.bus.request(node, METHOD.ping, { routerIds }, this.opts.pingIntervalMs);
      for (const id of fromReply(reply).missing) this.lose(id, 'router-gone');
    };
    this.liveness.check(
      node,
      probe,
      () => {
        this.log.warn({ node, routers: routerIds.length }, 'cascade node stopped answering: its viewers rebuild');
        for (const id of routerIds) this.lose(id, 'node-lost');
      },
      urgent,
    );
  }

  private lose(routerId: string, reason: string): void {
    const entry = this.routers.get(routerId);
    if (entry) entry.room.lost(entry.remote, reason);
  }

  close(): void {
    clearInterval(this.timer);
  }
}

/** One room's remote routers, and the placement of viewers on them. */
export class RoomCascade {
  readonly routers: RemoteRouter[] = [];
  private readonly opening = new Map<string, Promise<RemoteRouter>>();
  private closed = false;

  constructor(
    private readonly cascade: Cascade,
    readonly name: string,
    readonly host: CascadeHost,
  ) {}

  /**
   * A recv transport for a new viewer on another node: on a router this room
   * already has there, else on a new one on the best candidate node. Null
   * when no node takes it (the caller keeps the viewer local).
   */
  async createRecvTransport(
    peerId: string,
    req: { reserve: number; sctp: boolean; forceTcp: boolean },
  ): Promise<{ router: RemoteRouter; options: TransportOptions } | null> {
    const have = new Set(this.routers.map((r) => r.node));
    const order = [...this.routers.map((r) => r.node), ...(await this.cascade.candidates()).filter((n) => !have.has(n))];
    for (const node of order) {
      if (this.closed) return null;
      try {
        const router = await this.routerOn(node);
        const options = await router.call(METHOD.createTransport, { peerId, ...req });
        router.addTransport(options.id);
        return { router, options };
      } catch (err) {
        const full = err instanceof AppError && err.code === 'unavailable';
        this.cascade.log[full ? 'debug' : 'warn']({ err, room: this.name, node }, 'cascade node did not take the viewer');
      }
    }
    return null;
  }

  /** This room's router on `node`, opened (and fed every producer) on first use. */
  routerOn(node: string): Promise<RemoteRouter> {
    const existing = this.routers.find((r) => r.node === node && !r.closed);
    if (existing) return Promise.resolve(existing);
    let opening = this.opening.get(node);
    if (!opening) {
      opening = this.open(node).finally(() => this.opening.delete(node));
      this.opening.set(node, opening);
    }
    return opening;
  }

  private async open(node: string): Promise<RemoteRouter> {
    const { bus, opts, log } = this.cascade;
    const primary = await this.host.primaryRouter();
    const router = await this.cascade.whileOpening(node, () => RemoteRouter.open(node, this.name, primary, bus, opts, log));
    if (this.closed) {
      router.close();
      throw new AppError('not_in_room', 'the room closed');
    }
    this.routers.push(router);
    this.cascade.register(router, this);
    // The pipe lives on the primary router: when that goes, so does the remote router.
    router.pipe.observer.once('close', () => {
      const i = this.routers.indexOf(router);
      if (i >= 0) this.routers.splice(i, 1);
      router.close();
    });
    router.onIdle = () => {
      log.info({ room: this.name, node, router: router.routerId }, 'no viewer left on the other node: closing the room there');
      router.close();
    };
    log.info({ room: this.name, node, router: router.routerId }, 'room cascaded to another node');
    // Everything published so far follows; later producers follow through producerAdded.
    await Promise.all(
      this.host.producerIds().map((id) => router.pipeProducer(id).catch((err) => log.warn({ err, node, producer: id }, 'pipe failed'))),
    );
    return router;
  }

  /** A producer was published on the owner: every remote router gets it. */
  producerAdded(producerId: string): void {
    for (const router of this.routers) {
      router
        .pipeProducer(producerId)
        .catch((err) => this.cascade.log.warn({ err, node: router.node, producer: producerId }, 'pipe failed'));
    }
  }

  lost(router: RemoteRouter, reason: string): void {
    if (router.closed) return;
    this.cascade.log.warn({ room: this.name, node: router.node, reason }, 'cascaded router lost');
    router.close(true);
    this.host.onLost(router, reason);
  }

  close(): void {
    this.closed = true;
    for (const router of this.routers.splice(0)) router.close();
  }
}
