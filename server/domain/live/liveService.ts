// Live streaming of a room: the public facade and the stream's lifecycle
// (going live, ending, pipeline failures; persisted, webhooks, everyone
// told). Source choice is in liveSources.ts, watchers and viewer counts in
// liveWatchers.ts, chat and reactions in liveChat.ts; they share LiveContext.
// The media half (RTP -> ffmpeg -> HLS) comes from a PipelineFactory.
// Every action: check the actor's role -> persist -> change memory -> tell
// the audience. A refused action changes nothing.

import { rm } from 'node:fs/promises';
import { Gauge, type Registry } from 'prom-client';
import path from 'node:path';
import type { Identity, LiveChatMessage, LiveLayout, LiveReaction, LiveStreamInfo } from '../../../signaling/protocol/protocol.js';
import { AppError } from '../../kernel/errors.js';
import type { EventSink } from '../events.js';
import type { Logger } from '../../kernel/logger.js';
import type { ParticipantSink } from '../rooms/participant.js';
import type { RoomService } from '../rooms/roomService.js';
import type { LiveStore, LiveStreamRow } from '../../storage/liveStore.js';
import type { HlsAccess } from './hlsAccess.js';
import { LiveContext, type LiveActor, type LiveConfig, type Watcher } from './liveContext.js';
import { LiveChat } from './liveChat.js';
import { LiveSources } from './liveSources.js';
import { LiveStream, streamInfo } from './liveStream.js';
import { LiveWatchers } from './liveWatchers.js';
import type { PipelineFactory } from '../../../recording/live/livePipeline.js';
import { TrackGoneError } from '../../../recording/rollingPipeline.js';
import { bestEffort } from '../../kernel/bestEffort.js';

export type { LiveActor, LiveConfig, Watcher } from './liveContext.js';
export { GRID_MAX_VIDEOS } from './liveSources.js';

type EndReason = 'stopped' | 'room-closed' | 'source-left' | 'ffmpeg-failed' | 'server-shutdown';

export class LiveService {
  private readonly ctx: LiveContext;
  private readonly sources: LiveSources;
  private readonly audience: LiveWatchers;
  private readonly talk: LiveChat;
  private readonly cleanups = new Set<NodeJS.Timeout>();

  constructor(
    rooms: RoomService,
    private readonly store: LiveStore,
    private readonly events: () => EventSink,
    private readonly pipelines: PipelineFactory | null,
    readonly access: HlsAccess,
    private readonly config: LiveConfig,
    private readonly nodeId: string,
    private readonly log: Logger,
  ) {
    this.ctx = new LiveContext(rooms, store, config, log);
    this.sources = new LiveSources(this.ctx, (stream) => this.finishLocked(stream, 'source-left', null));
    this.audience = new LiveWatchers(this.ctx, access);
    this.talk = new LiveChat(this.ctx);
  }

  /**
   * Streams a gone run left open are over (failed): at start, a crashed run
   * of this node's (`server-restart`); in a cluster, a dead node's
   * (`node-failure`, closed by the node that reaps it). Their receivers hear it.
   */
  async recover(nodeId: string | null, reason: 'server-restart' | 'node-failure' = 'server-restart'): Promise<number> {
    const rows = await this.store.closeAbandoned(new Date(), nodeId, reason);
    for (const row of rows) {
      const info = streamInfo(row);
      this.ctx.broadcast(row.room, { type: 'live-stream-updated', payload: { stream: info } });
      await this.emit('live_stream_finished', row.room, info);
    }
    return rows.length;
  }

  private async emit(name: 'live_stream_started' | 'live_stream_finished', room: string, stream: LiveStreamInfo): Promise<void> {
    await this.events()
      .emit({ name, room, data: { call_id: stream.call_id, stream } })
      .catch((err) => this.log.error({ err, room }, `could not record ${name}`));
  }

  // ---- lifecycle -------------------------------------------------------------

