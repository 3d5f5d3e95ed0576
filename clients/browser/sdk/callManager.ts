// Calls in the SDK: ringing (call-invite, call-incoming, accept, decline,
// cancel), and where a call's media goes.
//
// A 1:1 call goes peer-to-peer (PeerLink over the hub's relay; the participant
// with the lower participant id makes the offer, so there is no glare). Each
// side moves the call to the SFU on its own, and for good, as soon as it sees
// any of these triggers (both sides see the same room events, so they agree):
//   - the peer-to-peer connection fails, stays disconnected for
//     p2pDisconnectedGraceMs, or does not connect within p2pConnectTimeoutMs;
//   - a third participant is in the room;
//   - the room is recorded or streamed live (recording-started, live-stream-updated);
//   - someone else in the room publishes on the SFU (the other side moved:
//     this is also how a one-sided trigger such as an ICE failure reaches both);
//   - the call is a group call (several invitees), or ClientOptions.p2p is false.
// Moving publishes the call's local tracks through the SFU (MediaSession) and
// subscribes to the others; the peer-to-peer link stays up until the SFU
// brings a replacement for each of its tracks (make before break), except
// when the link itself failed.

import type { CallDeclineReason, Identity, MediaKind, ServerPayloads, Track } from '../../../signaling/protocol/protocol.js';
import { Call, type AcceptOptions, type CallActions, type CallOptions, type DtmfOptions } from './call.js';
import type { MediaSession } from './mediaSession.js';
import { PeerLink } from './peerLink.js';
import type { RoomMirror } from './roomMirror.js';
import type { Signaling } from './signaling.js';
import { DEFAULT_AUDIO, DEFAULT_VIDEO } from './encodings.js';
import type { ClientOptions, EmitSdkEvent, RemoteTrack, ServerMessage } from './types.js';

/** What the manager needs from the client (internal). */
export interface CallHost {
  readonly signaling: Signaling;
  readonly roomMirror: RoomMirror;
  readonly media: MediaSession;
  readonly opts: ClientOptions;
  readonly emit: EmitSdkEvent;
  identity(): Identity | null;
  /** Enters the call's room as `join` would (room mirror, `room-joined`, loads the SFU device). */
  enterRoom(room: string, joined: ServerPayloads['joined']): void;
  /** Leaves the room (`leave`). */
  leave(): Promise<void>;
}

/** The auth ack, with the ICE servers (STUN/TURN) a server may add to it. */
type IdentityWithIce = Identity & { ice_servers?: RTCIceServer[] };

/** How long a peer-to-peer link whose tracks the SFU has not replaced yet is kept after the call moved. */
const MAKE_BEFORE_BREAK_MS = 8000;
/** How long an SFU track that replaces a peer-to-peer one may take to bring media before it is announced anyway. */
const REPLACE_WAIT_MS = 4000;
/** How long the link stays up once the SFU replaced all its tracks here: the other side may still be switching. */
const LINGER_MS = 2000;

const SOURCE_OF: Record<MediaKind, 'mic' | 'camera'> = { audio: 'mic', video: 'camera' };

export class CallManager implements CallActions {
  /** Incoming calls ringing on this device, by call id. */
  readonly ringing = new Map<string, Call>();
  /** The call this client is in (placed or answered), if any. */
  active: Call | null = null;
  /** Tracks received peer-to-peer, by their producerId (`p2p-<participant>-<kind>`). */
  readonly p2pTracks = new Map<string, RemoteTrack>();

  private link: PeerLink | null = null;
  /** SFU tracks waiting for their media before they replace peer-to-peer ones. */
  private readonly pendingSfu = new Set<RemoteTrack>();
  private linkCloseTimer: ReturnType<typeof setTimeout> | undefined;
  private recording = false;
  private live = false;

  constructor(private readonly host: CallHost) {}

  // ---- placing and answering ---------------------------------------------------

