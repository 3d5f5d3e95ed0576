import {
  encode,
  type CallState,
  type LiveStreamInfo,
  type RaisedHand,
  type Role,
  type RoomSettings,
  type RoomState,
  type ServerMessage,
  type WhiteboardStroke,
  type ChatMessage,
} from '../../../signaling/protocol/protocol.js';
import type { RateLimiter } from '../../kernel/rateLimiter.js';
import type { RecordingState } from '../../../signaling/protocol/protocol.js';
import type { MediaRoom } from '../../../sfu/mediaRoom.js';
import type { Participant } from './participant.js';
import type { LobbyWaiter } from './lobby.js';

const HAND_QUEUE_INTERVAL_MS = 100;

/** A room in memory on its owner node: the participants connected now and the open call. */
export class Room {
  readonly participants = new Map<string, Participant>();
  /** The room's SFU side, made on the first media request (P2P-only rooms never have one). */
  media: MediaRoom | null = null;

  // Room control: in-memory mirrors of persisted state, loaded when the room opens.
  settings: RoomSettings;
  hands: RaisedHand[] = [];
  whiteboard: WhiteboardStroke[] = [];
  /** In-call chat: the call's latest messages (CHAT_HISTORY), oldest first, and each user's rate limit. */
  chat: ChatMessage[] = [];
  readonly chatLimits = new Map<string, RateLimiter>();
  readonly lobby = new Map<string, LobbyWaiter>(); // by user id
  /** Roles a host gave (by user id): they outlive a reconnect. */
  readonly roleOverrides = new Map<string, Role>();
  /** Kick bans: user id -> until (epoch ms). */
  readonly bans = new Map<string, number>();
  /** Runs when the room has been empty for settings.empty_timeout seconds. */
  emptyTimer: NodeJS.Timeout | null = null;
  /** Recording: the recording in progress, set by the recording service. */
  recording: RecordingState | null = null;
  /** Live streaming: the room's stream while it is preparing or live (set by LiveService). */
  live: { info(): LiveStreamInfo } | null = null;

  constructor(
    readonly name: string,
    public callId: string,
    public callState: CallState,
    settings: RoomSettings,
  ) {
    this.settings = settings;
  }

  lobbyList() {
    return [...this.lobby.values()].map((w) => w.entry());
  }

  private handQueueTimer: NodeJS.Timeout | null = null;
  private handQueueDirty = false;

  /**
   * Tells the room the hand queue changed. A storm of raises would otherwise
   * send N full queues to N people (300 raises took 20 s), so the first change
   * goes out at once and further changes within HAND_QUEUE_INTERVAL_MS are
   * folded into one trailing update carrying the latest queue.
   */
  sendHandQueue(): void {
    if (this.handQueueTimer) {
      this.handQueueDirty = true;
      return;
    }
    this.broadcast({ type: 'hand-queue', payload: { hands: this.handQueue() } });
    this.handQueueTimer = setTimeout(() => {
      this.handQueueTimer = null;
      if (this.handQueueDirty) {
        this.handQueueDirty = false;
        this.sendHandQueue();
      }
    }, HAND_QUEUE_INTERVAL_MS);
    this.handQueueTimer.unref();
  }

  /** Sends to the hosts and moderators only (lobby list). */
  broadcastToStaff(message: ServerMessage): void {
    const encoded = encode(message);
    for (const p of this.participants.values()) {
      if (p.identity.role === 'host' || p.identity.role === 'moderator') p.sink.send(encoded);
    }
  }

  /** The hand queue with each hand's current participant (null while its user is not connected). */
  handQueue(): RaisedHand[] {
    return this.hands.map((h) => ({ ...h, participant_id: this.findByUser(h.user_id)?.id ?? null }));
  }

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
      settings: this.settings,
      hands: this.handQueue(),
      whiteboard: this.whiteboard,
      chat: this.chat,
      recording: this.recording,
      live: this.live?.info() ?? null,
    };
  }
}

/** What the REST room list says about a room's call right now (the same on every node). */
export interface RoomLiveState {
  call_id: string | null;
  call_state: CallState | null;
  num_participants: number;
  lobby_waiting: number;
  /** The node that runs the call (null when none runs). */
  node_id: string | null;
}

export const NO_CALL: RoomLiveState = Object.freeze({
  call_id: null,
  call_state: null,
  num_participants: 0,
  lobby_waiting: 0,
  node_id: null,
});

export function roomLiveState(room: Room, nodeId: string): RoomLiveState {
  return {
    call_id: room.callId,
    call_state: room.callState,
    num_participants: room.participants.size,
    lobby_waiting: room.lobby.size,
    node_id: nodeId,
  };
}
