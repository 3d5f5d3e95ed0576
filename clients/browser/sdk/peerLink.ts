// A peer-to-peer media connection to one other participant of a 1:1 call:
// an RTCPeerConnection whose offer, answer and ICE candidates travel through
// the hub's relay (`offer` / `answer` / `ice-candidate` with `to`). One side
// makes the offer (the caller of `new PeerLink` decides which: see
// callManager.ts); the link reports its tracks and gives up (`failed`) when
// ICE fails, stays disconnected too long, or never connects.

import type { ClientPayloads, MediaKind, ServerPayloads } from '../../../signaling/protocol/protocol.js';
import { Emitter } from './emitter.js';
import type { Signaling } from './signaling.js';

/** How often received bytes are read to tell a dead path (audio arrives every 20 ms). */
const STALL_POLL_MS = 250;

export interface PeerLinkEvents {
  track: { kind: MediaKind; track: MediaStreamTrack; receiver: RTCRtpReceiver };
  connected: Record<string, never>;
  /** The link is of no use any more (ICE failed, disconnected too long, never connected). */
  failed: { reason: string };
}

export interface PeerLinkOptions {
  iceServers: RTCIceServer[];
  /** How long `disconnected` may last before the link counts as failed. */
  disconnectedGraceMs: number;
  /** How long the first connection may take. */
  connectTimeoutMs: number;
  /**
   * How long received media may stop before the link counts as failed (ICE
   * itself notices a dead path only after 5-6 s); 0 = off.
   */
  stallMs: number;
  /** The remote is on hold (sends nothing on purpose): no stall then. */
  remoteHeld: () => boolean;
}

export type RelayMessage =
  | { type: 'offer'; payload: ServerPayloads['offer'] }
  | { type: 'answer'; payload: ServerPayloads['answer'] }
  | { type: 'ice-candidate'; payload: ServerPayloads['ice-candidate'] };