  async call(to: string[], opts: CallOptions): Promise<Call> {
    const { signaling, roomMirror } = this.host;
    if (roomMirror.name) throw new Error(`already in room ${roomMirror.name}: leave it first`);
    if (this.active) throw new Error('already in a call');
    const tracks = await capture(opts.audio ?? true, opts.video ?? opts.media === 'video');
    try {
      const ack = await signaling.request('call-invite', {
        to,
        media: opts.media,
        ...(opts.displayName ? { display_name: opts.displayName } : {}),
        ...(opts.metadata ? { metadata: opts.metadata } : {}),
      });
      if (!ack.participant_id || !ack.room_state) throw new Error('call-invite: the server did not put us in the call');
      const identity = this.host.identity();
      const call = new Call(
        {
          id: ack.call_id,
          room: ack.room,
          media: opts.media,
          direction: 'outgoing',
          from: { user_id: identity?.user_id ?? '', display_name: opts.displayName ?? identity?.name ?? '' },
          invited: ack.invited,
        },
        this,
      );
      call.localTracks = tracks;
      this.enter(call, { participant_id: ack.participant_id, room_state: ack.room_state });
      return call;
    } catch (err) {
      for (const t of tracks) t.stop();
      throw err;
    }
  }

  async accept(call: Call, opts: AcceptOptions): Promise<void> {
    if (call.direction !== 'incoming' || call.status !== 'ringing') throw new Error(`cannot accept a call that is ${call.status}`);
    if (this.host.roomMirror.name) throw new Error(`already in room ${this.host.roomMirror.name}: leave it first`);
    const tracks = await capture(opts.audio ?? true, opts.video ?? call.media === 'video');
    let joined: ServerPayloads['joined'];
    try {
      joined = await this.host.signaling.request('call-accept', {
        call_id: call.id,
        ...(opts.displayName ? { display_name: opts.displayName } : {}),
      });
    } catch (err) {
      for (const t of tracks) t.stop();
      throw err;
    }
    this.ringing.delete(call.id);
    call.localTracks = tracks;
    this.enter(call, joined);
    this.setStatus(call, 'active');
  }

  async decline(call: Call, reason?: CallDeclineReason): Promise<void> {
    if (call.direction !== 'incoming' || call.status !== 'ringing') return;
    await this.host.signaling.request('call-decline', { call_id: call.id, ...(reason ? { reason } : {}) });
    this.end(call, reason ?? 'declined');
  }

  async cancel(call: Call): Promise<void> {
    if (call.direction !== 'outgoing' || call.status !== 'ringing') return;
    // The server answers with call-ended {cancelled} to the room (we are out of it then).
    await this.host.signaling.request('call-cancel', { call_id: call.id });
    this.end(call, 'cancelled');
  }

  async hangup(call: Call): Promise<void> {
    if (call.status === 'ended') return;
    if (call.status === 'ringing' && call.direction === 'incoming') return this.decline(call);
    if (call.status === 'ringing') return this.cancel(call);
    this.end(call, 'hangup');
    if (this.host.roomMirror.name === call.room) await this.host.leave();
  }

  async invite(call: Call, userIds: string[]): Promise<string[]> {
    if (call !== this.active) throw new Error('not in this call');
    const ack = await this.host.signaling.request('call-invite', { to: userIds, media: call.media, call_id: call.id });
    for (const id of ack.invited) if (!call.invited.includes(id)) call.invited.push(id);
    return ack.invited;
  }

  // ---- hold, mute, DTMF -----------------------------------------------------------

  async setHold(call: Call, onHold: boolean): Promise<void> {
    if (call !== this.active) throw new Error('not in this call');
    call.onHold = onHold;
    this.applyMute('audio', this.host.roomMirror.muted.audio);
    this.applyMute('video', this.host.roomMirror.muted.video);
    await this.link?.setSending(!onHold);
    await this.host.signaling.request(onHold ? 'hold' : 'unhold', {});
  }

  /** The call's tracks follow mute and hold (a held call sends nothing). */
  applyMute(track: Track, muted: boolean): void {
    const call = this.active;
    if (!call) return;
    for (const t of call.localTracks) if (t.kind === track) t.enabled = !muted && !call.onHold;
  }

