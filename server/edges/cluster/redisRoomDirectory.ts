// Cluster mode's room directory: `<prefix>room:<name>` holds the owner's node
// id under a lease (the node TTL). The owner renews the leases of the rooms it
// runs with every heartbeat, so a mapping lives exactly as long as its room,
// and the rooms of a node that died are free again within one TTL without
// anyone cleaning up. Placement is SET NX: of two nodes racing on a new room,
// one write wins and both read the winner.

import type { Redis } from 'ioredis';
import { AppError } from '../../kernel/errors.js';
import type { Logger } from '../../kernel/logger.js';
import type { NodeInfo, NodeRegistry } from './nodeRegistry.js';
import { eligible, type NodeSelector } from './nodeSelector.js';
import type { RoomDirectory } from '../../domain/rooms/roomDirectory.js';

/** KEYS[1] room key; ARGV self, lease ms. Takes a free room, keeps one it owns (renewing), else names the owner. */
const CLAIM = `
local v = redis.call('GET', KEYS[1])
if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return ARGV[1] end
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return v`;

/** KEYS[1] room key; ARGV self. Deletes the mapping only if this node owns it. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * KEYS room keys; ARGV self, lease ms. Renews this node's leases, re-takes
 * mappings that vanished (Redis restarted empty), and returns the indexes
 * (1-based) of rooms another node owns now.
 */
const RENEW = `
local lost = {}
for i, k in ipairs(KEYS) do
  local v = redis.call('GET', k)
  if not v then redis.call('SET', k, ARGV[1], 'PX', ARGV[2])
  elseif v == ARGV[1] then redis.call('PEXPIRE', k, ARGV[2])
  else table.insert(lost, i) end
end
return lost`;

/** KEYS[1] room key; ARGV the dead owner. Frees a room whose owner is known to be gone. */
const EVICT = RELEASE;

export interface RedisRoomDirectoryOptions {
  prefix: string;
  /** How long a mapping outlives its owner's last renewal (the node TTL). */
  leaseMs: number;
  /**
   * How long a placement this node made counts toward its node's load: until
   * that node's own load record includes the room (a few heartbeats), not
   * longer, or the room counts twice.
   */
  pendingMs: number;
  selector: NodeSelector;
}

export class RedisRoomDirectory implements RoomDirectory {
  /**
   * Rooms this node placed lately (within `pendingMs`): a node's load record
   * lags the rooms placed on it until they open and it beats, and a burst of
   * new rooms must not all go to the node that looked emptiest.
   */
  private recent: Array<{ node: string; at: number }> = [];

  constructor(
    private readonly redis: Redis,
    private readonly registry: NodeRegistry,
    private readonly opts: RedisRoomDirectoryOptions,
    private readonly log: Logger,
  ) {}

  get nodeId(): string {
    return this.registry.self.id;
  }

  private key(room: string): string {
    return `${this.opts.prefix}room:${room}`;
  }