export class PeerLink extends Emitter<PeerLinkEvents> {
  readonly pc: RTCPeerConnection;
  /** Our senders, by kind (for hold and DTMF). */
  readonly senders = new Map<MediaKind, RTCRtpSender>();
  closed = false;
  private readonly stream = new MediaStream();
  /** Signaling work runs one step at a time, in the order it arrived. */
  private queue: Promise<void> = Promise.resolve();
  /** Candidates that came before the remote description. */
  private pendingCandidates: RTCIceCandidateInit[] = [];
  private disconnectedTimer: ReturnType<typeof setTimeout> | undefined;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private stallTimer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly signaling: Signaling,
    readonly remoteId: string,
    readonly offerer: boolean,
    private readonly tracks: MediaStreamTrack[],
    opts: PeerLinkOptions,
  ) {
    super();
    this.pc = new RTCPeerConnection({ iceServers: opts.iceServers, bundlePolicy: 'max-bundle' });
    this.pc.addEventListener('icecandidate', (e) => {
      if (this.closed) return;
      const c = e.candidate;
      this.relay('ice-candidate', {
        to: this.remoteId,
        candidate: c ? c.candidate : '',
        sdpMid: c?.sdpMid ?? null,
        sdpMLineIndex: c?.sdpMLineIndex ?? null,
      });
    });
    this.pc.addEventListener('track', (e) => {
      if (!this.closed) this.emit('track', { kind: e.track.kind as MediaKind, track: e.track, receiver: e.receiver });
    });
    this.pc.addEventListener('connectionstatechange', () => this.onConnectionState(opts.disconnectedGraceMs));
    this.connectTimer = setTimeout(() => this.fail('p2p-connect-timeout'), opts.connectTimeoutMs);
    if (opts.stallMs > 0) this.watchStall(opts);
    if (offerer) {
      this.addTracks();
      this.enqueue(async () => {
        await this.pc.setLocalDescription(await this.pc.createOffer());
        this.relay('offer', { to: this.remoteId, sdp: this.pc.localDescription?.sdp ?? '' });
      });
    }
  }

  /** An `offer`, `answer` or `ice-candidate` from the remote participant. */
  handle(m: RelayMessage): void {
    if (this.closed) return;
    switch (m.type) {
      case 'offer':
        if (this.offerer) return; // the rule says who offers: a stray offer is ignored
        this.enqueue(async () => {
          await this.pc.setRemoteDescription({ type: 'offer', sdp: m.payload.sdp });
          await this.flushCandidates();
          if (this.senders.size === 0) this.addTracks(); // reuses the transceivers the offer made
          await this.pc.setLocalDescription(await this.pc.createAnswer());
          this.relay('answer', { to: this.remoteId, sdp: this.pc.localDescription?.sdp ?? '' });
        });
        break;
      case 'answer':
        if (!this.offerer) return;
        this.enqueue(async () => {
          await this.pc.setRemoteDescription({ type: 'answer', sdp: m.payload.sdp });
          await this.flushCandidates();
        });
        break;
      case 'ice-candidate': {
        if (m.payload.candidate === '') return; // end of candidates
        const init: RTCIceCandidateInit = {
          candidate: m.payload.candidate,
          sdpMid: m.payload.sdpMid ?? null,
          sdpMLineIndex: m.payload.sdpMLineIndex ?? null,
        };
        this.enqueue(async () => {
          if (this.pc.remoteDescription) await this.pc.addIceCandidate(init);
          else this.pendingCandidates.push(init);
        });
        break;
      }
    }
  }

  /** Hold: stop (null) or start again sending our tracks. */
  async setSending(sending: boolean): Promise<void> {
    for (const [kind, sender] of this.senders) {
      const track = this.tracks.find((t) => t.kind === kind) ?? null;
      await sender.replaceTrack(sending ? track : null).catch(() => {});
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.disconnectedTimer);
    clearTimeout(this.connectTimer);
    clearInterval(this.stallTimer);
    this.pc.close();
  }

  private addTracks(): void {
    for (const track of this.tracks) this.senders.set(track.kind as MediaKind, this.pc.addTrack(track, this.stream));
  }

  private async flushCandidates(): Promise<void> {
    const pending = this.pendingCandidates;
    this.pendingCandidates = [];
    for (const c of pending) await this.pc.addIceCandidate(c).catch(() => {});
  }

  private onConnectionState(graceMs: number): void {
    if (this.closed) return;
    const state = this.pc.connectionState;
    if (state === 'connected') {
      clearTimeout(this.connectTimer);
      clearTimeout(this.disconnectedTimer);
      this.disconnectedTimer = undefined;
      this.emit('connected', {});
    } else if (state === 'failed') {
      this.fail('p2p-ice-failed');
    } else if (state === 'disconnected' && this.disconnectedTimer === undefined) {
      this.disconnectedTimer = setTimeout(() => this.fail('p2p-ice-disconnected'), graceMs);
    }
  }

  /** Polls the bytes received: none for stallMs (while the remote is not on hold) = a dead path. */
  private watchStall(opts: PeerLinkOptions): void {
    let last = -1;
    let since = Date.now();
    this.stallTimer = setInterval(() => {
      void this.pc.getStats().then(
        (report) => {
          let bytes = 0;
          report.forEach((s: { type: string; bytesReceived?: number }) => {
            if (s.type === 'inbound-rtp') bytes += s.bytesReceived ?? 0;
          });
          const now = Date.now();
          if (bytes !== last || bytes === 0 || opts.remoteHeld()) {
            last = bytes;
            since = now;
          } else if (now - since >= opts.stallMs) {
            this.fail('p2p-media-stalled');
          }
        },
        () => {},
      );
    }, STALL_POLL_MS);
  }

  private fail(reason: string): void {
    if (this.closed) return;
    this.emit('failed', { reason });
  }

  private enqueue(work: () => Promise<void>): void {
    this.queue = this.queue.then(work).catch(() => {
      if (!this.closed) this.fail('p2p-negotiation-failed');
    });
  }

  private relay<K extends 'offer' | 'answer' | 'ice-candidate'>(type: K, payload: ClientPayloads[K]): void {
    if (this.signaling.state !== 'connected') return;
    // Fire and forget: a lost message shows up as a link that never connects (then the call moves to the SFU).
    this.signaling.request(type, payload).catch(() => {});
  }
}