  /**
   * Goes live: picks what to show, records the stream (preparing), starts
   * ffmpeg. The stream turns `live` when the first segment is written.
   */
  start(actor: LiveActor, roomName: string, opts: { layout?: LiveLayout; participantId?: string } = {}): Promise<LiveStreamInfo> {
    return this.ctx.locks.run(roomName, async () => {
      this.ctx.allow(actor, 'go-live');
      if (!this.pipelines) throw new AppError('unavailable', 'live streaming needs the SFU (RTC_WORKERS > 0)');
      const room = this.ctx.roomChecked(actor, roomName);
      if (this.ctx.streams.has(roomName)) throw new AppError('conflict', `room ${roomName} is already live`);
      const media = room.media;
      if (!media || media.closed) throw new AppError('conflict', 'nothing is published in this room');
      const layout = opts.layout ?? 'speaker';
      if (layout === 'grid' && opts.participantId !== undefined)
        throw new AppError('invalid_payload', 'a grid shows everyone: leave out participant_id', 'participant_id');
      const { participantId, producers } =
        layout === 'grid' ? this.sources.gridSource(room, media) : this.sources.pickSource(room, media, opts.participantId);
      const started = this.ctx.userOf(actor);
      const row = await this.ctx.persist(
        this.store.create({
          room: roomName,
          callId: room.callId,
          nodeId: this.nodeId,
          layout,
          participantId,
          startedBy: started?.userId ?? null,
        }),
      );
      if (!row) throw new AppError('conflict', `room ${roomName} is already live (on another node)`);
      const stream = new LiveStream(row, path.join(this.config.dir, row.id), this.config.viewerTimeoutSeconds * 1000);
      this.ctx.streams.set(roomName, stream);
      this.ctx.recent.delete(roomName);
      room.live = stream;
      this.audience.countExisting(stream, roomName);
      this.startTimers(stream);
      this.ctx.broadcast(roomName, { type: 'live-stream-updated', payload: { stream: stream.info() } });
      try {
        stream.pipeline = await this.pipelines({
          streamId: row.id,
          room: roomName,
          layout,
          media,
          producers,
          dir: stream.dir,
          onLive: () => void this.markLive(stream),
          onFailed: (reason) => void this.finish(stream, 'ffmpeg-failed', reason),
          onSourceGone: (reason) => void this.finish(stream, reason, null),
        });
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        if (err instanceof TrackGoneError) {
          // The shown tracks closed under the start (their owner left or unpublished): the room changed, not a fault.
          await this.finishLocked(stream, 'source-left', null);
          throw new AppError('conflict', `${reason}; try again`);
        }
        this.log.error({ err, room: roomName, stream_id: row.id }, 'live stream could not start');
        await this.finishLocked(stream, 'ffmpeg-failed', reason);
        throw new AppError('unavailable', `the stream could not start: ${reason}`);
      }
      this.sources.followMedia(stream, media);
      this.log.info(
        { room: roomName, stream_id: row.id, participant_id: participantId, pid: stream.pipeline.pid },
        'live stream preparing',
      );
      return stream.info();
    });
  }

  private async markLive(stream: LiveStream): Promise<void> {
    await this.ctx.locks.run(stream.row.room, async () => {
      if (stream.status !== 'preparing') return;
      const at = new Date();
      try {
        await this.store.markLive(stream.id, at);
      } catch (err) {
        this.log.error({ err, stream_id: stream.id }, 'could not record that the stream is live');
      }
      stream.row.status = 'live';
      stream.row.live_at = at;
      this.log.info({ room: stream.row.room, stream_id: stream.id }, 'live stream is live');
      this.ctx.broadcast(stream.row.room, { type: 'live-stream-updated', payload: { stream: stream.info() } });
      await this.emit('live_stream_started', stream.row.room, stream.info());
    });
  }

