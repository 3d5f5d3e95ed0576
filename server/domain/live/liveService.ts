// Live streaming of a room: going live and ending (persisted lifecycle,
// webhooks, everyone told), the stream's audience (room participants plus
// WebSocket watchers), viewer counts, chat with moderation and reactions.
// The media half (RTP -> ffmpeg -> HLS) comes from a PipelineFactory.
// Every action: check the actor's role -> persist -> change memory -> tell
// the audience. A refused action changes nothing.

import type { Config } from '../../kernel/config.js';
import { rm } from 'node:fs/promises';
import { Counter, Gauge, type Registry } from 'prom-client';
import path from 'node:path';
import {
  encode, type Identity, type LiveChatMessage, type LiveLayout, type LiveReaction, type LiveStreamInfo, type ProducerInfo,
  type Role, type ServerMessage,
} from '../../../signaling/protocol/protocol.js';
import { RateLimiter } from '../../kernel/rateLimiter.js';
import type { MediaRoom } from '../../../sfu/mediaRoom.js';
import { AppError } from '../../kernel/errors.js';
import type { EventSink } from '../events.js';
import type { Logger } from '../../kernel/logger.js';
import type { Participant, ParticipantSink } from '../rooms/participant.js';
import type { Room } from '../rooms/room.js';
import type { RoomService } from '../rooms/roomService.js';
import type { LiveStore, LiveStreamRow } from '../../storage/liveStore.js';
import { KeyedMutex } from '../../kernel/keyedMutex.js';
import type { HlsAccess } from './hlsAccess.js';
import { assertLiveAllowed, type LiveAction } from './livePermissions.js';
import { LiveStream, streamInfo } from './liveStream.js';
import type { PipelineFactory } from '../../../recording/live/livePipeline.js';
import { storageFailure } from '../../storage/queryError.js';
import { TrackGoneError } from '../../../recording/rollingPipeline.js';

/** The node's live settings (LIVE_* variables, server/kernel/config.ts). */
export type LiveConfig = Config['live'];

/** Most tiles in a grid stream (3 x 3); further cameras are left out, their audio still mixed. */
export const GRID_MAX_VIDEOS = 9;
/** What a stream shows: one participant's camera/screen and mic, or (participantId null) the grid's tiles and mixed mics. */
type ShownSource = { participantId: string | null; producers: ProducerInfo[] };


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

type EndReason = 'stopped' | 'room-closed' | 'source-left' | 'ffmpeg-failed' | 'server-shutdown';

export class LiveService {
  private readonly streams = new Map<string, LiveStream>(); // open streams by room
  /** Ended streams whose files are still served (until LIVE_KEEP_SECONDS after the end). */
  private readonly recent = new Map<string, LiveStream>();
  private readonly watchers = new Map<string, Set<Watcher>>(); // by room
  private readonly watcherOf = new Map<ParticipantSink, Watcher>();
  private readonly locks = new KeyedMutex();
  private readonly cleanups = new Set<NodeJS.Timeout>();

  constructor(
    private readonly rooms: RoomService,
    private readonly store: LiveStore,
    private readonly events: () => EventSink,
    private readonly pipelines: PipelineFactory | null,
    readonly access: HlsAccess,
    private readonly config: LiveConfig,
    private readonly nodeId: string,
    private readonly log: Logger,
  ) {}

  /**
   * Streams a gone run left open are over (failed): at start, a crashed run
   * of this node's (`server-restart`); in a cluster, a dead node's
   * (`node-failure`, closed by the node that reaps it). Their receivers hear it.
   */
  async recover(nodeId: string | null, reason: 'server-restart' | 'node-failure' = 'server-restart'): Promise<number> {
    const rows = await this.store.closeAbandoned(new Date(), nodeId, reason);
    for (const row of rows) {
      const info = streamInfo(row);
      this.broadcast(row.room, { type: 'live-stream-updated', payload: { stream: info } });
      await this.emit('live_stream_finished', row.room, info);
    }
    return rows.length;
  }

