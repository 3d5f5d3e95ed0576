// SwitchboardClient: a thin layer over the Switchboard protocol and
// mediasoup-client for browsers. It mirrors clients/node/mediaBot.ts (the
// same requests in the same order) and adds what a real app needs: camera,
// mic and screen from the browser, simulcast, mute, auto-subscribe, and
// recovery (ICE restart, rebuilding media after `sfu-reset`, reconnecting the
// WebSocket and joining again).
//
// This class is the facade apps use. It owns joining, leaving and rejoining,
// and composes the parts that do the rest:
//   RoomMirror           (roomMirror.ts)   the room's state kept from server events
//   MediaSession         (mediaSession.ts) producers, consumers, media resets
//   Transports           (transports.ts)   Device, send/recv transports, ICE restarts
//   Signaling            (signaling.ts)    the WebSocket, requests and reconnects
//   RoomControlRequests  (roomControl.ts)  hands, roles, moderation... (its base class)
//   CallManager          (callManager.ts)  calls: ringing, peer-to-peer media, moving to the SFU

import type { Device } from 'mediasoup-client/types';
import type {
  ClientPayloads,
  ClientType,
  Identity,
  LiveReaction,
  ParticipantInfo,
  ProducerInfo,
  ServerPayloads,
  ServerType,
  Source,
  Track,
} from '../../../signaling/protocol/protocol.js';
import type { Call, CallOptions } from './call.js';
import { CallManager } from './callManager.js';
import { captureMedia, type CapturedTrack } from './capture.js';
import { MediaSession } from './mediaSession.js';
import { RoomControlRequests } from './roomControl.js';
import { RoomMirror } from './roomMirror.js';
import { Signaling, SignalingError, type ConnectionState, type Reply, type TokenSource } from './signaling.js';
import type { ClientOptions, EmitSdkEvent, JoinOptions, LocalTrack, PublishOptions, RemoteTrack, ServerMessage } from './types.js';

export class SwitchboardClient extends RoomControlRequests {
  readonly signaling: Signaling;
  identity: Identity | null = null;

  private readonly roomMirror: RoomMirror;
  private readonly media: MediaSession;
  private readonly calls: CallManager;
  private joinOptions: JoinOptions = {};
  /** The room a join() is waiting for (in its lobby, or the reply is on its way). */
  private joining: string | null = null;

  constructor(opts: ClientOptions = {}) {
    super();
    this.signaling = new Signaling({
      ...(opts.reconnect ? { reconnect: opts.reconnect } : {}),
      ...(opts.requestTimeoutMs !== undefined ? { requestTimeoutMs: opts.requestTimeoutMs } : {}),
      ...(opts.heartbeatMs !== undefined ? { heartbeatMs: opts.heartbeatMs } : {}),
    });
    const emit: EmitSdkEvent = (type, payload) => this.emit(type, payload);
    this.roomMirror = new RoomMirror(emit);
    // An SFU track that replaces a call's peer-to-peer one is announced by the call manager once its media flows.
    const mediaEmit: EmitSdkEvent = (type, payload) => {
      if (type === 'track-added' && this.calls.replaceWhenFlowing(payload as RemoteTrack, () => this.emit(type, payload))) return;
      if (type === 'track-removed' && this.calls.dropPending(payload as RemoteTrack)) return;
      this.emit(type, payload);
    };
    this.media = new MediaSession(this.signaling, this.roomMirror, opts, mediaEmit);
    this.calls = new CallManager({
      signaling: this.signaling,
      roomMirror: this.roomMirror,
      media: this.media,
      opts,
      emit,
      identity: () => this.identity,
      enterRoom: (room, joined) => this.enterCallRoom(room, joined),
      leave: () => this.leave(),
    });
    this.signaling.on('message', (m) => this.onServerMessage(m.type, m.payload));
    this.signaling.on('state', (change) => {
      this.emit('connection-state', change);
      // Closed for good (bad token, replaced by another tab, gave up): the room is gone too.
      if (change.state === 'closed' && this.room) {
        this.forgetRoom();
        this.emit('room-left', {
          reason: `connection closed${change.code ? ` (${change.code})` : ''}${change.reason ? `: ${change.reason}` : ''}`,
        });
      }
    });
    this.signaling.on('reconnected', ({ identity }) => void this.onReconnected(identity));
  }

  // ---- state an app reads ---------------------------------------------------

  get connectionState(): ConnectionState {
    return this.signaling.state;
  }

