// Recordings in progress: start and stop (WebSocket staff, REST, automatic),
// permission and capacity checks, what participants and webhooks are told,
// and turning finished ffmpeg files into ready (or failed) rows.
//
// Lifecycle: recording (ffmpeg writing) -> processing (files finalized,
// probed, moved to storage) -> ready | failed. A crash of any of the
// recording's ffmpeg processes, a storage error or a nearly full disk ends
// the recording as failed; what was written is kept. The room never notices
// beyond the recording-finished message.

import { randomUUID } from 'node:crypto';
import { Counter, Gauge, type Registry } from 'prom-client';
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { RecordingConfig } from '../../kernel/config.js';
import { AppError } from '../../kernel/errors.js';
import type { EventSink, RoomEvent } from '../events.js';
import type { Logger } from '../../kernel/logger.js';
import type { Participant } from '../rooms/participant.js';
import { assertAllowed } from '../rooms/permissions.js';
import type { RoomService } from '../rooms/roomService.js';
import { KeyedMutex } from '../../kernel/keyedMutex.js';
import type { MediaRoom } from '../../../sfu/mediaRoom.js';
import type { Sfu } from '../../../sfu/sfu.js';
import type { RecordingModeName, RecordingState, RoomSettings } from '../../../signaling/protocol/protocol.js';
import { resolveBinary, type FfmpegExit } from '../../../recording/ffmpegProcess.js';
import { probeFile } from '../../../recording/probe.js';
import { recordingJson } from './recordingJson.js';
import type { RecordingAccess, RecordingRow, RecordingStore } from '../../storage/recordingStore.js';
import { RoomRecorder, type RecordedFile } from '../../../recording/roomRecorder.js';
import { freeMegabytes, type RecordingStorage } from '../../storage/recordingFiles.js';
import { storageFailure } from '../../storage/queryError.js';

export interface StartOptions {
  mode?: RecordingModeName;
  /** User id, 'api' or 'auto'. */
  startedBy: string;
  retentionDays?: number | null;
  access?: Partial<RecordingAccess>;
  metadata?: Record<string, unknown>;
}

export type EndReason = 'stopped' | 'room-ended' | 'failed' | 'disk-full' | 'server-shutdown' | 'not-allowed';

interface Active {
  row: RecordingRow;
  room: string;
  recorder: RoomRecorder;
  /** Rows of the files, by key; the insert may still be on its way. */
  fileIds: Map<string, Promise<string | null>>;
  /** Finalizing files (probe + store). */
  pending: Set<Promise<void>>;
  failure: string | null;
  stopping: Promise<RecordingRow> | null;
  state: RecordingState;
}

export interface RecordingServiceDeps {
  store: RecordingStore;
  storage: RecordingStorage;
  rooms: RoomService;
  sfu: Sfu | null;
  events: EventSink;
  config: RecordingConfig;
  nodeId: string;
  log: Logger;
}

const DISK_CHECK_MS = 5000;

export class RecordingService {
  private readonly active = new Map<string, Active>();
  private readonly locks = new KeyedMutex();
  private diskTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private finishedTotal: Counter<'status' | 'reason'> | null = null;
  private filesTotal: Counter<'result'> | null = null;

  constructor(private readonly deps: RecordingServiceDeps) {
    deps.sfu?.observer.on('newroom', (media) => this.onMediaRoom(media));
    // The rooms domain's events (recorded before they reach the webhook outbox): a call's end stops its recording.
    deps.rooms.observer.on('event', (event) => this.onRoomEvent(event));
  }

  /** Prometheus: recordings in progress, finished ones by status/reason, files by result (crashes among them). */
  registerMetrics(registry: Registry): void {
    const active = this.active;
    new Gauge({
      name: 'switchboard_recordings_active',
      help: 'Recordings in progress on this node',
      registers: [registry],
      collect() {
        this.set(active.size);
      },
    });
    new Gauge({
      name: 'switchboard_recording_ffmpeg_processes',
      help: 'ffmpeg processes recording on this node',
      registers: [registry],
      collect() {
        this.set([...active.values()].reduce((n, a) => n + a.recorder.activeFiles, 0));
      },
    });
    this.finishedTotal = new Counter({
      name: 'switchboard_recordings_finished_total',
      help: 'Recordings finished, by status and reason',
      labelNames: ['status', 'reason'],
      registers: [registry],
    });
    this.filesTotal = new Counter({
      name: 'switchboard_recording_files_total',
      help: 'Recording files ended, by result (ready, crashed, storage_error)',
      labelNames: ['result'],
      registers: [registry],
    });
  }

