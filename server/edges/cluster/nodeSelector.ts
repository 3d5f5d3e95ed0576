// Which node a new room goes to (like LiveKit's node selectors): a function of
// the live nodes' records. Draining nodes and nodes at capacity are never picked.

import type { NodeInfo } from './nodeRegistry.js';

export type NodeSelector = (candidates: NodeInfo[], room: string) => NodeInfo | null;

/** Nodes that may take a new room. */
export function eligible(nodes: NodeInfo[]): NodeInfo[] {
  return nodes.filter((n) => !n.draining && n.load.participants < n.capacity.participants);
}

/** Fewest participants relative to capacity, then fewest rooms, then lowest CPU; ties by id (stable). */
export const leastLoaded: NodeSelector = (candidates) => {
  let best: NodeInfo | null = null;
  let bestKey: number[] = [];
  for (const n of candidates) {
    const key = [n.load.participants / Math.max(1, n.capacity.participants), n.load.rooms, n.load.cpu];
    if (!best || compare(key, bestKey) < 0 || (compare(key, bestKey) === 0 && n.id < best.id)) {
      best = n;
      bestKey = key;
    }
  }
  return best;
};

/** Any eligible node (spreads a burst of new rooms that load figures, a beat old, would all send to one node). */
export const random: NodeSelector = (candidates) => candidates[Math.floor(Math.random() * candidates.length)] ?? null;

export const SELECTORS = { 'least-loaded': leastLoaded, random } as const;
export type SelectorName = keyof typeof SELECTORS;

function compare(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

// ---- Several processes per node ----

/**
 * `local-first` (the default with NODE_PROCESSES > 1): a new room goes to the
 * process of this node its name hashes to (where the node's front sends the
 * room's later joiners), else to the process that was asked (where its first
 * joiner is), else to the least loaded node; processes that are draining or
 * full are skipped at every step. On a node of one process it is "this node
 * unless it is full or draining".
 */
export function localFirst(selfId: string, home: ((room: string) => string) | null): NodeSelector {
  return (candidates, room) => {
    const preferred = home?.(room);
    return (
      (preferred !== undefined ? candidates.find((n) => n.id === preferred) : undefined) ??
      candidates.find((n) => n.id === selfId) ??
      leastLoaded(candidates, room)
    );
  };
}