  /** The room joined (null: in none). */
  get room(): string | null {
    return this.roomMirror.name;
  }

  get participantId(): string | null {
    return this.roomMirror.participantId;
  }

  /** Everyone in the room, this client included. */
  get participants(): Map<string, ParticipantInfo> {
    return this.roomMirror.participants;
  }

  /** Other participants' producers: what can be subscribed. */
  get producers(): Map<string, ProducerInfo> {
    return this.roomMirror.producers;
  }

  get muted(): Record<Track, boolean> {
    return this.roomMirror.muted;
  }

  /** This client hears nobody (see setDeafened). */
  get deafened(): boolean {
    return this.roomMirror.deafened;
  }

  /** What this client publishes, by source. */
  get localTracks(): Map<Source, LocalTrack> {
    return this.media.localTracks;
  }

  /** What this client receives, by producer id (a call's peer-to-peer tracks included: `p2p-<participant>-<kind>`). */
  get remoteTracks(): Map<string, RemoteTrack> {
    if (this.calls.p2pTracks.size === 0) return this.media.remoteTracks;
    return new Map<string, RemoteTrack>([...this.calls.p2pTracks, ...this.media.remoteTracks]);
  }

  /** The call this client is in (placed or answered), or null. */
  get activeCall(): Call | null {
    return this.calls.active;
  }

  /** Calls ringing on this device now. */
  get incomingCalls(): Call[] {
    return [...this.calls.ringing.values()];
  }

  get device(): Device | null {
    return this.media.device;
  }

  // ---- connection and room --------------------------------------------------

  /**
   * Connects and authenticates. `token` may be a function returning a fresh token (used on reconnects).
   * `opts.room`: the room about to be joined, when known (sent as `?room=`: a node of several
   * processes then hands the connection to that room's process; optional).
   */
  async connect(url: string, token: TokenSource, opts: { room?: string } = {}): Promise<Identity> {
    this.identity = await this.signaling.connect(url, token, opts);
    return this.identity;
  }

  /** Any protocol request, typed (for what the SDK has no method for: get-stats, hold, dtmf...). */
  request<K extends ClientType>(type: K, payload: ClientPayloads[K], timeoutMs?: number): Promise<Reply<K>> {
    return this.signaling.request(type, payload, timeoutMs);
  }

  /** Joins a room; with autoSubscribe, starts receiving what is already published. */
  async join(room: string, opts: JoinOptions = {}): Promise<ServerPayloads['joined']> {
    if (this.room) throw new Error(`already in room ${this.room}`);
    // A room with a lobby answers `join` only once a moderator admits us (`lobby-waiting` meanwhile; leave() gives up).
    this.joining = room;
    let joined: ServerPayloads['joined'];
    try {
      joined = await this.signaling.request('join', joinPayload(room, opts), opts.lobbyTimeoutMs ?? 600_000);
    } finally {
      this.joining = null;
    }
    this.roomMirror.name = room;
    this.joinOptions = opts;
    this.roomMirror.applyJoined(joined);
    await this.sendMuteState();
    this.emit('room-joined', { participantId: joined.participant_id, roomState: joined.room_state, rejoined: false });
    await this.media.loadDevice().catch((error: Error) => this.emit('media-error', { action: 'load-device', error }));
    this.media.subscribeAll();
    return joined;
  }

  // ---- calls ------------------------------------------------------------------

  /**
   * Rings one user (a direct call: peer-to-peer media) or several (a group call: SFU).
   * Captures the microphone (and camera for `media: 'video'`), sends `call-invite` and
   * resolves with the call once it rings; this client is then in the call's room.
   */
  call(userIds: string | string[], opts: CallOptions): Promise<Call> {
    return this.calls.call(typeof userIds === 'string' ? [userIds] : userIds, opts);
  }

  /** Enters a call's room (after call-invite or call-accept) the way join() does. */
  private enterCallRoom(room: string, joined: ServerPayloads['joined']): void {
    this.roomMirror.name = room;
    this.joinOptions = {};
    this.roomMirror.applyJoined(joined);
    this.emit('room-joined', { participantId: joined.participant_id, roomState: joined.room_state, rejoined: false });
    // Ready for a move to the SFU (the device's capabilities come from the server).
    this.media.loadDevice().catch((error: Error) => this.emit('media-error', { action: 'load-device', error }));
  }