  async sendDtmf(call: Call, tones: string, opts: DtmfOptions): Promise<'rtp' | 'message'> {
    if (call !== this.active) throw new Error('not in this call');
    const dtmf = call.mediaMode === 'p2p' ? this.link?.senders.get('audio')?.dtmf : undefined;
    if (dtmf?.canInsertDTMF) {
      dtmf.insertDTMF(tones, opts.duration ?? 100, opts.gap ?? 70);
      return 'rtp';
    }
    await this.host.signaling.request('dtmf', {
      tones,
      ...(opts.duration !== undefined ? { duration: opts.duration } : {}),
      ...(opts.gap !== undefined ? { gap: opts.gap } : {}),
    });
    return 'message';
  }

  remoteOnHold(call: Call): boolean {
    if (call !== this.active) return false;
    const me = this.host.roomMirror.participantId;
    for (const p of this.host.roomMirror.participants.values()) if (p.participant_id !== me && p.on_hold) return true;
    return false;
  }

  peerConnection(call: Call): RTCPeerConnection | null {
    return call === this.active && this.link && !this.link.closed ? this.link.pc : null;
  }

  // ---- server events ------------------------------------------------------------------

  /** The room of a call this client knows (to tell whether a call-ended takes it out of its room). */
  roomOf(callId: string): string | null {
    return this.find(callId)?.room ?? null;
  }

  /** Follows one server event (after the room mirror and the media session). */
  apply(m: ServerMessage): void {
    switch (m.type) {
      case 'call-incoming': {
        if (this.find(m.payload.call_id)) return;
        const call = new Call(
          {
            id: m.payload.call_id,
            room: m.payload.room,
            media: m.payload.media,
            direction: 'incoming',
            from: m.payload.from,
            invited: m.payload.invited,
            busy: m.payload.busy,
            expiresAt: m.payload.expires_at,
          },
          this,
        );
        this.ringing.set(call.id, call);
        this.host.emit('incoming-call', call);
        return;
      }
      case 'call-accepted': {
        const call = this.find(m.payload.call_id);
        if (!call) return;
        if (call.status === 'ringing') this.setStatus(call, 'active');
        call.fire('call-accepted', m.payload);
        return;
      }
      case 'call-declined':
        this.find(m.payload.call_id)?.fire('call-declined', m.payload);
        return;
      case 'call-missed':
        this.find(m.payload.call_id)?.fire('call-missed', m.payload);
        return;
      case 'call-cancelled':
      case 'call-answered-elsewhere': {
        const call = this.find(m.payload.call_id);
        if (!call) return;
        call.fire(m.type, m.payload);
        this.end(call, m.type === 'call-cancelled' ? 'cancelled' : 'answered-elsewhere');
        return;
      }
      case 'call-ended': {
        const call = this.find(m.payload.call_id);
        if (call) this.end(call, m.payload.reason);
        return;
      }
      case 'call-state-changed':
        if (this.active && m.payload.state === 'active' && this.active.status === 'ringing') this.setStatus(this.active, 'active');
        return;
      case 'offer':
      case 'answer':
      case 'ice-candidate':
        if (this.link && this.link.remoteId === m.payload.from) this.link.handle(m);
        return;
      case 'hold':
      case 'unhold':
        this.active?.fire('hold', { participantId: m.payload.from, onHold: m.type === 'hold' });
        return;
      case 'dtmf':
        this.active?.fire('dtmf', m.payload);
        return;
      case 'recording-started':
        this.recording = true;
        this.evaluate();
        return;
      case 'recording-finished':
        this.recording = false;
        return;
      case 'live-stream-updated':
        this.live = m.payload.stream.status === 'preparing' || m.payload.stream.status === 'live';
        this.evaluate();
        return;
      case 'peer-joined':
      case 'peer-left':
      case 'producer-added':
        this.evaluate();
        return;
      default:
        return;
    }
  }