  /** Ends the room's stream (host/moderator, REST). */
  stop(actor: LiveActor, roomName: string): Promise<LiveStreamInfo> {
    return this.ctx.locks.run(roomName, async () => {
      this.ctx.allow(actor, 'go-live');
      if ('participant' in actor) this.ctx.roomChecked(actor, roomName);
      const stream = this.ctx.streams.get(roomName);
      if (!stream) throw new AppError('not_found', `room ${roomName} is not live`);
      await this.finishLocked(stream, 'stopped', null);
      return stream.info();
    });
  }

  private finish(stream: LiveStream, reason: EndReason, error: string | null): Promise<void> {
    return this.ctx.locks.run(stream.row.room, () => this.finishLocked(stream, reason, error));
  }

  /** Stops ffmpeg, writes the end and the counts, tells the audience, fires live_stream_finished. Once. */
  private finishLocked(stream: LiveStream, reason: EndReason, error: string | null): Promise<void> {
    stream.finishing ??= (async () => {
      const roomName = stream.row.room;
      for (const t of stream.timers) clearInterval(t);
      stream.unsubscribe?.();
      const failed = reason === 'ffmpeg-failed';
      if (stream.pipeline) {
        await stream.pipeline
          .stop({ now: reason === 'room-closed' })
          .catch((err) => this.log.warn({ err, stream_id: stream.id }, 'ffmpeg did not stop cleanly'));
      }
      this.talk.flushReactions(stream);
      const at = new Date();
      const viewers = { current: 0, peak: stream.viewers.peak, total: stream.viewers.total };
      stream.viewers.current(); // last peak update
      viewers.peak = stream.viewers.peak;
      try {
        await this.store.finish(stream.id, {
          status: failed ? 'failed' : 'ended',
          at,
          reason,
          error,
          viewers,
          reactions: stream.reactions.totals,
        });
      } catch (err) {
        this.log.error({ err, stream_id: stream.id }, 'could not record the end of a live stream');
      }
      stream.row.status = failed ? 'failed' : 'ended';
      stream.row.ended_at = at;
      stream.row.end_reason = reason;
      stream.row.error = error;
      stream.row.viewers_current = 0;
      stream.row.viewers_peak = viewers.peak;
      stream.row.viewers_total = viewers.total;
      if (this.ctx.streams.get(roomName) === stream) this.ctx.streams.delete(roomName);
      const room = this.ctx.rooms.getRoom(roomName);
      if (room?.live === stream) room.live = null;
      const info = streamInfo(stream.row);
      this.log[failed ? 'warn' : 'info']({ room: roomName, stream_id: stream.id, reason, error }, 'live stream over');
      this.ctx.broadcast(roomName, { type: 'live-stream-updated', payload: { stream: info } });
      await this.emit('live_stream_finished', roomName, info);
      this.keepFiles(stream);
    })();
    return stream.finishing;
  }

  /** Players may fetch the last segments for a while; then the files go. */
  private keepFiles(stream: LiveStream): void {
    const roomName = stream.row.room;
    if (!this.ctx.streams.has(roomName)) this.ctx.recent.set(roomName, stream);
    const timer = setTimeout(() => {
      this.cleanups.delete(timer);
      if (this.ctx.recent.get(roomName) === stream) this.ctx.recent.delete(roomName);
      void bestEffort(this.log, `removing the files of stream ${stream.row.id}`, rm(stream.dir, { recursive: true, force: true }));
    }, this.config.keepSeconds * 1000);
    timer.unref();
    this.cleanups.add(timer);
  }

  private startTimers(stream: LiveStream): void {
    const reactions = setInterval(() => this.talk.flushReactions(stream), this.config.reactionIntervalMs);
    const viewers = setInterval(() => this.audience.flushViewers(stream), this.config.viewerIntervalMs);
    reactions.unref();
    viewers.unref();
    stream.timers.push(reactions, viewers);
  }

  // ---- source choice, audience, chat (liveSources, liveWatchers, liveChat) ----

  /** Shows another participant (host/moderator, REST). */
  show(actor: LiveActor, roomName: string, participantId: string): Promise<LiveStreamInfo> {
    return this.sources.show(actor, roomName, participantId);
  }

