// What the live-streaming engine offers the domain: a pipeline that shows
// some of a room's tracks as HLS, and the request that starts one.

import type { LiveLayout, ProducerInfo } from '../../server/kernel/media.js';
import type { MediaRoom } from '../../sfu/mediaRoom.js';

/** The media side of a stream (hlsPipeline.ts makes the real one). */
export interface LivePipeline {
  /** The running ffmpeg's process id (null between parts or after the end). */
  readonly pid: number | null;
  /** The producers shown now. */
  readonly showing: ProducerInfo[];
  /** Shows other producers (a new ffmpeg part; players see a discontinuity, not a restart). */
  show(producers: readonly ProducerInfo[]): void;
  /** The playlist players get, each segment file name mapped through `uri`; null before the first segment. */
  playlist(uri: (file: string) => string): Promise<string | null>;
  /** Graceful stop: ffmpeg writes its last segment and the playlist ends (`now`: the media is gone, do not wait). */
  stop(opts?: { now?: boolean }): Promise<void>;
}

/** What the media half needs to run a stream, and how it reports back. */
export interface PipelineRequest {
  streamId: string;
  room: string;
  layout: LiveLayout;
  media: MediaRoom;
  /** The tracks to show: at most one audio and one video producer. */
  producers: ProducerInfo[];
  dir: string;
  /** The first segment is in the playlist: the stream can be played. */
  onLive(): void;
  /** ffmpeg died or could not start. */
  onFailed(reason: string): void;
  /** Its media is gone: the room's SFU closed, or every track's producer closed. */
  onSourceGone(reason: 'room-closed' | 'source-left'): void;
}
export type PipelineFactory = (req: PipelineRequest) => Promise<LivePipeline>;
