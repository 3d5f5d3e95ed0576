// Which nodes form the cluster right now. Each node writes its record (who it
// is, where clients and media reach it, its capacity and load) under a key
// that expires after `ttlMs`, and rewrites it every `heartbeatMs`: a node that
// stops heartbeating is gone from `liveNodes()` at most `ttlMs` after its last
// beat, with nobody having to notice its death.

import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import type { Logger } from '../../kernel/logger.js';

export interface NodeLoad {
  /** CPU this node's process used since the previous beat, in cores (1 = one core busy). */
  cpu: number;
  rooms: number;
  participants: number;
  consumers: number;
}

export interface NodeAnnouncement {
  id: string;
  /** Where clients reach this node's WebSocket and REST API (http(s)://host:port). */
  signalingUrl: string;
  /** The address this node's SFU announces in ICE candidates (null: signaling only). */
  rtcAddress: string | null;
  /** Participants this node is meant to hold; placement treats a node at capacity as full. */
  capacity: { participants: number };
}

export interface NodeInfo extends NodeAnnouncement {
  load: NodeLoad;
  /** A draining node takes no new rooms. */
  draining: boolean;
  startedAt: number;
  /** Wall-clock time of the node's last beat (the node's own clock; informational). */
  updatedAt: number;
}

export interface RegistryOptions {
  prefix: string;
  heartbeatMs: number;
  /** A node whose last beat is older than this is dead for the cluster. */
  ttlMs: number;
}

interface RegistryEvents {
  'node-up': [node: NodeInfo];
  'node-down': [nodeId: string];
  /** After every beat that reached Redis; `recovered` after beats had failed (Redis was away). */
  beat: [recovered: boolean];
}

/** KEYS: node keys..., the set; ARGV: the node ids. Drops ids whose key is (still) missing. */
const DROP_DEAD = `
for i, id in ipairs(ARGV) do
  if redis.call('EXISTS', KEYS[i]) == 0 then redis.call('SREM', KEYS[#KEYS], id) end
end
return 0`;