  /**
   * The media session is about to announce an SFU track. When it replaces a
   * peer-to-peer track (same participant and kind), the manager announces it
   * itself once its media flows (first decoded frame or audio packet, at most
   * REPLACE_WAIT_MS), right after announcing the peer-to-peer one removed: an
   * app keyed by participant and source swaps one for the other with no gap.
   * Returns true when it took the announcement over.
   */
  replaceWhenFlowing(remote: RemoteTrack, announce: () => void): boolean {
    const old = this.p2pTrackFor(remote);
    if (!old) return false;
    this.pendingSfu.add(remote);
    void (async () => {
      const deadline = Date.now() + REPLACE_WAIT_MS;
      while (Date.now() < deadline && this.pendingSfu.has(remote) && !(await flowing(remote))) await sleep(100);
      if (!this.pendingSfu.delete(remote)) return; // removed meanwhile
      const current = this.p2pTrackFor(remote);
      if (current) {
        this.p2pTracks.delete(current.producerId);
        this.host.emit('track-removed', current);
      }
      announce();
      // Nothing comes peer-to-peer any more: close the link soon (the other side may still be switching over).
      if (this.p2pTracks.size === 0 && this.active?.mediaMode === 'sfu' && this.link) {
        clearTimeout(this.linkCloseTimer);
        this.linkCloseTimer = setTimeout(() => this.closeLink(), LINGER_MS);
      }
    })();
    return true;
  }

  /** The media session removes an SFU track: true when it was never announced (so nor is its removal). */
  dropPending(remote: RemoteTrack): boolean {
    return this.pendingSfu.delete(remote);
  }

  private p2pTrackFor(remote: RemoteTrack): RemoteTrack | undefined {
    for (const t of this.p2pTracks.values()) if (t.participantId === remote.participantId && t.kind === remote.kind) return t;
    return undefined;
  }

  /** Out of the room (left, kicked, the call or connection ended): the call is over here. */
  roomGone(reason: string): void {
    if (this.active) this.end(this.active, reason);
  }

  // ---- media: peer-to-peer or SFU ------------------------------------------------------

  private enter(call: Call, joined: ServerPayloads['joined']): void {
    this.active = call;
    this.recording = Boolean(joined.room_state.recording);
    const status = joined.room_state.live?.status;
    this.live = status === 'preparing' || status === 'live';
    this.host.enterRoom(call.room, joined);
    this.evaluate();
  }

  /** Decides where the active call's media goes now (see the top of this file). */
  private evaluate(): void {
    const call = this.active;
    const me = this.host.roomMirror.participantId;
    if (!call || call.status === 'ended' || call.mediaMode === 'sfu' || !me) return;
    const others = [...this.host.roomMirror.participants.keys()].filter((id) => id !== me);
    const reason =
      this.host.opts.p2p === false
        ? 'p2p-off'
        : call.group
          ? 'group-call'
          : others.length > 1
            ? 'third-participant'
            : this.recording
              ? 'recording'
              : this.live
                ? 'live-stream'
                : this.host.roomMirror.producers.size > 0 || this.host.media.localTracks.size > 0
                  ? 'sfu-publisher'
                  : null;
    if (reason) return this.toSfu(call, reason);
    const peer = others[0];
    if (!peer) return this.closeLink(); // alone (still ringing, or the other left)
    if (this.link?.remoteId === peer) return;
    this.closeLink();
    this.openLink(call, peer, me < peer);
  }

  private openLink(call: Call, peer: string, offerer: boolean): void {
    const { opts } = this.host;
    const identity: IdentityWithIce | null = this.host.identity();
    const iceServers = identity?.ice_servers ?? opts.iceServers ?? [];
    const link = new PeerLink(this.host.signaling, peer, offerer, call.localTracks, {
      iceServers,
      disconnectedGraceMs: opts.p2pDisconnectedGraceMs ?? 3000,
      connectTimeoutMs: opts.p2pConnectTimeoutMs ?? 10_000,
      stallMs: opts.p2pStallMs ?? 1500,
      remoteHeld: () => this.remoteOnHold(call),
    });
    this.link = link;
    link.on('track', ({ kind, track, receiver }) => {
      const id = `p2p-${peer}-${kind}`;
      const old = this.p2pTracks.get(id);
      if (old) this.host.emit('track-removed', old);
      const remote: RemoteTrack = {
        producerId: id,
        consumerId: id,
        participantId: peer,
        kind,
        source: SOURCE_OF[kind],
        track,
        via: 'p2p',
        consumer: null,
        receiver,
        paused: false,
        subscriptionPaused: false,
        layered: false,
        spatialLayer: null,
        temporalLayer: null,
      };
      this.p2pTracks.set(id, remote);
      this.host.emit('track-added', remote);
    });
    link.on('connected', () => {
      if (this.link !== link || call.mediaMode !== 'none') return;
      call.mediaMode = 'p2p';
      call.fire('media-mode', { mode: 'p2p', reason: 'connected' });
      this.host.emit('call-media', { call, mode: 'p2p', reason: 'connected' });
    });
    link.on('failed', ({ reason }) => {
      if (this.link === link) this.toSfu(call, reason);
    });
  }

