// What a stream shows: the start rule for each layout (speaker, grid), and
// following the room's media while live (tracks coming and going, the
// active speaker, a host asking for someone else).

import type { ProducerInfo, LiveStreamInfo, Role } from '../../../signaling/protocol/protocol.js';
import type { MediaRoom } from '../../../sfu/mediaRoom.js';
import type { LivePipeline } from '../../../recording/live/livePipeline.js';
import { AppError } from '../../kernel/errors.js';
import type { Room } from '../rooms/room.js';
import type { LiveActor, LiveContext } from './liveContext.js';
import type { LiveStream } from './liveStream.js';

/** Most tiles in a grid stream (3 x 3); further cameras are left out, their audio still mixed. */
export const GRID_MAX_VIDEOS = 9;
/** What a stream shows: one participant's camera/screen and mic, or (participantId null) the grid's tiles and mixed mics. */
export type ShownSource = { participantId: string | null; producers: ProducerInfo[] };

export class LiveSources {
  constructor(
    private readonly ctx: LiveContext,
    /** Ends the stream because nobody is left to show (the room's lock is held). */
    private readonly sourceLeft: (stream: LiveStream) => Promise<void>,
  ) {}

  /**
   * The speaker layout shows one participant: the one asked for, else the
   * first host/moderator/speaker publishing a camera (or screen), else anyone
   * publishing. Their camera (screen if no camera) and microphone go out.
   */
  pickSource(room: Room, media: MediaRoom, asked?: string): ShownSource & { participantId: string } {
    const published = media.producerList();
    const of = (pid: string) => published.filter((p) => p.participant_id === pid);
    let participantId: string;
    if (asked !== undefined) {
      if (!room.participants.has(asked)) throw new AppError('peer_not_found', `no participant ${asked} in this room`, 'participant_id');
      if (of(asked).every((p) => p.paused))
        throw new AppError('conflict', `participant ${asked} publishes nothing (or has paused it all)`, 'participant_id');
      participantId = asked;
    } else {
      const rank: Record<Role, number> = { host: 0, moderator: 1, speaker: 2, viewer: 3 };
      const live = published.filter((p) => !p.paused && room.participants.has(p.participant_id));
      const withVideo = live.filter((p) => p.kind === 'video');
      const candidates = (withVideo.length > 0 ? withVideo : live)
        .flatMap((p) => room.participants.get(p.participant_id) ?? [])
        .sort((a, b) => rank[a.identity.role] - rank[b.identity.role]);
      const first = candidates[0]?.id;
      if (!first) throw new AppError('conflict', 'nothing is published in this room');
      participantId = first;
    }
    return { participantId, producers: this.tracksOf(media, participantId) };
  }

  /**
   * The grid layout shows everyone who publishes: each participant's camera
   * (else screen) as a tile, hosts first, at most GRID_MAX_VIDEOS, and every
   * microphone mixed. Paused tracks are left out.
   */
  gridSource(room: Room, media: MediaRoom): ShownSource {
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
  followMedia(stream: LiveStream, media: MediaRoom): void {
    const changed = () => {
      void this.ctx.locks
        .run(stream.row.room, () => this.refollow(stream))
        .catch((err) => this.ctx.log.error({ err, stream_id: stream.id }, "could not follow the room's media"));
    };
    const speaker = (participantId: string) => {
      if (stream.row.layout !== 'active-speaker') return;
      this.ctx.log.debug({ stream_id: stream.id, participant_id: participantId }, 'dominant speaker');
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
    const wait = Math.max(0, stream.lastSwitchAt + this.ctx.config.speakerHoldSeconds * 1000 - Date.now());
    stream.speakerTimer = setTimeout(() => {
      stream.speakerTimer = null;
      void this.ctx.locks
        .run(stream.row.room, async () => {
          const target = stream.dominant;
          if (!target || !stream.open || !stream.pipeline || stream.finishing || target === stream.row.participant_id) return;
          const room = this.ctx.rooms.getRoom(stream.row.room);
          if (!room?.media || room.media.closed || !room.participants.has(target)) return;
          const producers = this.tracksOf(room.media, target);
          if (producers.length > 0) await this.showLocked(stream, stream.pipeline, { participantId: target, producers });
        })
        .catch((err) => this.ctx.log.error({ err, stream_id: stream.id }, 'could not follow the active speaker'));
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
    const room = this.ctx.rooms.getRoom(stream.row.room);
    const media = room?.media;
    if (!room || !media || media.closed) return; // the room's end is reported by the pipeline (room-closed)
    if (stream.row.layout === 'grid') {
      let grid: ShownSource | null;
      try {
        grid = this.gridSource(room, media);
      } catch {
        grid = null;
      }
      // Everyone paused or gone: with publishers left the part just stops; with none the stream ends.
      if (!grid && !media.producerList().some((p) => room.participants.has(p.participant_id))) return this.sourceLeft(stream);
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
    if (!pick) return this.sourceLeft(stream);
    await this.showLocked(stream, stream.pipeline, pick);
  }

  private async showLocked(stream: LiveStream, pipeline: LivePipeline, pick: ShownSource): Promise<void> {
    if (pick.participantId !== stream.row.participant_id) {
      await this.ctx.store
        .setParticipant(stream.id, pick.participantId)
        .catch((err) => this.ctx.log.warn({ err, stream_id: stream.id }, 'could not store who the stream shows'));
      stream.row.participant_id = pick.participantId;
      stream.lastSwitchAt = Date.now();
      this.ctx.log.info(
        { room: stream.row.room, stream_id: stream.id, participant_id: pick.participantId },
        'live stream shows another participant',
      );
      this.ctx.broadcast(stream.row.room, { type: 'live-stream-updated', payload: { stream: stream.info() } });
    }
    pipeline.show(pick.producers);
  }

  /** Shows another participant (host/moderator, REST). */
  show(actor: LiveActor, roomName: string, participantId: string): Promise<LiveStreamInfo> {
    return this.ctx.locks.run(roomName, async () => {
      this.ctx.allow(actor, 'go-live');
      const room = this.ctx.roomChecked(actor, roomName);
      const stream = this.ctx.streams.get(roomName);
      if (!stream || !stream.pipeline || stream.finishing) throw new AppError('not_found', `room ${roomName} is not live`);
      if (!room.media || room.media.closed) throw new AppError('conflict', 'nothing is published in this room');
      if (stream.row.layout === 'grid') throw new AppError('conflict', 'a grid stream shows everyone');
      await this.showLocked(stream, stream.pipeline, this.pickSource(room, room.media, participantId));
      return stream.info();
    });
  }
}