  /**
   * Leaves the room: unpublishes (local tracks stop), drops every transport.
   * While join() waits in a room's lobby, gives up waiting (join() then rejects with `not_in_room`).
   */
  async leave(): Promise<void> {
    if (!this.room) {
      if (this.joining !== null && this.signaling.state === 'connected') await this.signaling.request('leave', {}).catch(() => {});
      return;
    }
    this.forgetRoom();
    // Leaving anyway: a refused or lost leave ends on the server when the socket closes.
    if (this.signaling.state === 'connected') await this.signaling.request('leave', {}).catch(() => {});
    this.emit('room-left', { reason: 'left' });
  }

  /** Leaves and closes the connection for good. */
  async disconnect(): Promise<void> {
    await this.leave();
    this.signaling.close();
  }

  /** Local cleanup when out of the room (left, kicked, or the call ended). */
  private forgetRoom(reason = 'left'): void {
    this.roomMirror.name = null;
    this.calls.roomGone(reason);
    this.media.close();
    this.roomMirror.clear();
  }

  /** Mute and deafen state live with the participant on the server: say them after every join, before publishing. */
  private async sendMuteState(): Promise<void> {
    for (const track of ['audio', 'video'] as const) {
      if (!this.muted[track]) continue;
      await this.signaling.request('mute', { track });
      this.roomMirror.markSelfMuted(track, true);
    }
    if (this.deafened) {
      await this.signaling.request('deafen', {});
      this.roomMirror.markSelfDeafened(true);
    }
  }

  /** The WebSocket came back: the server dropped us from the room, so join again and rebuild media. */
  private async onReconnected(identity: Identity): Promise<void> {
    this.identity = identity;
    const room = this.room;
    if (!room) return;
    if (this.calls.active) {
      // The server saw us leave the call's room (a direct call ends then): the call is over here too.
      this.forgetRoom('disconnected');
      this.emit('room-left', { reason: 'disconnected' });
      return;
    }
    this.media.drop();
    try {
      const joined = await this.rejoin(room);
      if (this.room !== room) return; // left meanwhile
      this.roomMirror.applyJoined(joined);
      await this.sendMuteState();
      this.emit('room-joined', { participantId: joined.participant_id, roomState: joined.room_state, rejoined: true });
      this.media.rebuild('reconnected');
    } catch (error) {
      if (this.room !== room) return;
      if (this.signaling.state !== 'connected') return; // lost again: the next reconnect tries again
      this.roomMirror.name = null;
      this.emit('media-error', { action: 'rejoin', error: error as Error });
      this.emit('room-left', { reason: 'rejoin-failed' });
    }
  }

