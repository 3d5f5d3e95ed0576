// How a call reaches a user's devices on other nodes (cluster mode). The
// cluster edge implements it over the node bus; a single node has none.

import type { ServerPayloads } from '../../../signaling/protocol/protocol.js';

export interface CallNetwork {
  /** Rings the user's devices on the other nodes; resolves with how many rang and whether one is busy. */
  ring(userId: string, incoming: ServerPayloads['call-incoming']): Promise<{ devices: number; busy: boolean }>;
  /** Sends an encoded message to the user's devices on the other nodes (but `exceptDevice`). */
  deliver(userId: string, encoded: string, exceptDevice: string | null): void;
}