  get activeCount(): number {
    return this.active.size;
  }

  /** The recording in progress in this room, if any. */
  activeIn(room: string): RecordingRow | null {
    return this.active.get(room)?.row ?? null;
  }

  // ---- the WebSocket side: hosts and moderators ---------------------------

  async startBy(p: Participant, mode?: RecordingModeName): Promise<RecordingState> {
    const room = this.deps.rooms.roomOf(p);
    assertAllowed(p.identity.role, 'record', room.settings.type);
    const row = await this.start(room.name, { ...(mode ? { mode } : {}), startedBy: p.identity.userId });
    return this.active.get(room.name)?.state ?? stateOf(row);
  }

  async stopBy(p: Participant): Promise<RecordingRow> {
    const room = this.deps.rooms.roomOf(p);
    assertAllowed(p.identity.role, 'record', room.settings.type);
    return this.stop(room.name, 'stopped');
  }

  // ---- start / stop ------------------------------------------------------------

  /** Starts recording the room's open call. */
  start(roomName: string, opts: StartOptions): Promise<RecordingRow> {
    return this.locks.run(roomName, async () => {
      const { config, rooms, store, storage, log } = this.deps;
      if (this.closed) throw new AppError('unavailable', 'the server is shutting down');
      if (!this.deps.sfu) throw new AppError('unavailable', 'this server runs without an SFU (RTC_WORKERS=0): nothing to record');
      const room = rooms.getRoom(roomName);
      if (!room) throw new AppError('not_found', `room ${roomName} has no call in progress on this node`);
      if (!room.settings.recording_allowed) throw new AppError('forbidden', `recording is not allowed in room ${roomName}`);
      const existing = this.active.get(roomName);
      if (existing) throw new AppError('conflict', `room ${roomName} is already being recorded (${existing.row.id})`);
      try {
        resolveBinary(config.ffmpegPath ?? 'ffmpeg');
      } catch (err) {
        throw new AppError('unavailable', (err as Error).message);
      }
      await mkdir(config.dir, { recursive: true }).catch((err: NodeJS.ErrnoException) => {
        throw new AppError('unavailable', `cannot create RECORDINGS_DIR ${config.dir}: ${err.code ?? err.message}`);
      });
      const free = await freeMegabytes(config.dir);
      if (free < config.minFreeMb) {
        throw new AppError(
          'unavailable',
          `not enough disk space to record: ${Math.floor(free)} MB free in ${config.dir}, RECORDING_MIN_FREE_MB is ${config.minFreeMb}`,
        );
      }
      const id = randomUUID();
      const mode = opts.mode ?? config.defaultMode;
      const dir = `${config.dir}/${id}`;
      await mkdir(dir, { recursive: true });
      const retention = opts.retentionDays !== undefined ? opts.retentionDays : config.retentionDays > 0 ? config.retentionDays : null;
      const row = await store
        .create({
          id,
          room: roomName,
          call_id: room.callId,
          node_id: this.deps.nodeId,
          mode,
          started_by: opts.startedBy,
          storage: storage.kind,
          location: storage.locationOf(id),
          access: { users: opts.access?.users ?? [], room_staff: opts.access?.room_staff ?? true },
          retention_days: retention,
          metadata: opts.metadata ?? {},
        })
        .catch((err: unknown) => {
          throw storageFailure(err, log, `could not store a new recording of room ${roomName}`);
        });
      if (!row) throw new AppError('conflict', `room ${roomName} already has a recording in progress (another node, or one being stopped)`);

      const recorder = new RoomRecorder({ mode, dir, log, ...(config.ffmpegPath ? { ffmpegPath: config.ffmpegPath } : {}) });
      const state: RecordingState = { recording_id: id, mode, started_at: row.started_at.toISOString(), started_by: opts.startedBy };
      const active: Active = {
        row,
        room: roomName,
        recorder,
        fileIds: new Map(),
        pending: new Set(),
        failure: null,
        stopping: null,
        state,
      };
      this.active.set(roomName, active);
      this.wire(active);
      if (room.media) recorder.attach(room.media);
      await recorder.flush();
      this.armDiskCheck();

      room.recording = state;
      room.broadcast({ type: 'recording-started', payload: state });
      await this.deps.events
        .emit({ name: 'recording_started', room: roomName, data: { call_id: room.callId, recording: recordingJson(row) } })
        .catch((err) => log.error({ err, recording: id }, 'could not record the recording_started event'));
      log.info({ room: roomName, recording: id, mode, by: opts.startedBy }, 'recording started');
      return row;
    });
  }

