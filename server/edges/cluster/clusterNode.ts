// Cluster mode (REDIS_URL set) for one node: the bus, the registry and the
// Redis room directory, plus what ties them to the rooms domain: lease
// renewal with every heartbeat, moving rooms another node now owns, reacting
// to dead nodes (relayed connections, their calls), and drain.

import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { Gauge, type Registry } from 'prom-client';
import { ClusterRelay } from '../../../signaling/clusterRelay.js';
import type { Config } from '../../kernel/config.js';
import { AppError } from '../../kernel/errors.js';
import type { EventSink } from '../../domain/events.js';
import type { Logger } from '../../kernel/logger.js';
import type { RoomLiveState } from '../../domain/rooms/room.js';
import type { RoomService } from '../../domain/rooms/roomService.js';
import type { CallStore } from '../../storage/callStore.js';
import type { RoomControlStore } from '../../storage/roomControlStore.js';
import type { BusMethods } from './busCatalog.js';
import { RedisNodeBus } from './nodeBus.js';
import { NodeRegistry, type NodeInfo, type NodeLoad } from './nodeRegistry.js';
import { localFirst, SELECTORS, type NodeSelector } from './nodeSelector.js';
import { homeProcess, processNodeId } from './processRouting.js';
import { connectRedis, ready } from './redis.js';
import { RedisRoomDirectory } from './redisRoomDirectory.js';
import { bestEffort } from '../../kernel/bestEffort.js';

export interface ClusterNodeOptions {
  config: Config;
  rtcAddress: string | null;
  load: () => Omit<NodeLoad, 'cpu'>;
  log: Logger;
}

/** What the REST admin view shows. */
export interface ClusterView {
  node_id: string;
  nodes: Array<NodeInfo & { alive_ms: number; room_names: string[] }>;
  rooms: number;
}

/** The hooks into the rest of the node, given once the rooms domain exists. */
export interface ClusterWiring {
  rooms: RoomService;
  calls: CallStore;
  control: RoomControlStore;
  events: EventSink;
  /** Media jobs a dead node ran cannot go on anywhere: they are closed as failed (`node-failure`). */
  recordings: { recoverAbandoned(node: string, reason: 'node-failure'): Promise<number> };
  live: { recover(node: string, reason: 'node-failure'): Promise<number> };
}

/** After a node looked gone, how long its channel must stay without subscriber to be sure. */
const CONFIRM_GONE_MS = 1500;

export class ClusterNode extends EventEmitter<{ 'node-gone': [nodeId: string] }> {
  readonly relay: ClusterRelay;
  private wiring: ClusterWiring | null = null;
  /** Nodes known dead (until they are seen again). */
  private readonly dead = new Set<string>();
  private readonly confirming = new Map<string, Promise<boolean>>();
  private readonly reapTimers = new Set<NodeJS.Timeout>();
  private renewing = false;
  private beats = 0;
  private stopped = false;
  private draining: Promise<DrainResult> | null = null;

  private constructor(
    readonly bus: RedisNodeBus<BusMethods>,
    readonly registry: NodeRegistry,
    readonly directory: RedisRoomDirectory,
    private readonly redis: Redis,
    private readonly config: Config,
    private readonly log: Logger,
  ) {
    super();
    this.relay = new ClusterRelay(
      {
        bus,
        directory,
        confirmGone: (node) => this.confirmGone(node),
        evict: async (room, owner) => {
          await directory.evict(room, owner);
        },
      },
      log,
    );
    // A missed heartbeat may be a node starved of CPU: it is gone only if its channel has no subscriber either.
    registry.on('node-down', (id) => {
      void this.confirmGone(id).then((gone) => {
        if (gone) this.markGone(id, 'heartbeat expired');
        else log.warn({ node: id }, 'cluster node missed its heartbeats but still listens: not treated as dead');
      });
    });
    registry.on('node-up', (node) => {
      this.dead.delete(node.id);
      if (node.id !== this.nodeId) log.info({ node: node.id, url: node.signalingUrl }, 'cluster node up');
    });
    bus.onUnreachable((node) => {
      void this.confirmGone(node).then((gone) => gone && this.markGone(node, 'not subscribed to its channel'));
    });
    registry.on('beat', (recovered) => {
      void this.renewLeases();
      // Every 10th beat (and after an outage), drop relayed connections their edge no longer holds.
      if (recovered || ++this.beats % 10 === 0) void this.relay.reconcile();
    });
    bus.handle('rooms.live', (p) => this.localLive(p.rooms));
    bus.handle('cluster.drain', () => {
      void this.drain();
      return { draining: true };
    });
  }