  /** Redis trouble is `unavailable` for whoever asked. */
  private async redisCall<T>(work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw new AppError('unavailable', 'the cluster directory (Redis) is unavailable; new rooms cannot be placed right now, try again');
    }
  }

  async claim(room: string): Promise<string> {
    if (this.registry.isDraining) {
      // A draining node keeps the rooms it has, and takes no new ones.
      const owner = await this.owner(room);
      if (owner !== this.nodeId) throw new AppError('unavailable', 'this node is draining and takes no new rooms; try again');
      return owner;
    }
    return this.redisCall(this.redis.eval(CLAIM, 1, this.key(room), this.nodeId, String(this.opts.leaseMs)) as Promise<string>);
  }

  async release(room: string): Promise<void> {
    await this.redisCall(this.redis.eval(RELEASE, 1, this.key(room), this.nodeId));
  }

  async owner(room: string): Promise<string | null> {
    return this.redisCall(this.redis.get(this.key(room)));
  }

  /** The owners of `rooms` (null: runs nowhere), in one round trip. */
  async owners(rooms: string[]): Promise<Array<string | null>> {
    if (rooms.length === 0) return [];
    return this.redisCall(this.redis.mget(...rooms.map((r) => this.key(r))));
  }

  async locate(room: string): Promise<string> {
    const current = await this.owner(room);
    if (current) return current;
    const nodes = await this.redisCall(this.registry.liveNodes());
    const chosen = this.opts.selector(eligible(nodes.map((n) => this.withRecentPlacements(n))), room);
    if (!chosen) throw new AppError('unavailable', 'no node can take a new room right now (all draining or full); try again');
    // Counted before the SET returns, so the rest of a burst of new rooms placed from this node
    // sees it, instead of every one of them going to the node that looked least loaded at the start.
    const placement = { node: chosen.id, at: Date.now() };
    this.recent.push(placement);
    try {
      const won = await this.redisCall(this.redis.set(this.key(room), chosen.id, 'PX', this.opts.leaseMs, 'NX'));
      if (won === 'OK') {
        this.log.debug({ room, node: chosen.id }, 'room placed');
        return chosen.id;
      }
      // Another node placed it first: its choice stands, and that node carries the room.
      const winner = await this.owner(room);
      placement.node = winner ?? '';
      if (!winner) throw new AppError('unavailable', 'room placement raced with its release; try again');
      return winner;
    } catch (err) {
      placement.node = ''; // not placed, or the race's winner is unknown: counts for no node
      throw err;
    }
  }

  private withRecentPlacements(n: NodeInfo): NodeInfo {
    const since = Date.now() - this.opts.pendingMs;
    if (this.recent.length > 0 && this.recent[0].at < since) this.recent = this.recent.filter((p) => p.at >= since);
    let extra = 0;
    for (const p of this.recent) if (p.node === n.id) extra++;
    // A placement is made for a first joiner: it counts as a room and a participant there (the selector
    // weighs participants first, so counting only rooms sent a burst to the node with the fewest people).
    return extra ? { ...n, load: { ...n.load, rooms: n.load.rooms + extra, participants: n.load.participants + extra } } : n;
  }

  /** Renews the leases of the rooms this node runs; returns the rooms another node owns now. */
  async renew(rooms: string[]): Promise<string[]> {
    const lost: string[] = [];
    // In slices: one script call holds Redis for its duration.
    for (let i = 0; i < rooms.length; i += 500) {
      const slice = rooms.slice(i, i + 500);
      const idx = await this.redisCall(
        this.redis.eval(RENEW, slice.length, ...slice.map((r) => this.key(r)), this.nodeId, String(this.opts.leaseMs)) as Promise<number[]>,
      );
      for (const j of idx) lost.push(slice[j - 1]);
    }
    return lost;
  }

  /** Frees a room whose owner is known to be dead (its lease would expire on its own, later). */
  async evict(room: string, deadOwner: string): Promise<boolean> {
    return (await this.redisCall(this.redis.eval(EVICT, 1, this.key(room), deadOwner) as Promise<number>)) === 1;
  }

  /** Rooms and their owners (the admin view); SCAN, so it does not block Redis. */
  async allRooms(): Promise<Array<{ room: string; node: string }>> {
    const out: Array<{ room: string; node: string }> = [];
    const match = `${this.opts.prefix}room:*`;
    let cursor = '0';
    do {
      const [next, keys] = await this.redisCall(this.redis.scan(cursor, 'MATCH', match, 'COUNT', 500));
      cursor = next;
      if (keys.length > 0) {
        const owners = await this.redisCall(this.redis.mget(...keys));
        keys.forEach((k, i) => {
          if (owners[i]) out.push({ room: k.slice(this.opts.prefix.length + 'room:'.length), node: owners[i] });
        });
      }
    } while (cursor !== '0');
    return out.sort((a, b) => a.room.localeCompare(b.room));
  }

  async close(): Promise<void> {}
}
