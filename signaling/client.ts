// What message handlers (and the cluster relay's edge side) use of a client
// connection. Session implements it; handlers and the hub context depend on
// this interface instead of session.ts, which imports the handlers: no cycle.

import { AppError } from '../server/kernel/errors.js';
import type { Participant, ParticipantSink } from '../server/domain/rooms/participant.js';
import type { CallDevice } from '../server/domain/calls/presence.js';
import type { AuthResult, Identity, ServerMessage } from './protocol/protocol.js';

/** Cluster: this connection's room lives on another node; its messages go there. */
export interface SessionRelay {
  /** Forwards one validated client message (raw text); a promise holds back the next ones until it settles. */
  forward(type: string, text: string, id: string | undefined): void | Promise<void>;
  /** The client's socket closed. */
  closed(): void;
}

/** One client connection as handlers see it (the rooms domain sees it as a ParticipantSink). */
export interface Client extends ParticipantSink {
  readonly identity: Identity | null;
  readonly clientIp: string | null;
  participant: Participant | null;
  joining: boolean;
  readonly closed: boolean;
  /** Aborted when the socket is gone. */
  readonly gone: AbortSignal;
  /** Set while a join is in progress (`leave` calls it to end a wait in the lobby). */
  cancelJoin: (() => void) | null;
  /** How calls reach this connection once it is authenticated here (null before, and for relayed connections). */
  readonly callDevice: CallDevice | null;
  /** The calling device this connection is: its own, or (relayed from another node) the edge's. */
  readonly callDeviceId: string | null;
  /** Cluster: set while this connection's room lives on another node. */
  relay: SessionRelay | null;
  authenticate(token: string): Promise<Identity>;
  /** What `auth` acks: the identity and this user's STUN/TURN servers. */
  authResult(identity: Identity): AuthResult;
  /** The caller's participant; throws not_in_room without one. */
  inRoom(): Participant;
  reply(message: ServerMessage): void;
  /** Sends an error for request `id`. */
  fail(id: string | undefined, err: unknown): void;
  close(code: number, reason: string, metric: string): void;
}

/** The client's verified identity; the session lets no request but `auth` through without one. */
export function identityOf(client: Client): Identity {
  if (!client.identity) throw new AppError('unauthenticated', 'send auth first');
  return client.identity;
}