  /** Moves the call's media to the SFU, for good. */
  private toSfu(call: Call, reason: string): void {
    if (call.mediaMode === 'sfu' || call.status === 'ended') return;
    call.mediaMode = 'sfu';
    const { media } = this.host;
    for (const track of call.localTracks) {
      const source = SOURCE_OF[track.kind as MediaKind];
      if (track.readyState === 'ended' || media.localTracks.has(source)) continue;
      media.publishTrack(track, source).catch((error: Error) => this.host.emit('media-error', { action: `publish ${source}`, error }));
    }
    media.subscribeAll();
    call.fire('media-mode', { mode: 'sfu', reason });
    this.host.emit('call-media', { call, mode: 'sfu', reason });
    if (!this.link) return;
    // A failed link carries nothing: drop it now. A working one stays until the SFU replaces its tracks.
    if (reason.startsWith('p2p-') || this.p2pTracks.size === 0) this.closeLink();
    else this.linkCloseTimer = setTimeout(() => this.closeLink(), MAKE_BEFORE_BREAK_MS);
  }

  private closeLink(): void {
    clearTimeout(this.linkCloseTimer);
    const link = this.link;
    if (!link) return;
    this.link = null;
    link.close();
    for (const remote of [...this.p2pTracks.values()]) {
      this.p2pTracks.delete(remote.producerId);
      this.host.emit('track-removed', remote);
    }
  }

  // ---- bookkeeping ----------------------------------------------------------------------

  private find(callId: string): Call | undefined {
    return this.active?.id === callId ? this.active : this.ringing.get(callId);
  }

  private setStatus(call: Call, status: 'active' | 'ended'): void {
    if (call.status === status) return;
    call.status = status;
    call.fire('status', { status });
  }

  /** The call is over for this client: media stops, the app hears `call-ended`. */
  private end(call: Call, reason: string): void {
    if (call.status === 'ended') return;
    this.ringing.delete(call.id);
    call.endReason = reason;
    if (this.active === call) {
      this.active = null;
      this.pendingSfu.clear();
      this.closeLink();
      for (const t of call.localTracks) t.stop();
    }
    this.setStatus(call, 'ended');
    call.fire('call-ended', { call_id: call.id, reason });
  }
}

/** The microphone and/or camera for a call. */
async function capture(audio: boolean | MediaTrackConstraints, video: boolean | MediaTrackConstraints): Promise<MediaStreamTrack[]> {
  if (!audio && !video) return [];
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: audio ? (audio === true ? DEFAULT_AUDIO : audio) : false,
    video: video ? (video === true ? DEFAULT_VIDEO : video) : false,
  });
  return stream.getTracks();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Media arrives on a received track: a decoded video frame, or audio packets. */
async function flowing(remote: RemoteTrack): Promise<boolean> {
  const receiver = remote.receiver;
  if (!receiver || remote.track.readyState === 'ended') return true; // nothing to wait for
  try {
    let ok = false;
    (await receiver.getStats()).forEach((s: { type: string; framesDecoded?: number; packetsReceived?: number }) => {
      if (s.type !== 'inbound-rtp') return;
      if (remote.kind === 'video' ? (s.framesDecoded ?? 0) > 0 : (s.packetsReceived ?? 0) > 0) ok = true;
    });
    return ok;
  } catch {
    return true;
  }
}
