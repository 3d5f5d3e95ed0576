// One stream in memory on the node that runs it: its row, its media
// pipeline, viewers, reactions, chat history and the pinned message.

import type { LiveChatMessage, LiveStreamInfo, LiveStatus } from '../../../signaling/protocol/protocol.js';
import type { LivePipeline } from '../../../recording/live/livePipeline.js';
import type { LiveStreamRow } from '../../storage/liveStore.js';
import type { RateLimiter } from '../../kernel/rateLimiter.js';
import { ReactionTally } from './reactionTally.js';
import { ViewerCounter } from './viewerCounter.js';

export function streamInfo(row: LiveStreamRow, viewers?: ViewerCounter, current?: number): LiveStreamInfo {
  return {
    stream_id: row.id,
    room: row.room,
    call_id: row.call_id,
    status: row.status,
    layout: row.layout,
    participant_id: row.participant_id,
    started_by: row.started_by,
    created_at: row.created_at.toISOString(),
    live_at: row.live_at?.toISOString() ?? null,
    ended_at: row.ended_at?.toISOString() ?? null,
    end_reason: row.end_reason,
    error: row.error,
    viewers: viewers
      ? { current: current ?? viewers.current(), peak: viewers.peak, total: viewers.total }
      : { current: row.viewers_current, peak: row.viewers_peak, total: row.viewers_total },
  };
}

export class LiveStream {
  pipeline: LivePipeline | null = null;
  readonly viewers: ViewerCounter;
  readonly reactions = new ReactionTally();
  /** The latest messages not deleted, oldest first (what a late viewer gets). */
  history: LiveChatMessage[] = [];
  pinned: LiveChatMessage | null = null;
  /** Per-user limits for chat and reactions (user id -> bucket). */
  readonly chatLimits = new Map<string, RateLimiter>();
  readonly reactionLimits = new Map<string, RateLimiter>();
  readonly timers: NodeJS.Timeout[] = [];
  /** Undoes the subscriptions to the room's media (producers coming and going). */
  unsubscribe: (() => void) | null = null;
  /** Set once finishing started: later finish requests are no-ops. */
  finishing: Promise<void> | null = null;
  /** Where ffmpeg writes index.m3u8 and the segments. */
  readonly dir: string;
  lastViewers = { current: -1, peak: -1, total: -1 };
  /** Active-speaker layout: the latest dominant speaker, when the shown participant last changed, the pending switch. */
  dominant: string | null = null;
  lastSwitchAt = Date.now();
  speakerTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly row: LiveStreamRow,
    dir: string,
    viewerTimeoutMs: number,
  ) {
    this.dir = dir;
    this.viewers = new ViewerCounter(viewerTimeoutMs);
  }

  get id(): string {
    return this.row.id;
  }

  get status(): LiveStatus {
    return this.row.status;
  }

  get open(): boolean {
    return this.row.status === 'preparing' || this.row.status === 'live';
  }

  info(): LiveStreamInfo {
    return streamInfo(this.row, this.viewers);
  }
}