  /**
   * Cluster: right after a node died or drained, its rooms are being
   * placed again for a few seconds and a join may answer `unavailable`: try
   * again (0.5 s to 4 s apart, about 15 s in all) while the connection holds.
   */
  private async rejoin(room: string): Promise<ServerPayloads['joined']> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.signaling.request('join', joinPayload(room, this.joinOptions));
      } catch (err) {
        const again = err instanceof SignalingError && err.code === 'unavailable' && attempt < 6;
        if (!again || this.room !== room || this.signaling.state !== 'connected') throw err;
        await new Promise((resolve) => setTimeout(resolve, Math.min(4000, 500 * 2 ** attempt)));
      }
    }
  }

  /** Each server event updates the room mirror, then the media session, then reaches the app unchanged. */
  private onServerMessage<K extends ServerType>(type: K, payload: ServerPayloads[K]): void {
    const m = { type, payload } as ServerMessage;
    const endedCallRoom = m.type === 'call-ended' ? this.calls.roomOf(m.payload.call_id) : null;
    this.roomMirror.apply(m);
    this.media.apply(m);
    this.calls.apply(m);
    // An ended call, or a moderator's kick, removes this client from the room (the connection stays).
    if (m.type === 'call-state-changed' && m.payload.state === 'ended' && this.room) {
      const reason = m.payload.reason ?? 'call-ended';
      this.forgetRoom(reason);
      this.emit('room-left', { reason });
    } else if (m.type === 'call-ended' && this.room && this.room === endedCallRoom) {
      this.forgetRoom(m.payload.reason);
      this.emit('room-left', { reason: m.payload.reason });
    } else if (m.type === 'kicked' && this.room) {
      this.forgetRoom(`kicked: ${m.payload.reason}`);
      this.emit('room-left', { reason: `kicked: ${m.payload.reason}` });
    }
    if (m.type !== 'ack' && m.type !== 'joined') this.emit(m.type, m.payload);
  }

  // ---- publishing -----------------------------------------------------------

  /**
   * Captures and publishes: camera and mic by default, or what `opts` asks
   * for. Resolves with what was published; on failure, tracks captured and
   * not published are stopped.
   */
  async publish(opts: PublishOptions = { audio: true, video: true }): Promise<LocalTrack[]> {
    const captured: CapturedTrack[] = [];
    const published: LocalTrack[] = [];
    try {
      await captureMedia(opts, captured);
      for (const { track, source } of captured) {
        published.push(await this.publishTrack(track, source, opts.simulcast !== undefined ? { simulcast: opts.simulcast } : {}));
      }
      return published;
    } catch (err) {
      for (const { track } of captured) if (!published.some((p) => p.track === track)) track.stop();
      throw err;
    }
  }

  /** Publishes a track the app made itself (a canvas, a processed camera...). */
  publishTrack(track: MediaStreamTrack, source: Source, opts: { simulcast?: boolean } = {}): Promise<LocalTrack> {
    return this.media.publishTrack(track, source, opts);
  }

  /** Stops publishing a source and stops its track. */
  unpublish(source: Source): Promise<void> {
    return this.media.unpublish(source);
  }

  /** Mutes the mic (audio) or camera (video): the server pauses the producer, the track is disabled. */
  async mute(track: Track): Promise<void> {
    await this.setMuted(track, true);
  }

  async unmute(track: Track): Promise<void> {
    await this.setMuted(track, false);
  }

  private async setMuted(track: Track, muted: boolean): Promise<void> {
    this.muted[track] = muted;
    this.media.applyMute(track, muted);
    this.calls.applyMute(track, muted); // a held call's tracks stay off
    const self = this.roomMirror.markSelfMuted(track, muted);
    if (self) this.emit('participant-updated', self);
    // While reconnecting, the rejoin tells the server (see onReconnected).
    if (this.room && this.signaling.state === 'connected') await this.signaling.request(muted ? 'mute' : 'unmute', { track });
  }

  /**
   * Deafen: stop hearing the room. The SDK only records it and tells the
   * server (`deafen`/`undeafen`; the others see `participant-updated` with
   * `deafened`); the app stops playing remote audio (for instance sets
   * `muted` on its <audio> elements). Not a mute: what this client publishes
   * still plays for the others. Kept across reconnects, like mute.
   */
  async setDeafened(deafened: boolean): Promise<void> {
    this.roomMirror.deafened = deafened;
    const self = this.roomMirror.markSelfDeafened(deafened);
    if (self) this.emit('participant-updated', self);
    if (this.room && this.signaling.state === 'connected') await this.signaling.request(deafened ? 'deafen' : 'undeafen', {});
  }

  /** A reaction (heart, like, fire, clap, laugh, wow, sad, angry) to everyone in the room, this client included (`reaction`). */
  async react(reaction: LiveReaction): Promise<void> {
    await this.signaling.request('react', { reaction });
  }

  // ---- subscribing ----------------------------------------------------------

  /** Receives another participant's producer; resolves with its track (also announced as `track-added`). */
  subscribe(producerId: string): Promise<MediaStreamTrack> {
    return this.media.subscribe(producerId);
  }

  /**
   * Pauses (or resumes) receiving a producer without dropping the consumer. The
   * choice is kept per producer: a producer paused before it is consumed (for
   * instance right on `producer-added`) is consumed paused and never sends a
   * frame, and it stays paused after a media reset or a rejoin.
   */
  setSubscriptionPaused(producerId: string, paused: boolean): Promise<void> {
    return this.media.setSubscriptionPaused(producerId, paused);
  }

  /**
   * Simulcast: the layer this client prefers for a producer (0 = lowest); the SFU still adapts to bandwidth.
   * Kept per producer like setSubscriptionPaused: asked before the consume, it is applied once consumed.
   */
  setPreferredLayers(producerId: string, spatialLayer: number, temporalLayer?: number): Promise<void> {
    return this.media.setPreferredLayers(producerId, spatialLayer, temporalLayer);
  }
}

function joinPayload(room: string, opts: JoinOptions) {
  return {
    room,
    ...(opts.displayName ? { display_name: opts.displayName } : {}),
    ...(opts.capabilities ? { capabilities: opts.capabilities } : {}),
  };
}