  static async start(opts: ClusterNodeOptions): Promise<ClusterNode> {
    const { config, log } = opts;
    const url = config.redisUrl;
    if (!url) throw new AppError('internal_error', 'a cluster node needs REDIS_URL');
    const { prefix, heartbeatMs, ttlMs, requestTimeoutMs } = config.cluster;
    const redis = connectRedis(url, `${config.nodeId}:cmd`);
    redis.on('error', () => {}); // reported by the commands that fail; reconnects on its own
    await ready(redis).catch((err) => {
      redis.disconnect();
      throw new Error(`cannot reach Redis at REDIS_URL: ${String(err)}`);
    });
    // A live node with this id is listening on its channel; a crashed predecessor's record (not expired yet) is not.
    const channel = `${prefix}bus:${config.nodeId}`;
    const listening = Number(((await redis.pubsub('NUMSUB', channel)) as [string, number])[1]);
    if (listening > 0) {
      redis.disconnect();
      throw new Error(`another live node already uses NODE_ID ${config.nodeId}: give each node its own NODE_ID`);
    }
    const bus = await RedisNodeBus.connect<BusMethods>({ redisUrl: url, nodeId: config.nodeId, prefix, log, requestTimeoutMs });
    const registry = new NodeRegistry(
      redis,
      { id: config.nodeId, signalingUrl: '', rtcAddress: opts.rtcAddress, capacity: { participants: config.cluster.capacity } },
      { prefix, heartbeatMs, ttlMs },
      opts.load,
      log,
    );
    // A placement counts for its node until three of that node's beats had the chance to include it.
    const pendingMs = Math.min(ttlMs, 3 * heartbeatMs);
    const directory = new RedisRoomDirectory(redis, registry, { prefix, leaseMs: ttlMs, pendingMs, selector: selectorOf(config) }, log);
    return new ClusterNode(bus, registry, directory, redis, config, log);
  }

  /** Starts heartbeating: from now on other nodes place rooms here and relay to this node. */
  async announce(signalingUrl: string): Promise<void> {
    this.registry.self.signalingUrl = signalingUrl;
    await this.registry.start();
    this.log.info({ node_id: this.nodeId, url: signalingUrl, nodes: this.registry.cachedNodes().map((n) => n.id) }, 'joined the cluster');
  }

  get nodeId(): string {
    return this.bus.nodeId;
  }

  /** Prometheus gauges of this node's view of the cluster. */
  registerMetrics(registry: Registry): void {
    const { relay } = this;
    const reg = this.registry;
    new Gauge({
      name: 'switchboard_cluster_nodes',
      help: 'Live nodes of the cluster, as this node saw them at its last beat',
      registers: [registry],
      collect() {
        this.set(reg.cachedNodes().length);
      },
    });
    new Gauge({
      name: 'switchboard_cluster_relayed_connections',
      help: 'Connections of this node relayed to rooms on other nodes',
      registers: [registry],
      collect() {
        this.set(relay.counts.relayed);
      },
    });
    new Gauge({
      name: 'switchboard_cluster_remote_participants',
      help: 'Connections of other nodes served by rooms on this node',
      registers: [registry],
      collect() {
        this.set(relay.counts.remote);
      },
    });
    new Gauge({
      name: 'switchboard_cluster_redis_up',
      help: '1 when the last heartbeat reached Redis',
      registers: [registry],
      collect() {
        this.set(reg.healthy ? 1 : 0);
      },
    });
  }

  wire(wiring: ClusterWiring): void {
    this.wiring = wiring;
  }

  /**
   * Is `node` really gone? Its channel has no subscriber now and still none a
   * moment later (a node reconnecting to a restarted Redis resubscribes within that).
   */
  confirmGone(node: string): Promise<boolean> {
    if (node === this.nodeId) return Promise.resolve(false);
    let check = this.confirming.get(node);
    if (!check) {
      check = (async () => {
        try {
          if ((await this.subscribers(node)) > 0) return false;
          await new Promise((r) => setTimeout(r, CONFIRM_GONE_MS));
          return (await this.subscribers(node)) === 0;
        } catch {
          return false; // Redis trouble proves nothing
        }
      })().finally(() => this.confirming.delete(node));
      this.confirming.set(node, check);
    }
    return check;
  }