  // ---- plumbing ------------------------------------------------------------

  private roleOf(actor: LiveActor): Role {
    if ('api' in actor) return 'host';
    if ('participant' in actor) return actor.participant.identity.role;
    return this.rooms.getRoom(actor.watcher.room)?.roleOverrides.get(actor.watcher.userId) ?? actor.watcher.tokenRole;
  }

  private userOf(actor: LiveActor): { userId: string; displayName: string } | null {
    if ('api' in actor) return null;
    if ('participant' in actor) return { userId: actor.participant.identity.userId, displayName: actor.participant.identity.displayName };
    return { userId: actor.watcher.userId, displayName: actor.watcher.displayName };
  }

  private allow(actor: LiveActor, action: LiveAction): void {
    assertLiveAllowed(this.roleOf(actor), action);
  }

  private async persist<T>(work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (err) {
      throw storageFailure(err, this.log, 'live storage error');
    }
  }

  private async emit(name: 'live_stream_started' | 'live_stream_finished', room: string, stream: LiveStreamInfo): Promise<void> {
    await this.events().emit({ name, room, data: { call_id: stream.call_id, stream } })
      .catch((err) => this.log.error({ err, room }, `could not record ${name}`));
  }

  /** The open stream of the actor's room (chat and reactions need one). */
  private openStream(room: string): LiveStream {
    const stream = this.streams.get(room);
    if (!stream) throw new AppError('conflict', `room ${room} is not live`);
    return stream;
  }

