// A call as the app sees it: one object per call, made by client.call() (outgoing)
// or announced by the client's `incoming-call` event. It carries the call's
// state and its own typed events, and its methods answer, end, hold and dial.
// The work is done by the client's CallManager (callManager.ts).

import type { CallDeclineReason, CallMedia, CallParty, ServerPayloads } from '../../../signaling/protocol/protocol.js';
import { Emitter } from './emitter.js';

export type CallDirection = 'outgoing' | 'incoming';
/** `ringing` until someone answers, `active` while people talk, `ended` for good. */
export type CallStatus = 'ringing' | 'active' | 'ended';
/** Where the call's media goes: nowhere yet, peer-to-peer (1:1) or through the SFU. */
export type CallMediaMode = 'none' | 'p2p' | 'sfu';

/** What a call tells about itself (`call.on(name, listener)`); the call_* ones carry the protocol's payloads. */
export interface CallEvents {
  /** Outgoing: an invitee answered (the call is active). */
  'call-accepted': ServerPayloads['call-accepted'];
  /** Outgoing: an invitee declined (`reason`: declined or busy); the call ends when nobody else rings. */
  'call-declined': ServerPayloads['call-declined'];
  /** Outgoing: an invitee rang out. */
  'call-missed': ServerPayloads['call-missed'];
  /** Incoming: the caller gave up before anyone answered. */
  'call-cancelled': ServerPayloads['call-cancelled'];
  /** Incoming: another device of this user answered. */
  'call-answered-elsewhere': ServerPayloads['call-answered-elsewhere'];
  /** The call is over for this client (`reason` as the server says, or `hangup`, `left`, `declined`...). */
  'call-ended': { call_id: string; reason: string };
  /** Status changed: ringing -> active -> ended. */
  status: { status: CallStatus };
  /** The media moved: `p2p` once the peer-to-peer connection is up, `sfu` when it moved to the SFU (reason: the trigger). */
  'media-mode': { mode: 'p2p' | 'sfu'; reason: string };
  /** Another participant put the call on hold (or took it off). */
  hold: { participantId: string; onHold: boolean };
  /** DTMF tones sent by another participant as the relayed `dtmf` message (SFU calls; see docs/sdk.md). */
  dtmf: ServerPayloads['dtmf'];
}

/** What a Call asks its manager to do (internal). */
export interface CallActions {
  accept(call: Call, opts: AcceptOptions): Promise<void>;
  decline(call: Call, reason?: CallDeclineReason): Promise<void>;
  cancel(call: Call): Promise<void>;
  hangup(call: Call): Promise<void>;
  setHold(call: Call, onHold: boolean): Promise<void>;
  sendDtmf(call: Call, tones: string, opts: DtmfOptions): Promise<'rtp' | 'message'>;
  invite(call: Call, userIds: string[]): Promise<string[]>;
  peerConnection(call: Call): RTCPeerConnection | null;
  remoteOnHold(call: Call): boolean;
}

export interface CallOptions {
  /** `audio`: microphone only; `video`: camera and microphone. */
  media: CallMedia;
  /** Your name in the call (defaults to the token's name). */
  displayName?: string;
  /** Passed to the invitees' apps and the backend's webhooks (up to 4 KiB of JSON). */
  metadata?: Record<string, unknown>;
  /** Capture constraints; `false` joins without that device (default: what `media` says). */
  audio?: boolean | MediaTrackConstraints;
  video?: boolean | MediaTrackConstraints;
}

export interface AcceptOptions {
  displayName?: string;
  audio?: boolean | MediaTrackConstraints;
  video?: boolean | MediaTrackConstraints;
}

export interface DtmfOptions {
  /** Tone length, 40-6000 ms (default 100). */
  duration?: number;
  /** Gap between tones, 30-6000 ms (default 70). */
  gap?: number;
}

export interface CallInit {
  id: string;
  room: string;
  media: CallMedia;
  direction: CallDirection;
  from: CallParty;
  invited: string[];
  busy?: boolean;
  expiresAt?: number;
}

export class Call extends Emitter<CallEvents> {
  readonly id: string;
  /** The call's room (`call-<id>`). */
  readonly room: string;
  readonly media: CallMedia;
  readonly direction: CallDirection;
  /** Who called (for an outgoing call: this user). */
  readonly from: CallParty;
  /** Who was invited (grows when more people are invited into the call). */
  readonly invited: string[];
  /** Incoming: this user was in another call or room when it rang (call waiting). */
  readonly busy: boolean;
  /** Incoming: when the ringing stops (unix ms). */
  readonly expiresAt: number | null;
  /** Placed to several users at once: its media goes through the SFU from the start. */
  readonly group: boolean;
  status: CallStatus = 'ringing';
  mediaMode: CallMediaMode = 'none';
  /** Why it ended (null while not ended). */
  endReason: string | null = null;
  /** This client put the call on hold. */
  onHold = false;
  /** What this client sends in the call (its microphone, and camera on a video call), once answered or placed. */
  localTracks: MediaStreamTrack[] = [];

  constructor(
    init: CallInit,
    private readonly actions: CallActions,
  ) {
    super();
    this.id = init.id;
    this.room = init.room;
    this.media = init.media;
    this.direction = init.direction;
    this.from = init.from;
    this.invited = [...init.invited];
    this.busy = init.busy ?? false;
    this.expiresAt = init.expiresAt ?? null;
    this.group = init.invited.length > 1;
  }

  /** Another participant has put the call on hold. */
  get remoteOnHold(): boolean {
    return this.actions.remoteOnHold(this);
  }

  /** The peer-to-peer connection while the media is `p2p` (for getStats); null otherwise. */
  get peerConnection(): RTCPeerConnection | null {
    return this.actions.peerConnection(this);
  }

  /** Incoming: captures the microphone (and camera for video), answers and enters the call. */
  accept(opts: AcceptOptions = {}): Promise<void> {
    return this.actions.accept(this, opts);
  }

  /** Incoming: stops this call ringing here (`busy`: tell the caller you are in another call). */
  decline(reason?: CallDeclineReason): Promise<void> {
    return this.actions.decline(this, reason);
  }

  /** Outgoing, while it rings: stops ringing everyone and ends the call. */
  cancel(): Promise<void> {
    return this.actions.cancel(this);
  }

  /** Leaves the call (a direct call ends for both; a group call goes on without you). */
  hangup(): Promise<void> {
    return this.actions.hangup(this);
  }

  /** Stops sending media and tells the others (`hold`): they see you on hold. */
  hold(): Promise<void> {
    return this.actions.setHold(this, true);
  }

  unhold(): Promise<void> {
    return this.actions.setHold(this, false);
  }

  /**
   * Sends DTMF tones (`0-9 A-D * #`, `,` = 2 s pause). On a peer-to-peer call: RFC 4733
   * telephone-events in the audio (RTCDTMFSender), resolving `'rtp'`; on an SFU call, or
   * when the browser cannot, the relayed `dtmf` message, resolving `'message'`.
   */
  sendDtmf(tones: string, opts: DtmfOptions = {}): Promise<'rtp' | 'message'> {
    return this.actions.sendDtmf(this, tones, opts);
  }

  /** Rings more people into this call (it becomes a group call and moves to the SFU once they join). */
  invite(userIds: string[]): Promise<string[]> {
    return this.actions.invite(this, userIds);
  }

  /** Internal: the manager announces the call's events through this. */
  fire<K extends keyof CallEvents>(type: K, payload: CallEvents[K]): void {
    this.emit(type, payload);
  }
}
