import { encode, type CallState, type RoomState, type ServerMessage } from '../../signaling/protocol.js';
import type { MediaRoom } from '../../sfu/mediaRoom.js';
import type { Participant } from './participant.js';

/** A room in memory on its owner node: the participants connected now and the open call. */
export class Room {
  readonly participants = new Map<string, Participant>();
  /** The room's SFU side, made on the first media request (P2P-only rooms never have one). */
  media: MediaRoom | null = null;

  constructor(
    readonly name: string,
    public callId: string,
    public callState: CallState,
  ) {}

  findByUser(userId: string): Participant | undefined {
    for (const p of this.participants.values()) if (p.identity.userId === userId) return p;
    return undefined;
  }

  /** Encodes once and sends to everyone (but `except`). */
  broadcast(message: ServerMessage, except?: Participant): void {
    if (this.participants.size === 0) return;
    const encoded = encode(message);
    for (const p of this.participants.values()) if (p !== except) p.sink.send(encoded);
  }

  state(): RoomState {
    return {
      room: this.name,
      call: { call_id: this.callId, state: this.callState },
      participants: [...this.participants.values()].map((p) => ({ ...p.info(), connection_quality: this.media?.qualityOf(p.id) ?? null })),
      producers: this.media?.producerList() ?? [],
      data_producers: this.media?.dataProducerList() ?? [],
    };
  }
}