  private async subscribers(node: string): Promise<number> {
    const reply = (await this.redis.pubsub('NUMSUB', this.bus.channel(node))) as [string, number];
    return Number(reply[1]);
  }

  private markGone(node: string, why: string): void {
    if (node === this.nodeId || this.dead.has(node)) return;
    this.dead.add(node);
    this.log.warn({ node, why }, 'cluster node gone');
    this.relay.ownerGone(node);
    this.relay.edgeGone(node);
    this.scheduleReap(node);
    void this.closeMediaJobs(node);
    this.emit('node-gone', node);
  }

  /**
   * A dead node's recordings and live streams end at once (their ffmpeg died
   * with it; unlike a call, nobody can take them over), by one node, so the
   * room can be recorded or go live again on its new node.
   */
  private async closeMediaJobs(node: string): Promise<void> {
    const w = this.wiring;
    if (!w) return;
    try {
      const lock = await this.redis.set(`${this.config.cluster.prefix}reap-media:${node}`, this.nodeId, 'PX', 60_000, 'NX');
      if (lock !== 'OK') return;
      const recordings = await w.recordings.recoverAbandoned(node, 'node-failure');
      const streams = await w.live.recover(node, 'node-failure');
      if (recordings + streams > 0)
        this.log.warn({ node, recordings, live_streams: streams }, 'closed the recordings and live streams of a dead node');
    } catch (err) {
      this.log.error({ err: String(err), node }, 'could not close the recordings and live streams of a dead node');
    }
  }

  /**
   * Calls the dead node ran that nobody took over within the grace period are
   * ended (their participants' rows closed, `node-failure`), by one node.
   */
  private scheduleReap(node: string): void {
    const timer = setTimeout(() => {
      this.reapTimers.delete(timer);
      void this.reap(node);
    }, this.config.cluster.reapGraceMs);
    timer.unref();
    this.reapTimers.add(timer);
  }

  private async reap(node: string): Promise<void> {
    const w = this.wiring;
    if (!w || !this.dead.has(node)) return; // it came back: it cleans up after itself
    try {
      const lock = await this.redis.set(`${this.config.cluster.prefix}reap:${node}`, this.nodeId, 'PX', 60_000, 'NX');
      if (lock !== 'OK') return;
      const at = new Date();
      const ended = await w.calls.closeAbandonedCalls(at, node, 'node-failure');
      if (ended > 0) {
        this.log.warn({ node, calls: ended }, 'ended calls a dead node left open');
        for (const c of await w.control.callsEndedAt(at, 'node-failure')) {
          await w.events.emit({ name: 'room_finished', room: c.room, data: { call_id: c.id, reason: 'node-failure' } });
        }
      }
    } catch (err) {
      this.log.error({ err: String(err), node }, 'could not end the calls of a dead node');
    }
  }

  /** With each beat: renew the leases of this node's rooms; rooms another node owns now are moved off. */
  private async renewLeases(): Promise<void> {
    const w = this.wiring;
    if (!w || this.renewing) return;
    this.renewing = true;
    try {
      const lost = await this.directory.renew(w.rooms.roomNames());
      for (const room of lost) {
        this.log.warn({ room }, 'another node owns this room now (split after a Redis outage?): moving its participants');
        await w.rooms.evacuate(room, 'room-moved');
      }
    } catch {
      // Redis away: the rooms stay; the next beat renews
    } finally {
      this.renewing = false;
    }
  }