  /** Sends to everyone in the room and every watcher, each connection once. */
  private broadcast(roomName: string, message: ServerMessage): void {
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

  private roomChecked(actor: LiveActor, roomName: string): Room {
    const room = this.rooms.getRoom(roomName);
    if ('participant' in actor) {
      const p = actor.participant;
      if (!room || p.gone || room.participants.get(p.id) !== p) throw new AppError('not_in_room', 'you are not in a room');
    }
    if (!room) throw new AppError('not_found', `room ${roomName} has nobody in it`);
    return room;
  }

  // ---- lifecycle -------------------------------------------------------------

  /**
   * Goes live: picks what to show, records the stream (preparing), starts
   * ffmpeg. The stream turns `live` when the first segment is written.
   */
  start(actor: LiveActor, roomName: string, opts: { layout?: LiveLayout; participantId?: string } = {}): Promise<LiveStreamInfo> {
    return this.locks.run(roomName, async () => {
      this.allow(actor, 'go-live');
      if (!this.pipelines) throw new AppError('unavailable', 'live streaming needs the SFU (RTC_WORKERS > 0)');
      const room = this.roomChecked(actor, roomName);
      if (this.streams.has(roomName)) throw new AppError('conflict', `room ${roomName} is already live`);
      const media = room.media;
      if (!media || media.closed) throw new AppError('conflict', 'nothing is published in this room');
      const layout = opts.layout ?? 'speaker';
      if (layout === 'grid' && opts.participantId !== undefined) throw new AppError('invalid_payload', 'a grid shows everyone: leave out participant_id', 'participant_id');
      const { participantId, producers } = layout === 'grid' ? this.gridSource(room, media) : this.pickSource(room, media, opts.participantId);
      const started = this.userOf(actor);
      const row = await this.persist(this.store.create({
        room: roomName, callId: room.callId, nodeId: this.nodeId, layout, participantId, startedBy: started?.userId ?? null,
      }));
      if (!row) throw new AppError('conflict', `room ${roomName} is already live (on another node)`);
      const stream = new LiveStream(row, path.join(this.config.dir, row.id), this.config.viewerTimeoutSeconds * 1000);
      this.streams.set(roomName, stream);
      this.recent.delete(roomName);
      room.live = stream;
      for (const w of this.watchers.get(roomName) ?? []) stream.viewers.watcherJoined(`u:${w.userId}`);
      this.startTimers(stream);
      this.broadcast(roomName, { type: 'live-stream-updated', payload: { stream: stream.info() } });
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
      this.followMedia(stream, media);
      this.log.info({ room: roomName, stream_id: row.id, participant_id: participantId, pid: stream.pipeline.pid }, 'live stream preparing');
      return stream.info();
    });
  }

  /**
   * The speaker layout shows one participant: the one asked for, else the
   * first host/moderator/speaker publishing a camera (or screen), else anyone
   * publishing. Their camera (screen if no camera) and microphone go out.
   */
  private pickSource(room: Room, media: MediaRoom, asked?: string): ShownSource & { participantId: string } {
    const published = media.producerList();
    const of = (pid: string) => published.filter((p) => p.participant_id === pid);
    let participantId = asked;
    if (asked !== undefined) {
      if (!room.participants.has(asked)) throw new AppError('peer_not_found', `no participant ${asked} in this room`, 'participant_id');
      if (of(asked).every((p) => p.paused)) throw new AppError('conflict', `participant ${asked} publishes nothing (or has paused it all)`, 'participant_id');
    } else {
      const rank: Record<Role, number> = { host: 0, moderator: 1, speaker: 2, viewer: 3 };
      const live = published.filter((p) => !p.paused && room.participants.has(p.participant_id));
      const withVideo = live.filter((p) => p.kind === 'video');
      const candidates = (withVideo.length > 0 ? withVideo : live)
        .map((p) => room.participants.get(p.participant_id)!)
        .sort((a, b) => rank[a.identity.role] - rank[b.identity.role]);
      participantId = candidates[0]?.id;
      if (!participantId) throw new AppError('conflict', 'nothing is published in this room');
    }
    return { participantId: participantId!, producers: this.tracksOf(media, participantId!) };
  }

  /**
   * The grid layout shows everyone who publishes: each participant's camera
   * (else screen) as a tile, hosts first, at most GRID_MAX_VIDEOS, and every
   * microphone mixed. Paused tracks are left out.
   */
  private gridSource(room: Room, media: MediaRoom): ShownSource {
    const rank: Record<Role, number> = { host: 0, moderator: 1, speaker: 2, viewer: 3 };
    const people = [...room.participants.values()].sort((a, b) => rank[a.identity.role] - rank[b.identity.role]);
    const tracks = people.flatMap((p) => this.tracksOf(media, p.id));
    const videos = tracks.filter((t) => t.kind === 'video').slice(0, GRID_MAX_VIDEOS);
    const audios = tracks.filter((t) => t.kind === 'audio');
    if (videos.length + audios.length === 0) throw new AppError('conflict', 'nothing is published in this room');
    return { participantId: null, producers: [...audios, ...videos] };
  }

  /**
   * The participant's tracks the stream shows: camera (else screen) and mic
   * (else screen audio), leaving out paused ones (a muted camera becomes a
   * black picture, not a frozen one).
   */
  private tracksOf(media: MediaRoom, participantId: string, includePaused = false): ProducerInfo[] {
    const mine = media.producerList().filter((p) => p.participant_id === participantId && (includePaused || !p.paused));
    const video = mine.find((p) => p.source === 'camera') ?? mine.find((p) => p.source === 'screen');
    const audio = mine.find((p) => p.source === 'mic') ?? mine.find((p) => p.source === 'screen-audio');
    return [audio, video].filter((p): p is ProducerInfo => p !== undefined);
  }

  /** Producers coming and going in the room may change what the stream shows. */
  private followMedia(stream: LiveStream, media: MediaRoom): void {
    const changed = () => {
      void this.locks.run(stream.row.room, () => this.refollow(stream))
        .catch((err) => this.log.error({ err, stream_id: stream.id }, 'could not follow the room\'s media'));
    };
    const speaker = (participantId: string) => {
      if (stream.row.layout !== 'active-speaker') return;
      this.log.debug({ stream_id: stream.id, participant_id: participantId }, 'dominant speaker');
      stream.dominant = participantId;
      this.scheduleSpeakerSwitch(stream);
    };
    media.observer.on('produceradd', changed);
    media.observer.on('producerclose', changed);
    media.observer.on('producerpause', changed); // paused tracks leave the picture (a new part without them)
    media.observer.on('producerresume', changed);
    media.observer.on('activespeaker', speaker);
    stream.unsubscribe = () => {
      media.observer.off('produceradd', changed);
      media.observer.off('producerclose', changed);
      media.observer.off('producerpause', changed);
      media.observer.off('producerresume', changed);
      media.observer.off('activespeaker', speaker);
      if (stream.speakerTimer) clearTimeout(stream.speakerTimer);
      stream.speakerTimer = null;
    };
  }

  /**
   * Active-speaker layout: show the dominant speaker, but switch at most once
   * per LIVE_SPEAKER_HOLD_SECONDS (every switch is a new ffmpeg part), so a
   * quick exchange does not make the picture flicker.
   */
  private scheduleSpeakerSwitch(stream: LiveStream): void {
    if (stream.speakerTimer) clearTimeout(stream.speakerTimer);
    stream.speakerTimer = null;
    if (stream.dominant === stream.row.participant_id) return;
    const wait = Math.max(0, stream.lastSwitchAt + this.config.speakerHoldSeconds * 1000 - Date.now());
    stream.speakerTimer = setTimeout(() => {
      stream.speakerTimer = null;
      void this.locks.run(stream.row.room, async () => {
        const target = stream.dominant;
        if (!target || !stream.open || !stream.pipeline || stream.finishing || target === stream.row.participant_id) return;
        const room = this.rooms.getRoom(stream.row.room);
        if (!room?.media || room.media.closed || !room.participants.has(target)) return;
        const producers = this.tracksOf(room.media, target);
        if (producers.length > 0) await this.showLocked(stream, { participantId: target, producers });
      }).catch((err) => this.log.error({ err, stream_id: stream.id }, 'could not follow the active speaker'));
    }, wait);
    stream.speakerTimer.unref();
  }

  /**
   * Keeps showing the same participant with whatever they publish now (a
   * camera turned on later joins the stream); when they publish nothing any
   * more (or left), shows the next one by the start rule; with nobody left
   * publishing, the stream ends (source-left).
   */
  private async refollow(stream: LiveStream): Promise<void> {
    if (!stream.open || !stream.pipeline || stream.finishing) return;
    const room = this.rooms.getRoom(stream.row.room);
    const media = room?.media;
    if (!room || !media || media.closed) return; // the room's end is reported by the pipeline (room-closed)
    if (stream.row.layout === 'grid') {
      let grid: ShownSource | null = null;
      try {
        grid = this.gridSource(room, media);
      } catch {
        grid = null;
      }
      // Everyone paused or gone: with publishers left the part just stops; with none the stream ends.
      if (!grid && !media.producerList().some((p) => room.participants.has(p.participant_id))) return this.finishLocked(stream, 'source-left', null);
      stream.pipeline.show(grid?.producers ?? []);
      return;
    }
    const shown = stream.row.participant_id;
    let pick: ShownSource | null = null;
    // Someone who still publishes stays shown, even with everything paused (the part then stops until they resume).
    if (shown && room.participants.has(shown) && this.tracksOf(media, shown, true).length > 0) {
      pick = { participantId: shown, producers: this.tracksOf(media, shown) };
    }
    if (!pick) {
      try {
        pick = this.pickSource(room, media);
      } catch {
        pick = null;
      }
    }
    if (!pick) return this.finishLocked(stream, 'source-left', null);
    await this.showLocked(stream, pick);
  }

  private async showLocked(stream: LiveStream, pick: ShownSource): Promise<void> {
    if (pick.participantId !== stream.row.participant_id) {
      await this.store.setParticipant(stream.id, pick.participantId).catch((err) => this.log.warn({ err, stream_id: stream.id }, 'could not store who the stream shows'));
      stream.row.participant_id = pick.participantId;
      stream.lastSwitchAt = Date.now();
      this.log.info({ room: stream.row.room, stream_id: stream.id, participant_id: pick.participantId }, 'live stream shows another participant');
      this.broadcast(stream.row.room, { type: 'live-stream-updated', payload: { stream: stream.info() } });
    }
    stream.pipeline!.show(pick.producers);
  }

  /** Shows another participant (host/moderator, REST). */
  show(actor: LiveActor, roomName: string, participantId: string): Promise<LiveStreamInfo> {
    return this.locks.run(roomName, async () => {
      this.allow(actor, 'go-live');
      const room = this.roomChecked(actor, roomName);
      const stream = this.streams.get(roomName);
      if (!stream || !stream.pipeline || stream.finishing) throw new AppError('not_found', `room ${roomName} is not live`);
      if (!room.media || room.media.closed) throw new AppError('conflict', 'nothing is published in this room');
      if (stream.row.layout === 'grid') throw new AppError('conflict', 'a grid stream shows everyone');
      await this.showLocked(stream, this.pickSource(room, room.media, participantId));
      return stream.info();
    });
  }

  private async markLive(stream: LiveStream): Promise<void> {
    await this.locks.run(stream.row.room, async () => {
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
      this.broadcast(stream.row.room, { type: 'live-stream-updated', payload: { stream: stream.info() } });
      await this.emit('live_stream_started', stream.row.room, stream.info());
    });
  }

  /** Ends the room's stream (host/moderator, REST). */
  stop(actor: LiveActor, roomName: string): Promise<LiveStreamInfo> {
    return this.locks.run(roomName, async () => {
      this.allow(actor, 'go-live');
      if ('participant' in actor) this.roomChecked(actor, roomName);
      const stream = this.streams.get(roomName);
      if (!stream) throw new AppError('not_found', `room ${roomName} is not live`);
      await this.finishLocked(stream, 'stopped', null);
      return stream.info();
    });
  }

  private finish(stream: LiveStream, reason: EndReason, error: string | null): Promise<void> {
    return this.locks.run(stream.row.room, () => this.finishLocked(stream, reason, error));
  }

  /** Stops ffmpeg, writes the end and the counts, tells the audience, fires live_stream_finished. Once. */
  private finishLocked(stream: LiveStream, reason: EndReason, error: string | null): Promise<void> {
    stream.finishing ??= (async () => {
      const roomName = stream.row.room;
      for (const t of stream.timers) clearInterval(t);
      stream.unsubscribe?.();
      const failed = reason === 'ffmpeg-failed';
      if (stream.pipeline) {
        await stream.pipeline.stop({ now: reason === 'room-closed' }).catch((err) => this.log.warn({ err, stream_id: stream.id }, 'ffmpeg did not stop cleanly'));
      }
      this.flushReactions(stream);
      const at = new Date();
      const viewers = { current: 0, peak: stream.viewers.peak, total: stream.viewers.total };
      stream.viewers.current(); // last peak update
      viewers.peak = stream.viewers.peak;
      try {
        await this.store.finish(stream.id, { status: failed ? 'failed' : 'ended', at, reason, error, viewers, reactions: stream.reactions.totals });
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
      if (this.streams.get(roomName) === stream) this.streams.delete(roomName);
      const room = this.rooms.getRoom(roomName);
      if (room?.live === stream) room.live = null;
      const info = streamInfo(stream.row);
      (this.log[failed ? 'warn' : 'info'])({ room: roomName, stream_id: stream.id, reason, error }, 'live stream over');
      this.broadcast(roomName, { type: 'live-stream-updated', payload: { stream: info } });
      await this.emit('live_stream_finished', roomName, info);
      this.keepFiles(stream);
    })();
    return stream.finishing;
  }

  /** Players may fetch the last segments for a while; then the files go. */
  private keepFiles(stream: LiveStream): void {
    const roomName = stream.row.room;
    if (!this.streams.has(roomName)) this.recent.set(roomName, stream);
    const timer = setTimeout(() => {
      this.cleanups.delete(timer);
      if (this.recent.get(roomName) === stream) this.recent.delete(roomName);
      rm(stream.dir, { recursive: true, force: true }).catch(() => {});
    }, this.config.keepSeconds * 1000);
    timer.unref();
    this.cleanups.add(timer);
  }

  private startTimers(stream: LiveStream): void {
    const reactions = setInterval(() => this.flushReactions(stream), this.config.reactionIntervalMs);
    const viewers = setInterval(() => this.flushViewers(stream), this.config.viewerIntervalMs);
    reactions.unref();
    viewers.unref();
    stream.timers.push(reactions, viewers);
  }

  private flushReactions(stream: LiveStream): void {
    const counts = stream.reactions.take();
    if (!counts) return;
    this.broadcast(stream.row.room, {
      type: 'live-reactions',
      payload: { stream_id: stream.id, counts, totals: stream.reactions.totals, interval_ms: this.config.reactionIntervalMs },
    });
  }

  /** Viewer counts go out (and to the row) only when they changed. */
  private flushViewers(stream: LiveStream): void {
    const current = stream.viewers.current();
    const next = { current, peak: stream.viewers.peak, total: stream.viewers.total };
    const last = stream.lastViewers;
    if (next.current === last.current && next.peak === last.peak && next.total === last.total) return;
    stream.lastViewers = next;
    stream.row.viewers_current = next.current;
    stream.row.viewers_peak = next.peak;
    stream.row.viewers_total = next.total;
    this.broadcast(stream.row.room, { type: 'live-viewers', payload: { stream_id: stream.id, ...next } });
    this.store.saveCounts(stream.id, next, stream.reactions.totals)
      .catch((err) => this.log.warn({ err, stream_id: stream.id }, 'could not store viewer counts'));
  }

  // ---- audience ----------------------------------------------------------------

  /**
   * A connection watches a room's stream: it gets the stream's events, the
   * recent chat and the pinned message, and a playlist URL signed for it.
   * Watching needs no seat in the room (viewers are not participants).
   */
  watch(sink: ParticipantSink, identity: Identity, roomName: string, displayName?: string) {
    if (identity.room !== null && identity.room !== roomName) {
      throw new AppError('forbidden', `this token is only valid for room ${identity.room}`, 'room');
    }
    const room = this.rooms.getRoom(roomName);
    const bannedUntil = room?.bans.get(identity.user_id);
    if (bannedUntil !== undefined && bannedUntil > Date.now()) throw new AppError('banned', 'you were removed from this room');
    const previous = this.watcherOf.get(sink);
    if (previous && previous.room !== roomName) this.unwatch(sink);
    let watcher = this.watcherOf.get(sink);
    if (!watcher) {
      const set = this.watchers.get(roomName) ?? new Set<Watcher>();
      if (set.size >= this.config.maxWatchers) throw new AppError('room_full', `this stream has ${this.config.maxWatchers} watchers`);
      watcher = { sink, room: roomName, userId: identity.user_id, displayName: displayName ?? identity.name, tokenRole: identity.role };
      set.add(watcher);
      this.watchers.set(roomName, set);
      this.watcherOf.set(sink, watcher);
      this.streams.get(roomName)?.viewers.watcherJoined(`u:${watcher.userId}`);
    }
    const stream = this.streams.get(roomName) ?? null;
    return {
      stream: stream?.info() ?? null,
      playlist_url: stream ? this.playlistUrl(stream, identity.user_id) : null,
      chat: stream ? [...stream.history] : [],
      pinned: stream?.pinned ?? null,
      reactions: stream ? { ...stream.reactions.totals } : {},
    };
  }

  unwatch(sink: ParticipantSink): boolean {
    const watcher = this.watcherOf.get(sink);
    if (!watcher) return false;
    this.watcherOf.delete(sink);
    const set = this.watchers.get(watcher.room);
    set?.delete(watcher);
    if (set?.size === 0) this.watchers.delete(watcher.room);
    this.streams.get(watcher.room)?.viewers.watcherLeft(`u:${watcher.userId}`);
    return true;
  }

  watcher(sink: ParticipantSink): Watcher | null {
    return this.watcherOf.get(sink) ?? null;
  }

  /** Path of the playlist, signed for this viewer when access is signed (relative to the server's URL). */
  playlistUrl(stream: LiveStream, viewer: string, ttlSeconds?: number): string {
    const base = `/live/${encodeURIComponent(stream.row.room)}/index.m3u8`;
    if (this.access.mode === 'public') return `${base}?viewer=${encodeURIComponent(viewer)}`;
    return `${base}?token=${this.access.sign(stream.row.room, stream.id, viewer, ttlSeconds).token}`;
  }

  // ---- chat and reactions ----------------------------------------------------

  private limited(buckets: Map<string, RateLimiter>, userId: string, rate: number, burst: number, what: string): void {
    let bucket = buckets.get(userId);
    if (!bucket) {
      bucket = new RateLimiter(rate, burst);
      buckets.set(userId, bucket);
    }
    if (!bucket.take()) throw new AppError('rate_limited', `too many ${what}; at most ${rate} per second (burst ${burst})`);
  }

  /** The actor's room name, and that the actor may act there. */
  private roomOfActor(actor: LiveActor, roomName?: string): string {
    if ('participant' in actor) {
      this.roomChecked(actor, actor.participant.roomName);
      return actor.participant.roomName;
    }
    if ('watcher' in actor) return actor.watcher.room;
    return roomName!;
  }

  async chat(actor: LiveActor, text: string): Promise<LiveChatMessage> {
    const roomName = this.roomOfActor(actor);
    this.allow(actor, 'chat');
    const user = this.userOf(actor)!;
    const clean = text.trim();
    if (!clean) throw new AppError('invalid_payload', 'text must not be blank', 'text');
    const stream = this.openStream(roomName);
    this.limited(stream.chatLimits, user.userId, this.config.chatRatePerSecond, this.config.chatBurst, 'chat messages');
    const message = await this.persist(this.store.addMessage(stream.id, user.userId, user.displayName, clean));
    if (!stream.open) return message; // ended while storing: the row stays, nobody is told
    this.chatCounter?.inc();
    stream.history.push(message);
    if (stream.history.length > this.config.chatHistory) stream.history.shift();
    this.broadcast(roomName, { type: 'live-chat-message', payload: { stream_id: stream.id, message } });
    return message;
  }

  /** Authors delete their own messages; hosts and moderators (and REST) anyone's. */
  deleteMessage(actor: LiveActor, messageId: string, roomName?: string): Promise<void> {
    const name = this.roomOfActor(actor, roomName);
    return this.locks.run(name, async () => {
      const stream = this.openStream(name);
      const message = stream.history.find((m) => m.message_id === messageId) ?? (await this.persist(this.store.getMessage(stream.id, messageId)));
      if (!message) throw new AppError('not_found', `no message ${messageId} in this stream`, 'message_id');
      const user = this.userOf(actor);
      if (!user || message.user_id !== user.userId) this.allow(actor, 'moderate-chat');
      if (!(await this.persist(this.store.deleteMessage(stream.id, messageId, user?.userId ?? null, new Date())))) {
        throw new AppError('not_found', `no message ${messageId} in this stream`, 'message_id');
      }
      stream.history = stream.history.filter((m) => m.message_id !== messageId);
      const by = user?.userId ?? null;
      this.broadcast(name, { type: 'live-chat-deleted', payload: { stream_id: stream.id, message_id: messageId, by } });
      if (stream.pinned?.message_id === messageId) {
        stream.pinned = null;
        this.broadcast(name, { type: 'live-chat-pinned', payload: { stream_id: stream.id, message: null, by } });
      }
    });
  }

  /** Pins a message (replacing the pinned one), or unpins with null. Hosts and moderators. */
  pin(actor: LiveActor, messageId: string | null, roomName?: string): Promise<LiveChatMessage | null> {
    const name = this.roomOfActor(actor, roomName);
    return this.locks.run(name, async () => {
      this.allow(actor, 'moderate-chat');
      const stream = this.openStream(name);
      let message: LiveChatMessage | null = null;
      if (messageId !== null) {
        message = stream.history.find((m) => m.message_id === messageId) ?? (await this.persist(this.store.getMessage(stream.id, messageId)));
        if (!message) throw new AppError('not_found', `no message ${messageId} in this stream`, 'message_id');
      } else if (!stream.pinned) {
        return null;
      }
      await this.persist(this.store.setPinned(stream.id, messageId));
      stream.pinned = message;
      this.broadcast(name, { type: 'live-chat-pinned', payload: { stream_id: stream.id, message, by: this.userOf(actor)?.userId ?? null } });
      return message;
    });
  }

  react(actor: LiveActor, reaction: LiveReaction): void {
    const roomName = this.roomOfActor(actor);
    this.allow(actor, 'react');
    const stream = this.openStream(roomName);
    const user = this.userOf(actor)!;
    this.limited(stream.reactionLimits, user.userId, this.config.reactionRatePerSecond, this.config.reactionBurst, 'reactions');
    stream.reactions.add(reaction);
    this.reactionCounter?.inc();
  }

  // ---- HLS and REST reads --------------------------------------------------

  /** The stream whose files are served for this room (open, or ended a moment ago). */
  servedStream(roomName: string): LiveStream | null {
    return this.streams.get(roomName) ?? this.recent.get(roomName) ?? null;
  }

  current(roomName: string): LiveStream | null {
    return this.streams.get(roomName) ?? null;
  }

  async latest(roomName: string): Promise<LiveStreamInfo | null> {
    const open = this.streams.get(roomName);
    if (open) return open.info();
    const rows = await this.persist(this.store.list(roomName, 1));
    return rows[0] ? streamInfo(rows[0]) : null;
  }

  async history(roomName: string, limit: number): Promise<LiveStreamInfo[]> {
    const rows: LiveStreamRow[] = await this.persist(this.store.list(roomName, limit));
    return rows.map((r) => (this.streams.get(roomName)?.id === r.id ? this.streams.get(roomName)!.info() : streamInfo(r)));
  }

  /** Prometheus gauges and counters of this node's streams (GET /metrics). */
  registerMetrics(registry: Registry): void {
    const streams = () => [...this.streams.values()];
    const watchers = () => [...this.watchers.values()].reduce((n, set) => n + set.size, 0);
    new Gauge({
      name: 'switchboard_live_streams', help: 'Live streams on this node, by status (preparing, live)', labelNames: ['status'], registers: [registry],
      collect() {
        this.set({ status: 'preparing' }, streams().filter((s) => s.status === 'preparing').length);
        this.set({ status: 'live' }, streams().filter((s) => s.status === 'live').length);
      },
    });
    new Gauge({
      name: 'switchboard_live_viewers', help: 'Viewers of this node\'s live streams now (WebSocket watchers and HLS players)', registers: [registry],
      collect() { this.set(streams().reduce((n, s) => n + s.viewers.current(), 0)); },
    });
    new Gauge({ name: 'switchboard_live_watchers', help: 'WebSocket connections watching a room\'s stream', registers: [registry], collect() { this.set(watchers()); } });
    this.chatCounter = new Counter({ name: 'switchboard_live_chat_messages_total', help: 'Stream chat messages accepted', registers: [registry] });
    this.reactionCounter = new Counter({ name: 'switchboard_live_reactions_total', help: 'Stream reactions accepted', registers: [registry] });
  }

  private chatCounter: Counter | null = null;
  private reactionCounter: Counter | null = null;

  /** Ends every stream (server shutdown) and forgets the audience. */
  async shutdown(): Promise<void> {
    await Promise.all([...this.streams.values()].map((s) => this.finish(s, 'server-shutdown', null)));
    for (const t of this.cleanups) clearTimeout(t);
    this.cleanups.clear();
    this.watchers.clear();
    this.watcherOf.clear();
  }
}
