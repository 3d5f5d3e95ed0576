// Speaking indicators of a room: audio levels and the active speaker,
// observed on its primary router over every microphone.

import type { EventEmitter } from 'node:events';
import type { ActiveSpeakerObserver, AudioLevelObserver } from 'mediasoup/types';
import { bestEffort } from '../server/kernel/bestEffort.js';
import type { Logger } from '../server/kernel/logger.js';
import type { MediaRoomEvents, MediaRoomObserverEvents } from './mediaRoomEvents.js';
import type { RouterSlot } from './routerSlot.js';

const AUDIO_LEVEL_INTERVAL_MS = 500;

export class Speakers {
  private audioLevels: AudioLevelObserver | null = null;
  private activeSpeaker: ActiveSpeakerObserver | null = null;

  constructor(
    private readonly news: EventEmitter<MediaRoomEvents>,
    private readonly observer: EventEmitter<MediaRoomObserverEvents>,
    private readonly log: Logger,
  ) {}

  /** Makes the observers on a new primary router. */
  async observe(slot: RouterSlot): Promise<void> {
    this.audioLevels = await slot.router.createAudioLevelObserver({ maxEntries: 8, threshold: -70, interval: AUDIO_LEVEL_INTERVAL_MS });
    this.audioLevels.on('volumes', (volumes) =>
      this.news.emit(
        'audiolevels',
        volumes.map((v) => ({ peerId: String(v.producer.appData['peerId']), volume: v.volume })),
      ),
    );
    this.audioLevels.on('silence', () => this.news.emit('audiolevels', []));
    this.activeSpeaker = await slot.router.createActiveSpeakerObserver();
    this.activeSpeaker.on('dominantspeaker', ({ producer }) => {
      this.news.emit('activespeaker', String(producer.appData['peerId']));
      this.observer.emit('activespeaker', String(producer.appData['peerId'])); // live streams follow the speaker
    });
  }

  /** A microphone to observe. A producer that closed meanwhile is simply not observed. */
  addMic(producerId: string): void {
    if (this.audioLevels) void bestEffort(this.log, 'observing audio levels', this.audioLevels.addProducer({ producerId }));
    if (this.activeSpeaker) void bestEffort(this.log, 'observing the active speaker', this.activeSpeaker.addProducer({ producerId }));
  }

  /** The primary router is gone, and its observers with it. */
  forget(): void {
    this.audioLevels = null;
    this.activeSpeaker = null;
  }
}
