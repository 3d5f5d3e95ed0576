// What the rooms modules share: the rooms open on this node, their locks, the
// stores and the participant count. RoomService makes one and hands it to each
// module (joining, leaving, lifecycle, events, reads), so none of them imports
// the facade and no import cycle forms.

import type { RoomType } from '../../../signaling/protocol/protocol.js';
import { AppError } from '../../kernel/errors.js';
import { KeyedMutex } from '../../kernel/keyedMutex.js';
import type { Logger } from '../../kernel/logger.js';
import type { CallStore } from '../../storage/callStore.js';
import { storageFailure } from '../../storage/queryError.js';
import type { RoomControlStore } from '../../storage/roomControlStore.js';
import type { RoomChatStore } from '../../storage/roomChatStore.js';
import type { EventSink } from '../events.js';
import { DeferredWrites } from './deferredWrites.js';
import type { Participant } from './participant.js';
import type { Room } from './room.js';
import type { RoomDirectory } from './roomDirectory.js';

/** Room control: what the rooms domain needs beyond calls and participants. */
export interface RoomControlDeps {
  control: RoomControlStore;
  /** In-call chat: the open call's latest messages load with the room. */
  chat: RoomChatStore;
  events: EventSink;
  emptyTimeoutSeconds: number;
  kickBanSeconds: number;
  /** Type of rooms made by a first join (ROOM_DEFAULT_TYPE). */
  defaultType: RoomType;
}

export class RoomContext {
  /** The rooms open on this node, by name. */
  readonly rooms = new Map<string, Room>();
  readonly locks = new KeyedMutex();
  /** Participants connected on this node, over all rooms. */
  participantCount = 0;
  /** Leaves (rows and events) the database refused: stored once it is back. */
  readonly deferred: DeferredWrites;

  constructor(
    readonly store: CallStore,
    readonly directory: RoomDirectory,
    readonly nodeId: string,
    readonly log: Logger,
    readonly ctl: RoomControlDeps,
  ) {
    this.deferred = new DeferredWrites(log);
  }

  /** Database trouble becomes `unavailable` for the client (data errors do not: see storageFailure); the cause goes to the log only. */
  storageError(err: unknown): AppError {
    return storageFailure(err, this.log, 'storage error');
  }

  /** The open room a participant is in (not_in_room once it left or the room closed). */
  roomOf(p: Participant): Room {
    const room = this.rooms.get(p.roomName);
    if (!room || p.gone) throw new AppError('not_in_room', 'you are not in a room');
    return room;
  }

  /** Another participant of the sender's room (peer_not_found: none, or the sender itself). */
  peerOf(from: Participant, to: string): Participant {
    const target = this.roomOf(from).participants.get(to);
    if (!target || target === from) throw new AppError('peer_not_found', `no participant ${to} in this room`, 'to');
    return target;
  }
}