export class NodeRegistry extends EventEmitter<RegistryEvents> {
  private timer: NodeJS.Timeout | null = null;
  private draining = false;
  private readonly startedAt = Date.now();
  private lastCpu = process.cpuUsage();
  private lastCpuAt = performance.now();
  private known = new Map<string, NodeInfo>();
  /** When each node was last seen live (this node's clock). */
  private readonly seenAt = new Map<string, number>();
  private failing = false;
  private beating: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly redis: Redis,
    readonly self: NodeAnnouncement,
    private readonly opts: RegistryOptions,
    private readonly load: () => Omit<NodeLoad, 'cpu'>,
    private readonly log: Logger,
  ) {
    super();
  }

  private key(id: string): string {
    return `${this.opts.prefix}node:${id}`;
  }

  private get setKey(): string {
    return `${this.opts.prefix}nodes`;
  }

  /** Announces this node and keeps beating until stop(). */
  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat(), this.opts.heartbeatMs);
    this.timer.unref();
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Redis answered the last beat. */
  get healthy(): boolean {
    return !this.failing;
  }

  async setDraining(draining: boolean): Promise<void> {
    this.draining = draining;
    await this.beat().catch(() => {}); // the next beat carries the flag if this one failed
  }

  /** The last list of live nodes this node saw (refreshed every beat), for callers that must not wait. */
  /** A live node by id: from the cache, else (a node that joined since the last refresh) from Redis. */
  async findNode(id: string): Promise<NodeInfo | undefined> {
    return this.cachedNodes().find((n) => n.id === id) ?? (await this.liveNodes().catch(() => [])).find((n) => n.id === id);
  }

  cachedNodes(): NodeInfo[] {
    return [...this.known.values()];
  }

  private cpu(): number {
    const now = performance.now();
    const usage = process.cpuUsage();
    const used = usage.user - this.lastCpu.user + usage.system - this.lastCpu.system; // microseconds
    const elapsed = (now - this.lastCpuAt) * 1000;
    this.lastCpu = usage;
    this.lastCpuAt = now;
    return elapsed > 0 ? Math.round((used / elapsed) * 1000) / 1000 : 0;
  }

  info(): NodeInfo {
    return {
      ...this.self,
      load: { cpu: this.cpu(), ...this.load() },
      draining: this.draining,
      startedAt: this.startedAt,
      updatedAt: Date.now(),
    };
  }

  /** Writes this node's record, then refreshes the view of the others (events for nodes that came or went). */
  beat(): Promise<void> {
    // One beat at a time: a slow Redis must not pile them up.
    return (this.beating ??= this.beatOnce().finally(() => {
      this.beating = null;
    }));
  }

  private async beatOnce(): Promise<void> {
    if (this.stopped) return;
    try {
      const info = this.info();
      await this.redis.multi().set(this.key(info.id), JSON.stringify(info), 'PX', this.opts.ttlMs).sadd(this.setKey, info.id).exec();
      const nodes = await this.liveNodes();
      const recovered = this.failing;
      if (recovered) this.log.info('redis reachable again: node registry resumed');
      this.failing = false;
      this.updateKnown(nodes, recovered);
      this.emit('beat', recovered);
    } catch (err) {
      if (!this.failing) this.log.warn({ err: String(err) }, 'node registry heartbeat failed (redis unavailable?)');
      this.failing = true;
    }
  }

  /**
   * A node is down once it has been missing for a TTL as this node saw it:
   * after a Redis restart every record is gone until its node beats again,
   * and that must not look like deaths.
   */
  private updateKnown(nodes: NodeInfo[], recovered: boolean): void {
    const now = Date.now();
    if (recovered) for (const id of this.seenAt.keys()) this.seenAt.set(id, now);
    const next = new Map(nodes.map((n) => [n.id, n]));
    for (const [id, node] of next) {
      if (!this.seenAt.has(id)) this.emit('node-up', node);
      this.seenAt.set(id, now);
    }
    this.known = next;
    for (const [id, seen] of [...this.seenAt]) {
      if (next.has(id) || now - seen < this.opts.ttlMs) continue;
      this.seenAt.delete(id);
      this.emit('node-down', id);
    }
  }

  /** Nodes whose heartbeat is fresh (this one included once it has beaten). */
  async liveNodes(): Promise<NodeInfo[]> {
    const ids = await this.redis.smembers(this.setKey);
    if (ids.length === 0) return [];
    const values = await this.redis.mget(...ids.map((id) => this.key(id)));
    const live: NodeInfo[] = [];
    const dead: string[] = [];
    ids.forEach((id, i) => {
      const raw = values[i];
      if (!raw) dead.push(id);
      else live.push(JSON.parse(raw) as NodeInfo);
    });
    // The set only lists candidates; a node that comes back adds itself again. Removal
    // re-checks the key in Redis, so a node that beat just now is not dropped.
    if (dead.length > 0) {
      // A failed sweep is repeated by the next beat.
      await this.redis.eval(DROP_DEAD, dead.length + 1, ...dead.map((id) => this.key(id)), this.setKey, ...dead).catch(() => {});
    }
    return live.sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Is this node live, as of the last beat (or a fresh read when unknown)? */
  async isLive(id: string): Promise<boolean> {
    if (id === this.self.id) return true;
    return (await this.redis.exists(this.key(id))) === 1;
  }

  /** Stops beating and removes this node's record (a clean leave; a crash just stops beating). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.beating?.catch(() => {}); // a beat reports its own failure; stop only waits for it
    await this.redis
      .multi()
      .del(this.key(this.self.id))
      .srem(this.setKey, this.self.id)
      .exec()
      .catch(() => {}); // leaving anyway: the record expires with its TTL
  }
}
