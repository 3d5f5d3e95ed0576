// The client's copy of the room it is in: who is there (with role, mute,
// hold and deafen state), what others publish, and this client's own mute intent. Kept
// from the join reply and the server's events; no requests, no media.

import type { ParticipantInfo, ProducerInfo, ServerPayloads, Track } from '../../../signaling/protocol/protocol.js';
import type { EmitSdkEvent, ServerMessage } from './types.js';

export class RoomMirror {
  /** The room joined (null: in none). */
  name: string | null = null;
  participantId: string | null = null;
  /** Everyone in the room, this client included. */
  readonly participants = new Map<string, ParticipantInfo>();
  /** Other participants' producers: what can be subscribed. */
  readonly producers = new Map<string, ProducerInfo>();
  /** This client's mute state; it outlives a rejoin and is told to the server after each join. */
  readonly muted: Record<Track, boolean> = { audio: false, video: false };
  /** This client hears nobody (its own choice); like `muted`, it outlives a rejoin and is told after each join. */
  deafened = false;

  constructor(private readonly emit: EmitSdkEvent) {}

  /** This client's own participant, once joined. */
  self(): ParticipantInfo | undefined {
    return this.participantId ? this.participants.get(this.participantId) : undefined;
  }

  /** Replaces everything with the room state a `join` answered. */
  applyJoined(joined: ServerPayloads['joined']): void {
    this.participantId = joined.participant_id;
    this.participants.clear();
    for (const p of joined.room_state.participants) this.participants.set(p.participant_id, p);
    this.producers.clear();
    for (const p of joined.room_state.producers ?? []) {
      if (p.participant_id !== this.participantId) this.producers.set(p.producer_id, p);
    }
  }

  /** Out of the room: forgets everyone and resets the mute state. */
  clear(): void {
    this.name = null;
    this.participants.clear();
    this.producers.clear();
    this.participantId = null;
    this.muted.audio = this.muted.video = false;
    this.deafened = false;
  }

  /** Records this client's own deafen state on its participant (without an event). */
  markSelfDeafened(deafened: boolean): ParticipantInfo | undefined {
    const self = this.self();
    if (self) self.deafened = deafened;
    return self;
  }

  /** Records this client's own mute state on its participant (without an event). */
  markSelfMuted(track: Track, muted: boolean): ParticipantInfo | undefined {
    const self = this.self();
    if (self) self[track === 'audio' ? 'audio_muted' : 'video_muted'] = muted;
    return self;
  }

  /** Keeps the mirror current from one server event, announcing participant changes. */
  apply(m: ServerMessage): void {
    switch (m.type) {
      case 'peer-joined':
        this.participants.set(m.payload.participant.participant_id, m.payload.participant);
        this.emit('participant-joined', m.payload.participant);
        break;
      case 'peer-left':
        this.participants.delete(m.payload.participant_id);
        this.emit('participant-left', m.payload);
        break;
      case 'mute':
      case 'unmute': {
        const p = this.participants.get(m.payload.from);
        if (p) {
          p[m.payload.track === 'audio' ? 'audio_muted' : 'video_muted'] = m.type === 'mute';
          this.emit('participant-updated', p);
        }
        break;
      }
      case 'hold':
      case 'unhold': {
        const p = this.participants.get(m.payload.from);
        if (p) {
          p.on_hold = m.type === 'hold';
          this.emit('participant-updated', p);
        }
        break;
      }
      case 'deafen':
      case 'undeafen': {
        const p = this.participants.get(m.payload.from);
        if (p) {
          p.deafened = m.type === 'deafen';
          this.emit('participant-updated', p);
        }
        break;
      }
      case 'role-changed':
      case 'participant-muted': {
        // Room control: a new role, or muted by a moderator (which this client must respect too).
        const p = this.participants.get(m.payload.participant_id);
        if (p) {
          if (m.type === 'role-changed') p.role = m.payload.role;
          else if (m.payload.track === 'audio') p.audio_muted = true;
          else p.video_muted = true;
          if (m.type === 'participant-muted' && p.participant_id === this.participantId) this.muted[m.payload.track] = true;
          this.emit('participant-updated', p);
        }
        break;
      }
      case 'producer-added':
        if (this.name) this.producers.set(m.payload.producer_id, m.payload);
        break;
      case 'producer-removed':
        this.producers.delete(m.payload.producer_id);
        break;
      case 'producer-paused':
      case 'producer-resumed': {
        const info = this.producers.get(m.payload.producer_id);
        if (info) info.paused = m.type === 'producer-paused';
        break;
      }
      default:
        break;
    }
  }
}
