// Dynacast: for every layered (simulcast or SVC) video producer, the highest
// spatial layer any live consumer wants, so the publisher's browser can stop
// encoding the layers nobody receives (like LiveKit's dynacast and Jitsi's
// sender video constraints).
//
// Each consumer of a layered producer registers a LayerWant: local and plain
// (recorder) consumers read their mediasoup consumer, viewers on other nodes
// (cascade) read what the owner relayed for them. A paused want asks for
// nothing; no live want at all means null (the publisher may send nothing).
// Raising is told at once (a tile grew: it must sharpen now); lowering only
// after `lowerDelayMs` of lower demand, so a tile resize or a quick pause and
// resume does not make the encoder drop and restart a layer.

import type { Consumer, Producer } from 'mediasoup/types';

/** One consumer's demand: the highest spatial layer it wants now, null while paused. */
export interface LayerWant {
  wanted(): number | null;
}

export interface DynacastOptions {
  /** How long lower demand lasts before the publisher hears it (raising is immediate). */
  lowerDelayMs: number;
  /** The publisher should send spatial layers 0..maxSpatialLayer (null: none). */
  onChange: (producerId: string, maxSpatialLayer: number | null) => void;
  /** The layers that count for the producer's score changed (see scoredLayer). */
  onScored: (producerId: string) => void;
}

/** After a raise, how long the layers coming back do not count for the producer's score (they start at 0). */
export const SCORE_GRACE_MS = 3000;

interface Tracked {
  /** The producer's highest spatial layer. */
  top: number;
  readonly wants: Set<LayerWant>;
  /** What the publisher was last told; `top` until then (a new producer sends every layer). */
  sent: number | null;
  lowering: NodeJS.Timeout | null;
  /** The highest layer whose score counts (see scoredLayer). */
  scored: number | null;
  scoring: NodeJS.Timeout | null;
}

/** Spatial layers of a layered video producer (simulcast: one per encoding; SVC: from its scalability mode), 0 otherwise. */
export function spatialLayersOf(producer: Producer): number {
  if (producer.kind !== 'video') return 0;
  const encodings = producer.rtpParameters.encodings ?? [];
  if (producer.type === 'simulcast') return encodings.length;
  if (producer.type === 'svc') return Number(/^[LS](\d+)T\d+/.exec(encodings[0]?.scalabilityMode ?? '')?.[1] ?? 1);
  return 0;
}

/** The want of a mediasoup consumer on this node: nothing while paused, else its preferred spatial layer (all when unset). */
export function consumerWant(consumer: Consumer): LayerWant {
  return { wanted: () => (consumer.closed || consumer.paused ? null : (consumer.preferredLayers?.spatialLayer ?? Infinity)) };
}

export class Dynacast {
  private readonly producers = new Map<string, Tracked>();

  constructor(private readonly opts: DynacastOptions) {}

  /** Starts following a producer with `spatialLayers` layers (fewer than 2: nothing to choose, not followed). */
  addProducer(producerId: string, spatialLayers: number): void {
    if (spatialLayers < 2 || this.producers.has(producerId)) return;
    const top = spatialLayers - 1;
    this.producers.set(producerId, { top, wants: new Set(), sent: top, lowering: null, scored: top, scoring: null });
    this.refresh(producerId); // nobody consumes it yet: it goes down to none after the delay
  }

  removeProducer(producerId: string): void {
    const tracked = this.producers.get(producerId);
    if (tracked?.lowering) clearTimeout(tracked.lowering);
    if (tracked?.scoring) clearTimeout(tracked.scoring);
    this.producers.delete(producerId);
  }

  /** Adds a consumer's want; returns what removes it (when the consumer closes). */
  want(producerId: string, want: LayerWant): () => void {
    const tracked = this.producers.get(producerId);
    if (!tracked) return () => {};
    tracked.wants.add(want);
    this.refresh(producerId);
    return () => {
      if (tracked.wants.delete(want) && this.producers.get(producerId) === tracked) this.refresh(producerId);
    };
  }

  /** Follows a mediasoup consumer: its pause, resume and close change the demand (preferred layers: call refresh). */
  watchConsumer(producerId: string, consumer: Consumer): void {
    if (!this.producers.has(producerId)) return;
    const release = this.want(producerId, consumerWant(consumer));
    const refresh = () => this.refresh(producerId);
    consumer.observer.on('pause', refresh);
    consumer.observer.on('resume', refresh);
    consumer.observer.once('close', release);
  }

  /** What the publisher of `producerId` was last told (undefined: not a followed producer). */
  sent(producerId: string): number | null | undefined {
    return this.producers.get(producerId)?.sent;
  }

  /**
   * The highest spatial layer whose score counts for the publisher's
   * connection quality (undefined: every layer; null: none). Layers it was told
   * to stop go quiet and mediasoup scores them 0: that is no bad connection.
   * Layers coming back count once they had time to flow again.
   */
  scoredLayer(producerId: string): number | null | undefined {
    return this.producers.get(producerId)?.scored;
  }

  /** A want of this producer changed: raise now, or lower after the delay. */
  refresh(producerId: string): void {
    const tracked = this.producers.get(producerId);
    if (!tracked) return;
    const target = this.target(tracked);
    if (target === tracked.sent) {
      this.stopLowering(tracked);
      return;
    }
    if (tracked.sent === null || (target !== null && target > tracked.sent)) {
      this.stopLowering(tracked);
      this.tell(producerId, tracked, target);
      return;
    }
    // Lower: the timer decides on the demand as it is when it fires.
    tracked.lowering ??= setTimeout(() => {
      tracked.lowering = null;
      if (this.producers.get(producerId) !== tracked) return;
      const now = this.target(tracked);
      if (now !== tracked.sent) this.tell(producerId, tracked, now);
    }, this.opts.lowerDelayMs).unref();
  }

  close(): void {
    for (const id of [...this.producers.keys()]) this.removeProducer(id);
  }

  private target(tracked: Tracked): number | null {
    let max: number | null = null;
    for (const want of tracked.wants) {
      const wanted = want.wanted();
      if (wanted !== null && (max === null || wanted > max)) max = wanted;
    }
    return max === null ? null : Math.min(Math.max(0, max), tracked.top);
  }

  private stopLowering(tracked: Tracked): void {
    if (tracked.lowering) clearTimeout(tracked.lowering);
    tracked.lowering = null;
  }

  private tell(producerId: string, tracked: Tracked, layer: number | null): void {
    const lower = layer === null || (tracked.sent !== null && layer < tracked.sent);
    tracked.sent = layer;
    if (lower) {
      // Stopped layers stop counting now (a raise still in its grace keeps its timer).
      tracked.scored = tracked.scored === null || layer === null ? null : Math.min(tracked.scored, layer);
      this.opts.onScored(producerId);
    } else {
      if (tracked.scoring) clearTimeout(tracked.scoring);
      tracked.scoring = setTimeout(() => {
        tracked.scoring = null;
        tracked.scored = tracked.sent;
        if (this.producers.get(producerId) === tracked) this.opts.onScored(producerId);
      }, SCORE_GRACE_MS).unref();
    }
    this.opts.onChange(producerId, layer);
  }
}