  /**
   * Drain: no new rooms here; rooms may finish until the deadline; then the
   * participants still here are told to reconnect (they land on other nodes).
   */
  drain(deadlineSeconds = this.config.cluster.drainTimeoutSeconds): Promise<DrainResult> {
    return (this.draining ??= (async () => {
      const w = this.wiring;
      if (!w) throw new AppError('internal_error', 'drain before the cluster node was wired to its rooms');
      const started = Date.now();
      await this.registry.setDraining(true);
      this.log.info({ rooms: w.rooms.roomCount, deadline_s: deadlineSeconds }, 'draining: no new rooms on this node');
      const deadline = started + deadlineSeconds * 1000;
      // Rooms that emptied need not wait for their empty_timeout: people are what the drain waits for.
      while (w.rooms.participants > 0 && Date.now() < deadline && !this.stopped) await new Promise((r) => setTimeout(r, 250));
      const finished = w.rooms.participants === 0;
      let moved = 0;
      for (const name of w.rooms.roomNames()) {
        const room = w.rooms.getRoom(name);
        if (!room) continue;
        if (room.participants.size === 0 && room.lobby.size === 0) await w.rooms.endRoom(name, 'empty');
        else if (await w.rooms.evacuate(name, 'node-draining')) moved++;
      }
      // Clients of this node in rooms elsewhere reconnect too, so none is left on a node about to stop.
      this.relay.closeEdges('node-draining');
      this.log.info({ moved_rooms: moved, seconds: Math.round((Date.now() - started) / 1000) }, 'drain done');
      return { finished_in_time: finished, moved_rooms: moved };
    })());
  }

  get isDraining(): boolean {
    return this.registry.isDraining;
  }

  async view(): Promise<ClusterView> {
    const [nodes, rooms] = await Promise.all([this.registry.liveNodes(), this.directory.allRooms()]);
    const byNode = new Map<string, string[]>();
    for (const r of rooms) byNode.set(r.node, [...(byNode.get(r.node) ?? []), r.room]);
    const now = Date.now();
    return {
      node_id: this.nodeId,
      nodes: nodes.map((n) => ({ ...n, alive_ms: now - n.startedAt, room_names: byNode.get(n.id) ?? [] })),
      rooms: rooms.length,
    };
  }

  /** The live state of those of `rooms` that run on this node. */
  private localLive(rooms: string[]): Record<string, RoomLiveState> {
    const names = Array.isArray(rooms) ? rooms.filter((name) => typeof name === 'string') : [];
    return Object.fromEntries(this.wiring?.rooms.liveStates(names) ?? []);
  }

  /**
   * The live state of `rooms` wherever they run: this node's from memory,
   * the others' asked of their owner (one request per node, in parallel). A
   * room whose owner does not answer is left out (its caller shows no call).
   */
  async roomsLive(rooms: string[]): Promise<Map<string, RoomLiveState>> {
    const out = new Map(Object.entries(this.localLive(rooms)));
    const elsewhere = rooms.filter((r) => !out.has(r));
    const owners = await this.directory.owners(elsewhere).catch(() => elsewhere.map(() => null));
    const byNode = new Map<string, string[]>();
    elsewhere.forEach((room, i) => {
      const owner = owners[i];
      if (owner && owner !== this.nodeId && !this.dead.has(owner)) byNode.set(owner, [...(byNode.get(owner) ?? []), room]);
    });
    await Promise.all(
      [...byNode].map(async ([node, names]) => {
        try {
          const answer = await this.bus.request(node, 'rooms.live', { rooms: names });
          for (const name of names) if (answer[name]) out.set(name, answer[name]);
        } catch (err) {
          this.log.warn({ node, err: String(err) }, 'a node did not say how its rooms are doing');
        }
      }),
    );
    return out;
  }

  /** Asks another node (or this one) to drain. */
  async drainNode(node: string): Promise<void> {
    if (node === this.nodeId) {
      void this.drain();
      return;
    }
    await this.bus.request(node, 'cluster.drain', {});
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.reapTimers) clearTimeout(t);
    this.relay.close();
    await this.registry.stop();
    await this.bus.close();
    await bestEffort(this.log, 'closing the Redis connection', this.redis.quit());
    this.redis.disconnect();
  }
}

/** Multiproc: `local-first` knows which process of this node a room's joiners are routed to. */
function selectorOf(config: Config): NodeSelector {
  if (config.cluster.selector !== 'local-first') return SELECTORS[config.cluster.selector];
  const { count, index, nodeId } = config.processes;
  return localFirst(config.nodeId, index !== null && count > 1 ? (room) => processNodeId(nodeId, homeProcess(room, count)) : null);
}

export interface DrainResult {
  /** All rooms ended on their own before the deadline. */
  finished_in_time: boolean;
  /** Rooms whose participants were moved at the deadline. */
  moved_rooms: number;
}
