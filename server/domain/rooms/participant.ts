import type { LeaveReason, ParticipantInfo, Role, Track } from '../../../signaling/protocol/protocol.js';

/** How the rooms domain reaches a participant's connection, without knowing it is a WebSocket. */
export interface ParticipantSink {
  /** Sends one already-encoded server message. */
  send(encoded: string): void;
  /** The server removed this participant from its room (replaced, call ended). */
  removed(reason: LeaveReason): void;
}

export interface ParticipantIdentity {
  userId: string;
  displayName: string;
  role: Role;
}

export class Participant {
  audioMuted = false;
  videoMuted = false;
  onHold = false;
  deafened = false;
  /** Set once the participant has left, so late events for it are ignored. */
  gone = false;

  constructor(
    readonly id: string,
    readonly roomName: string,
    readonly identity: ParticipantIdentity,
    readonly joinedAt: Date,
    readonly sink: ParticipantSink,
  ) {}

  setMuted(track: Track, muted: boolean): void {
    if (track === 'audio') this.audioMuted = muted;
    else this.videoMuted = muted;
  }

  info(): ParticipantInfo {
    return {
      participant_id: this.id,
      user_id: this.identity.userId,
      display_name: this.identity.displayName,
      role: this.identity.role,
      audio_muted: this.audioMuted,
      video_muted: this.videoMuted,
      on_hold: this.onHold,
      deafened: this.deafened,
      connection_quality: null,
      joined_at: this.joinedAt.toISOString(),
    };
  }
}
