// What the live modules share: the node's open and recently ended streams,
// the watchers by room, the per-room lock, and the checks every action makes
// (who acts, with which role, in which room) plus telling the audience.

import type { Config } from '../../kernel/config.js';
import { encode, type Role, type ServerMessage } from '../../../signaling/protocol/protocol.js';
import { AppError } from '../../kernel/errors.js';
import type { Logger } from '../../kernel/logger.js';
import { KeyedMutex } from '../../kernel/keyedMutex.js';
import type { Participant, ParticipantSink } from '../rooms/participant.js';
import type { Room } from '../rooms/room.js';
import type { RoomService } from '../rooms/roomService.js';
import type { LiveStore } from '../../storage/liveStore.js';
import { storageFailure } from '../../storage/queryError.js';
import { assertLiveAllowed, type LiveAction } from './livePermissions.js';
import type { LiveStream } from './liveStream.js';

/** The node's live settings (LIVE_* variables, server/kernel/config.ts). */
export type LiveConfig = Config['live'];

/** Who acts: a participant of the room, a watcher (WS, maybe not in the room), or the app's backend. */
export type LiveActor = { participant: Participant } | { watcher: Watcher } | { api: true };

export interface Watcher {
  sink: ParticipantSink;
  room: string;
  userId: string;
  displayName: string;
  /** The token's role (a role given in the room wins while the room is open). */
  tokenRole: Role;
}

export class LiveContext {
  readonly streams = new Map<string, LiveStream>(); // open streams by room
  /** Ended streams whose files are still served (until LIVE_KEEP_SECONDS after the end). */
  readonly recent = new Map<string, LiveStream>();
  /** Watchers by room (kept by LiveWatchers); broadcasts reach them too. */
  readonly watchers = new Map<string, Set<Watcher>>();
  readonly locks = new KeyedMutex();

  constructor(
    readonly rooms: RoomService,
    readonly store: LiveStore,
    readonly config: LiveConfig,
    readonly log: Logger,
  ) {}

  roleOf(actor: LiveActor): Role {
    if ('api' in actor) return 'host';
    if ('participant' in actor) return actor.participant.identity.role;
    return this.rooms.getRoom(actor.watcher.room)?.roleOverrides.get(actor.watcher.userId) ?? actor.watcher.tokenRole;
  }

  userOf(actor: LiveActor): { userId: string; displayName: string } | null {
    if ('api' in actor) return null;
    if ('participant' in actor) return { userId: actor.participant.identity.userId, displayName: actor.participant.identity.displayName };
    return { userId: actor.watcher.userId, displayName: actor.watcher.displayName };
  }

  /** The participant or watcher who acts; chat and reactions have one (the API acts on nobody's behalf). */
  personOf(actor: LiveActor): { userId: string; displayName: string } {
    const user = this.userOf(actor);
    if (!user) throw new AppError('internal_error', 'this live action needs a participant or a watcher, not the API');
    return user;
  }

  allow(actor: LiveActor, action: LiveAction): void {
    assertLiveAllowed(this.roleOf(actor), action);
  }

  async persist<T>(work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (err) {
      throw storageFailure(err, this.log, 'live storage error');
    }
  }

  /** The open stream of the actor's room (chat and reactions need one). */
  openStream(room: string): LiveStream {
    const stream = this.streams.get(room);
    if (!stream) throw new AppError('conflict', `room ${room} is not live`);
    return stream;
  }

  /** Sends to everyone in the room and every watcher, each connection once. */
  broadcast(roomName: string, message: ServerMessage): void {
    const encoded = encode(message);
    const sent = new Set<ParticipantSink>();
    const room = this.rooms.getRoom(roomName);
    if (room) {
      for (const p of room.participants.values()) {
        sent.add(p.sink);
        p.sink.send(encoded);
      }
    }
    for (const w of this.watchers.get(roomName) ?? []) {
      if (!sent.has(w.sink)) w.sink.send(encoded);
    }
  }

  roomChecked(actor: LiveActor, roomName: string): Room {
    const room = this.rooms.getRoom(roomName);
    if ('participant' in actor) {
      const p = actor.participant;
      if (!room || p.gone || room.participants.get(p.id) !== p) throw new AppError('not_in_room', 'you are not in a room');
    }
    if (!room) throw new AppError('not_found', `room ${roomName} has nobody in it`);
    return room;
  }

  /** The actor's room name, and that the actor may act there. */
  roomOfActor(actor: LiveActor, roomName?: string): string {
    if ('participant' in actor) {
      this.roomChecked(actor, actor.participant.roomName);
      return actor.participant.roomName;
    }
    if ('watcher' in actor) return actor.watcher.room;
    if (roomName === undefined) throw new AppError('internal_error', 'an API action on a live stream needs the room name');
    return roomName;
  }
}
