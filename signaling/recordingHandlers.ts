// Recording requests: hosts and moderators start and stop the
// room's recording and list its recordings (with download links); the
// recording services check the role.

import { AppError } from '../server/kernel/errors.js';
import type { HubContext } from './hubContext.js';
import type { AckResults, ClientPayloads } from './protocol/protocol.js';
import type { Client } from './client.js';

type RecordingType = 'start-recording' | 'stop-recording' | 'list-recordings';
type Handler<K extends RecordingType> = (session: Client, ctx: HubContext, payload: ClientPayloads[K]) => Promise<AckResults[K]>;

function service(ctx: HubContext) {
  if (!ctx.recording) throw new AppError('unavailable', 'recording is not available on this server');
  return ctx.recording;
}

export const recordingHandlers: { [K in RecordingType]: Handler<K> } = {
  async 'start-recording'(s, ctx, p) {
    return { recording: await service(ctx).startBy(s.inRoom(), p.mode) };
  },
  async 'stop-recording'(s, ctx) {
    const row = await service(ctx).stopBy(s.inRoom());
    return { recording_id: row.id, status: row.status === 'failed' ? 'failed' : 'ready' };
  },
  async 'list-recordings'(s, ctx, p) {
    if (!ctx.roomRecordings) throw new AppError('unavailable', 'recordings are not available on this server');
    return ctx.roomRecordings.listBy(s.inRoom(), p.limit ?? 20);
  },
};