  /** Stops the room's recording; resolves with its final row (ready or failed). */
  async stop(roomName: string, reason: EndReason): Promise<RecordingRow> {
    const active = this.active.get(roomName);
    if (!active) throw new AppError('not_found', `room ${roomName} is not being recorded`);
    return this.finish(active, reason);
  }

  /** Stops a recording by id (REST); only recordings in progress on this node can be stopped here. */
  async stopById(id: string, reason: EndReason): Promise<RecordingRow> {
    const active = [...this.active.values()].find((a) => a.row.id === id);
    if (!active) {
      const row = await this.deps.store.get(id);
      if (!row) throw new AppError('not_found', `no recording ${id}`);
      if (row.status === 'recording') throw new AppError('conflict', `recording ${id} runs on node ${row.node_id}`);
      return row; // already stopped: stopping again changes nothing
    }
    return this.finish(active, reason);
  }

  /** Server shutdown: every recording is finalized (ffmpeg flushes its files). */
  async shutdown(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.active.values()].map((a) => this.finishLogged(a, 'server-shutdown')));
    if (this.diskTimer) clearInterval(this.diskTimer);
    this.diskTimer = null;
  }

  /**
   * Recordings left open by a run that is gone: a previous run of this node
   * (`server-restart`, at start) or another node that died (`node-failure`,
   * closed by the survivor that reaps it). Their files hold what ffmpeg wrote:
   * kept and listed, marked failed. Files on another node's disk cannot be
   * measured here (size 0 until that node is back). Returns how many closed.
   */
  async recoverAbandoned(nodeIdOrAll: string | null, reason: 'server-restart' | 'node-failure' = 'server-restart'): Promise<number> {
    const { store, config, events, log } = this.deps;
    const why = reason === 'node-failure' ? `node ${nodeIdOrAll} stopped while recording` : 'the server stopped while recording';
    let closed = 0;
    for (const row of await store.abandoned(nodeIdOrAll)) {
      const local = row.node_id === null || row.node_id === this.deps.nodeId || nodeIdOrAll === null;
      for (const f of await store.files(row.id)) {
        if (f.status !== 'recording' && f.status !== 'processing') continue;
        const size = local
          ? await stat(path.join(config.dir, row.id, f.key)).then(
              (st) => st.size,
              () => 0,
            )
          : 0;
        await store.finishFile(f.id, {
          status: 'failed',
          size,
          duration: null,
          probe: null,
          endedAt: new Date(),
          error: `${why}; partial file kept`,
        });
      }
      const files = await store.files(row.id);
      const finished = await store.finish(
        row.id,
        {
          status: 'failed',
          error: `${why}; partial files kept`,
          endedAt: new Date(),
          reason,
          size: files.reduce((n, f) => n + f.size_bytes, 0),
          duration: (Date.now() - row.started_at.getTime()) / 1000,
        },
        { onlyOpen: true },
      );
      if (!finished) continue; // closed meanwhile by someone else
      closed++;
      this.finishedTotal?.inc({ status: 'failed', reason });
      // The room may run here now (its participants rejoined through this node): they hear the end.
      const room = this.deps.rooms.getRoom(row.room);
      room?.broadcast({
        type: 'recording-finished',
        payload: {
          recording_id: row.id,
          status: 'failed',
          reason,
          error: finished.error,
          duration_seconds: Math.round((finished.duration_seconds ?? 0) * 10) / 10,
        },
      });
      await events
        .emit({ name: 'recording_finished', room: row.room, data: { call_id: row.call_id, recording: recordingJson(finished, files) } })
        .catch((err) => log.error({ err, recording: row.id }, 'could not record the recording_finished event'));
    }
    return closed;
  }

  /** Room events the recording side reacts to (the room's call ended). Never throws. */
  onRoomEvent(event: RoomEvent): void {
    if (event.name !== 'room_finished') return;
    const active = this.active.get(event.room);
    if (active) void this.finishLogged(active, 'room-ended');
  }

  // ---- internals -----------------------------------------------------------

  /** A MediaRoom appeared: feed it to the room's recording, or start one when the room records automatically. */
  private onMediaRoom(media: MediaRoom): void {
    const active = this.active.get(media.name);
    if (active) {
      active.recorder.attach(media);
      return;
    }
    const room = this.deps.rooms.getRoom(media.name);
    if (!room || !this.autoRecords(room.settings)) return;
    media.observer.once('produceradd', () => {
      const now = this.deps.rooms.getRoom(media.name);
      if (!now || this.active.has(media.name) || !this.autoRecords(now.settings)) return;
      this.start(media.name, { startedBy: 'auto' }).catch((err) => {
        if (!(err instanceof AppError && err.code === 'conflict'))
          this.deps.log.warn({ err, room: media.name }, 'automatic recording did not start');
      });
    });
  }

  /** Room metadata `auto_record` (true/false) wins; else the room type is in RECORDING_AUTO_ROOM_TYPES. */
  private autoRecords(settings: RoomSettings): boolean {
    if (!settings.recording_allowed) return false;
    const flag = settings.metadata['auto_record'];
    if (typeof flag === 'boolean') return flag;
    return this.deps.config.autoTypes.includes(settings.type);
  }

  private wire(active: Active): void {
    const { store, log } = this.deps;
    const id = active.row.id;
    active.recorder.on('filestart', (file) => {
      const room = this.deps.rooms.getRoom(active.room);
      const userId = file.participantId ? (room?.participants.get(file.participantId)?.identity.userId ?? null) : null;
      const fileId = randomUUID();
      const inserted = store
        .addFile({
          id: fileId,
          recording_id: id,
          kind: file.kind,
          participant_id: file.participantId,
          user_id: userId,
          seq: file.seq,
          key: file.key,
          content_type: file.contentType,
          tracks: file.tracks,
          started_at: file.startedAt,
        })
        .then(
          () => fileId,
          (err) => {
            log.error({ err, recording: id, file: file.key }, 'could not store a recording file row');
            return null;
          },
        );
      active.fileIds.set(file.key, inserted);
      log.info(
        { recording: id, file: file.key, participant: file.participantId, tracks: file.tracks.map((t) => t.codec) },
        'recording file started',
      );
    });
    active.recorder.on('fileend', (file, exit) => {
      const work = this.finalizeFile(active, file, exit);
      active.pending.add(work);
      void work.finally(() => active.pending.delete(work));
      if (exit.reason && !active.stopping) {
        active.failure ??= `${file.key}: ${exit.reason}`;
        void this.finishLogged(active, 'failed');
      }
    });
    active.recorder.on('error', (err) => {
      log.warn({ err, recording: id }, 'a recording segment could not start');
      active.failure ??= `a recording segment could not start: ${err.message}`;
      if (!active.stopping) void this.finishLogged(active, 'failed');
    });
  }

  /** Probes the file ffmpeg finished and hands it to storage; a crash's partial file is kept, marked failed. */
  private async finalizeFile(active: Active, file: RecordedFile, exit: FfmpegExit): Promise<void> {
    const { store, storage, config, log } = this.deps;
    const fileId = await active.fileIds.get(file.key);
    const endedAt = new Date();
    let probe: Awaited<ReturnType<typeof probeFile>> | null = null;
    try {
      probe = await probeFile(file.path, { ffprobePath: config.ffprobePath });
    } catch (err) {
      log.warn({ err, file: file.path }, 'ffprobe could not read a recording file');
    }
    let size = probe?.size ?? 0;
    let error = exit.reason;
    try {
      size = (await storage.store(active.row.id, file.path, file.key, file.contentType)).size;
    } catch (err) {
      error ??= (err as Error).message;
      active.failure ??= (err as Error).message;
      log.error({ err, recording: active.row.id, file: file.key }, 'recording storage error');
    }
    if (!probe && !error) error = 'ffprobe could not read the file (empty: no media arrived?)';
    this.filesTotal?.inc({ result: exit.reason ? 'crashed' : error ? 'storage_error' : 'ready' });
    log.info({ recording: active.row.id, file: file.key, bytes: size, seconds: probe?.duration ?? null, error }, 'recording file ended');
    if (fileId) {
      await store
        .finishFile(fileId, {
          status: error ? 'failed' : 'ready',
          size,
          duration: probe?.duration ?? null,
          probe: probe ? { format: probe.format, streams: probe.streams } : null,
          endedAt,
          error,
        })
        .catch((err) => log.error({ err, file: fileId }, 'could not store a recording file result'));
    }
  }

  /** Ends a recording nobody waits for (the server acts on its own): a failure is logged, not thrown. */
  private async finishLogged(active: Active, reason: EndReason): Promise<void> {
    await this.finish(active, reason).catch((err: unknown) =>
      this.deps.log.error({ err, recording: active.row.id, reason }, 'a recording could not be finished'),
    );
  }

  private finish(active: Active, reason: EndReason): Promise<RecordingRow> {
    active.stopping ??= (async () => {
      const { store, log } = this.deps;
      const endedAt = new Date();
      if (this.active.get(active.room) === active) this.active.delete(active.room);
      const room = this.deps.rooms.getRoom(active.room);
      if (room && room.recording?.recording_id === active.row.id) room.recording = null;
      await store
        .markProcessing(active.row.id, endedAt, reason)
        .catch((err) => log.error({ err }, 'could not mark a recording processing'));
      await active.recorder.stop();
      while (active.pending.size > 0) await Promise.all([...active.pending]);
      const files = await store.files(active.row.id).catch(() => []);
      const usable = files.filter((f) => f.status === 'ready');
      // Files that never got a result (their row came late): count them as failed.
      const failed =
        active.failure ?? (reason === 'disk-full' ? `the disk is nearly full (RECORDING_MIN_FREE_MB ${this.deps.config.minFreeMb})` : null);
      const status = failed ? 'failed' : usable.length === 0 && files.length > 0 ? 'failed' : 'ready';
      const error = failed ?? (status === 'failed' ? 'no file of this recording could be read' : null);
      const size = files.reduce((n, f) => n + f.size_bytes, 0);
      const duration = (endedAt.getTime() - active.row.started_at.getTime()) / 1000;
      const row = (await store.finish(active.row.id, { status, error, endedAt, reason, size, duration }).catch((err) => {
        log.error({ err, recording: active.row.id }, 'could not store the end of a recording');
        return null;
      })) ?? { ...active.row, status, error, ended_at: endedAt, end_reason: reason, size_bytes: size, duration_seconds: duration };
      room?.broadcast({
        type: 'recording-finished',
        payload: { recording_id: row.id, status, reason, error, duration_seconds: Math.round(duration * 10) / 10 },
      });
      await this.deps.events
        .emit({ name: 'recording_finished', room: active.room, data: { call_id: row.call_id, recording: recordingJson(row, files) } })
        .catch((err) => log.error({ err, recording: row.id }, 'could not record the recording_finished event'));
      log.info({ room: active.room, recording: row.id, status, reason, error, files: files.length, bytes: size }, 'recording finished');
      this.finishedTotal?.inc({ status, reason });
      if (this.active.size === 0 && this.diskTimer) {
        clearInterval(this.diskTimer);
        this.diskTimer = null;
      }
      return row;
    })();
    return active.stopping;
  }

  /**
   * Every 5 s while something records: free disk space, and rooms whose
   * settings stopped allowing recording (update-room / REST PATCH) stop theirs.
   */
  private armDiskCheck(): void {
    if (this.diskTimer) return;
    this.diskTimer = setInterval(() => {
      for (const a of this.active.values()) {
        const room = this.deps.rooms.getRoom(a.room);
        if (room && !room.settings.recording_allowed) {
          this.deps.log.info({ recording: a.row.id, room: a.room }, 'recording no longer allowed in the room: stopping it');
          void this.finishLogged(a, 'not-allowed');
        }
      }
      void freeMegabytes(this.deps.config.dir).then(
        (free) => {
          if (free >= this.deps.config.minFreeMb) return;
          for (const a of this.active.values()) {
            this.deps.log.error({ recording: a.row.id, free_mb: Math.floor(free) }, 'disk nearly full: stopping the recording');
            a.failure ??= `the disk is nearly full: ${Math.floor(free)} MB free in ${this.deps.config.dir} (RECORDING_MIN_FREE_MB ${this.deps.config.minFreeMb})`;
            void this.finishLogged(a, 'disk-full');
          }
        },
        () => {},
      );
    }, DISK_CHECK_MS);
    this.diskTimer.unref();
  }
}

function stateOf(row: RecordingRow): RecordingState {
  return { recording_id: row.id, mode: row.mode, started_at: row.started_at.toISOString(), started_by: row.started_by ?? 'api' };
}
