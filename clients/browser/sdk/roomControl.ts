// The room-control requests of SwitchboardClient, one method per protocol
// request: roles, raised hands, moderation, the lobby, data messages, the
// whiteboard and recording. The client inherits them; they keep no state.
// Its base class, LiveRequests (live.ts), adds live streaming.

import type { ClientPayloads, RaisedHand, Role, RoomSettings, Track } from '../../../signaling/protocol/protocol.js';
import { LiveRequests } from './live.js';
import type { Reply } from './signaling.js';

export abstract class RoomControlRequests extends LiveRequests {
  // ---- Room control: roles, hands, moderation, lobby, data, whiteboard ----
  // Each is one request; the server checks the caller's role (`forbidden` otherwise).
  // Listen for the events with on('hand-queue' | 'role-changed' | 'participant-muted' | 'data' | ...).

  raiseHand(): Promise<{ position: number }> {
    return this.signaling.request('raise-hand', {});
  }

  async lowerHand(userId?: string): Promise<void> {
    await this.signaling.request('lower-hand', userId !== undefined ? { user_id: userId } : {});
  }

  /** Takes the head of the queue (or userId's hand); `promote` makes a viewer a speaker. */
  acknowledgeHand(opts: { userId?: string; promote?: boolean } = {}): Promise<{ hand: RaisedHand }> {
    return this.signaling.request('acknowledge-hand', {
      ...(opts.userId !== undefined ? { user_id: opts.userId } : {}),
      ...(opts.promote !== undefined ? { promote: opts.promote } : {}),
    });
  }

  async setRole(participantId: string, role: Role): Promise<void> {
    await this.signaling.request('set-role', { participant_id: participantId, role });
  }

  async muteParticipant(participantId: string, track: Track = 'audio'): Promise<void> {
    await this.signaling.request('mute-participant', { participant_id: participantId, track });
  }

  muteAll(track: Track = 'audio'): Promise<{ muted: number }> {
    return this.signaling.request('mute-all', { track });
  }

  async kick(participantId: string, reason?: string): Promise<void> {
    await this.signaling.request('kick', { participant_id: participantId, ...(reason !== undefined ? { reason } : {}) });
  }

  async lockRoom(locked = true): Promise<void> {
    await this.signaling.request(locked ? 'lock-room' : 'unlock-room', {});
  }

  updateRoom(settings: ClientPayloads['update-room']): Promise<{ settings: RoomSettings }> {
    return this.signaling.request('update-room', settings);
  }

  async admit(userId: string): Promise<void> {
    await this.signaling.request('admit', { user_id: userId });
  }

  async deny(userId: string, reason?: string): Promise<void> {
    await this.signaling.request('deny', { user_id: userId, ...(reason !== undefined ? { reason } : {}) });
  }

  /** A reliable message on a topic to everyone else in the room, or to one participant. */
  async sendData(topic: string, data: unknown, to?: string): Promise<void> {
    await this.signaling.request('send-data', { topic, data, ...(to !== undefined ? { to } : {}) });
  }

  drawStroke(stroke: Record<string, unknown>): Promise<{ stroke_id: string }> {
    return this.signaling.request('whiteboard-draw', { stroke });
  }

  async clearWhiteboard(): Promise<void> {
    await this.signaling.request('whiteboard-clear', {});
  }

  // ---- Recording: hosts and moderators; everyone hears on('recording-started' | 'recording-finished') ----

  startRecording(mode?: 'tracks' | 'composite'): Promise<Reply<'start-recording'>> {
    return this.signaling.request('start-recording', mode ? { mode } : {});
  }

  /**
   * Hosts and moderators: the recordings of the room this client is in, newest first, each file with an
   * absolute `download_url` (signed, no credentials needed) valid until `urls_expire_at`.
   */
  async listRecordings(limit?: number): Promise<Reply<'list-recordings'>> {
    const reply = await this.signaling.request('list-recordings', limit !== undefined ? { limit } : {});
    const origin = this.signaling.httpOrigin; // local storage links are paths on the server
    for (const r of reply.recordings) {
      for (const f of r.files) if (f.download_url !== null) f.download_url = new URL(f.download_url, origin).toString();
    }
    return reply;
  }

  /** Resolves once the files are finalized (ffmpeg flushes and probes them first). */
  stopRecording(): Promise<Reply<'stop-recording'>> {
    return this.signaling.request('stop-recording', {}, 30_000);
  }
}
