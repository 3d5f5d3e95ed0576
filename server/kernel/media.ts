// The words the SFU, the recorder and the wire share: what a track is and
// where it comes from. The wire catalog (signaling/protocol) re-exports them;
// the media engines use them without knowing the wire.

export const KINDS = ['audio', 'video'] as const;
export type MediaKind = (typeof KINDS)[number];
/** What a producer carries; decides which kind it must be and what `mute` pauses. */
export const SOURCES = ['mic', 'camera', 'screen', 'screen-audio'] as const;
export type Source = (typeof SOURCES)[number];
export const SOURCE_KIND: Record<Source, MediaKind> = { mic: 'audio', camera: 'video', screen: 'video', 'screen-audio': 'audio' };

/** A producer as the room sees it. */
export interface ProducerInfo {
  producer_id: string;
  participant_id: string;
  kind: MediaKind;
  source: Source;
  paused: boolean;
}

export interface DataProducerInfo {
  data_producer_id: string;
  participant_id: string;
  label: string;
  protocol: string;
}

/** A connection's quality, from its transport and consumer scores. */
export type Quality = 'excellent' | 'good' | 'poor' | 'lost';

/** How a live stream composes the room's tracks. */
export const LIVE_LAYOUTS = ['speaker', 'active-speaker', 'grid'] as const;
export type LiveLayout = (typeof LIVE_LAYOUTS)[number];

/** A recording's shape: one file per participant, or one composed file. */
export type RecordingMode = 'tracks' | 'composite';

/** A track inside a recorded file. */
export interface TrackInfo {
  kind: 'audio' | 'video';
  source: string;
  codec: string;
  producer_id: string;
}
