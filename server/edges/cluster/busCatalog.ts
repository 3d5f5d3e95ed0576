// Every method of the node bus, with the payload it carries and what its
// handler answers: the bus's protocol, as signaling/protocol/protocol.ts is the
// client's. Senders and handlers are both checked against it (NodeBus is
// generic over this catalog). The SFU's cascade declares its own methods
// (sfu/cascade/wire.ts); app.ts adds them to the node's bus, so neither side
// imports the other. docs/cluster.md has the table.

import type { CallDeclineReason, CallParty, Identity, ServerPayloads } from '../../../signaling/protocol/protocol.js';
import type { RoomLiveState } from '../../domain/rooms/room.js';
import type { Call, Method, NodeBus, OneWay, SendMethodOf } from './nodeBus.js';

/**
 * A relayed client message, one way (relay.in: edge -> owner; relay.out:
 * owner -> edge): `<link id>\n<message text>`. A string payload travels raw
 * on the bus (no JSON escaping of what is JSON already), so the message is
 * neither escaped nor parsed again on the way.
 */
export type RelayFrame = `${string}\n${string}`;

/** No payload, or an empty acknowledgement. */
export type Empty = Record<string, never>;

/** The relay between a client's node (edge) and its room's node (owner): signaling/clusterRelay.ts. */
export interface RelayMethods {
  /** Edge -> owner: a client of the edge joins a room of the owner; the owner opens a session for the link. */
  'relay.open': { request: { link: string; identity: Identity; ip: string | null; device?: string | null }; reply: Empty };
  /** Edge -> owner, one-way: a client message (validated on the edge) for the link's session. */
  'relay.in': OneWay<RelayFrame>;
  /** Edge -> owner: the client's leave message (its text); answered once the leave is done. */
  'relay.leave': { request: { link: string; message: string }; reply: Empty };
  /** Edge -> owner, one-way: the client's socket closed. */
  'relay.gone': OneWay<{ link: string }>;
  /** Owner -> edge, one-way: a server message for the client. */
  'relay.out': OneWay<RelayFrame>;
  /** Owner -> edge, one-way: the owner closed the connection, with this WebSocket close code and reason. */
  'relay.close': OneWay<{ link: string; code: number; reason: string }>;
  /** Owner -> edge: which of these links does the edge still hold? */
  'relay.alive': { request: { links: string[] }; reply: { dead: string[] } };
  /** Owner -> edge, one-way: the client is out of the room on the owner; the edge routes its next join itself. */
  'relay.detach': OneWay<{ link: string }>;
}

/** Node to node, about rooms and nodes: server/edges/cluster/clusterNode.ts. */
export interface ClusterMethods {
  /** Any node -> a room's owner: how are these rooms (of the owner) doing? Rooms not there are left out. */
  'rooms.live': { request: { rooms: string[] }; reply: Record<string, RoomLiveState> };
  /** Any node -> a node: drain (the admin API's drain of another node). */
  'cluster.drain': { request: Empty; reply: { draining: true } };
}

/** Calls whose callee's devices are on other nodes: server/edges/cluster/clusterCalls.ts. */
export interface CallMethods {
  /** The call's node -> every other node: ring the user's devices there; how many rang, is one busy? */
  'calls.ring': Call<{ user_id: string; incoming: ServerPayloads['call-incoming'] }, { devices: number; busy: boolean }>;
  /** The call's node -> every other node, one-way: a message for the user's devices there (but one). */
  'calls.deliver': OneWay<{ user_id: string; text: string; except_device: string | null }>;
  /** A device's node -> the call's node: the user declines. */
  'calls.decline': Call<{ call_id: string; by: CallParty; reason: CallDeclineReason }, Empty>;
}

/** The node bus's catalog, as far as the cluster edge speaks it. */
export type BusMethods = RelayMethods & ClusterMethods & CallMethods;
export type BusMethod = Method<BusMethods>;
/** Any method may be requested (one without a reply resolves once handled: an acknowledgement). */
export type RequestMethod = BusMethod;
export type SendMethod = SendMethodOf<BusMethods>;
export type BusRequest<M extends BusMethod> = BusMethods[M]['request'];
export type BusReply<M extends BusMethod> = BusMethods[M]['reply'];
/** The bus of a cluster node. */
export type ClusterBus = NodeBus<BusMethods>;