  /**
   * A connection watches a room's stream: it gets the stream's events, the
   * recent chat and the pinned message, and a playlist URL signed for it.
   */
  watch(sink: ParticipantSink, identity: Identity, roomName: string, displayName?: string) {
    return this.audience.watch(sink, identity, roomName, displayName);
  }

  unwatch(sink: ParticipantSink): boolean {
    return this.audience.unwatch(sink);
  }

  watcher(sink: ParticipantSink): Watcher | null {
    return this.audience.watcher(sink);
  }

  /** Path of the playlist, signed for this viewer when access is signed (relative to the server's URL). */
  playlistUrl(stream: LiveStream, viewer: string, ttlSeconds?: number): string {
    return this.audience.playlistUrl(stream, viewer, ttlSeconds);
  }

  chat(actor: LiveActor, text: string): Promise<LiveChatMessage> {
    return this.talk.chat(actor, text);
  }

  /** Authors delete their own messages; hosts and moderators (and REST) anyone's. */
  deleteMessage(actor: LiveActor, messageId: string, roomName?: string): Promise<void> {
    return this.talk.deleteMessage(actor, messageId, roomName);
  }

  /** Pins a message (replacing the pinned one), or unpins with null. Hosts and moderators. */
  pin(actor: LiveActor, messageId: string | null, roomName?: string): Promise<LiveChatMessage | null> {
    return this.talk.pin(actor, messageId, roomName);
  }

  react(actor: LiveActor, reaction: LiveReaction): void {
    this.talk.react(actor, reaction);
  }

  // ---- HLS and REST reads --------------------------------------------------

  /** The stream whose files are served for this room (open, or ended a moment ago). */
  servedStream(roomName: string): LiveStream | null {
    return this.ctx.streams.get(roomName) ?? this.ctx.recent.get(roomName) ?? null;
  }

  current(roomName: string): LiveStream | null {
    return this.ctx.streams.get(roomName) ?? null;
  }

  async latest(roomName: string): Promise<LiveStreamInfo | null> {
    const open = this.ctx.streams.get(roomName);
    if (open) return open.info();
    const rows = await this.ctx.persist(this.store.list(roomName, 1));
    return rows[0] ? streamInfo(rows[0]) : null;
  }

  async history(roomName: string, limit: number): Promise<LiveStreamInfo[]> {
    const rows: LiveStreamRow[] = await this.ctx.persist(this.store.list(roomName, limit));
    const open = this.ctx.streams.get(roomName);
    return rows.map((r) => (open?.id === r.id ? open.info() : streamInfo(r)));
  }

  /** Prometheus gauges and counters of this node's streams (GET /metrics). */
  registerMetrics(registry: Registry): void {
    const streams = () => [...this.ctx.streams.values()];
    const watchers = () => this.audience.count();
    new Gauge({
      name: 'switchboard_live_streams',
      help: 'Live streams on this node, by status (preparing, live)',
      labelNames: ['status'],
      registers: [registry],
      collect() {
        this.set({ status: 'preparing' }, streams().filter((s) => s.status === 'preparing').length);
        this.set({ status: 'live' }, streams().filter((s) => s.status === 'live').length);
      },
    });
    new Gauge({
      name: 'switchboard_live_viewers',
      help: "Viewers of this node's live streams now (WebSocket watchers and HLS players)",
      registers: [registry],
      collect() {
        this.set(streams().reduce((n, s) => n + s.viewers.current(), 0));
      },
    });
    new Gauge({
      name: 'switchboard_live_watchers',
      help: "WebSocket connections watching a room's stream",
      registers: [registry],
      collect() {
        this.set(watchers());
      },
    });
    this.talk.registerMetrics(registry);
  }

  /** Ends every stream (server shutdown) and forgets the audience. */
  async shutdown(): Promise<void> {
    await Promise.all([...this.ctx.streams.values()].map((s) => this.finish(s, 'server-shutdown', null)));
    for (const t of this.cleanups) clearTimeout(t);
    this.cleanups.clear();
    this.audience.clear();
  }
}
