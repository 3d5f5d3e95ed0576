// Adaptive subscription: receive only the video the stage shows, at the size
// it shows it. A video tile that is hidden (another page) has its consumer
// paused (setSubscriptionPaused: the SFU sends nothing); a shown one is
// resumed and asks for the simulcast layer that fits its width
// (setPreferredLayers). Re-evaluated when the layout, the page or a tile's
// size changes (debounced). Audio is always received.

import type { SwitchboardClient } from '../sdk/index.js';
import { layerForWidth } from './layouts.js';
import type { TileKind } from './tile.js';

export class AdaptiveSubscriptions {
  private client: SwitchboardClient | null = null;
  /** What was last asked per producer, so each change is one request. */
  private readonly paused = new Map<string, boolean>();
  private readonly layers = new Map<string, number>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly resize = new ResizeObserver(() => this.schedule());

  constructor(
    private readonly tileOf: (participantId: string, kind: TileKind) => HTMLElement | null,
    private readonly log: (text: string) => void,
  ) {}

  /** Follows a new client (a new room, or the same one rejoined): nothing asked yet. */
  reset(client: SwitchboardClient | null): void {
    this.client = client;
    this.paused.clear();
    this.layers.clear();
    this.resize.disconnect();
  }

  observe(tile: HTMLElement): void {
    this.resize.observe(tile);
  }

  unobserve(tile: HTMLElement): void {
    this.resize.unobserve(tile);
  }

  forget(producerId: string): void {
    this.paused.delete(producerId);
    this.layers.delete(producerId);
  }

  /** Soon (after resizes and relayouts settle). */
  schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.apply();
    }, 150);
  }

  /** Now: pause what is hidden, resume what is shown and size its layer. */
  apply(): void {
    const c = this.client;
    if (!c?.room) return;
    for (const [id, info] of c.producers) {
      if (info.kind !== 'video') continue;
      const tile = this.tileOf(info.participant_id, info.source === 'screen' ? 'screen' : 'camera');
      const shown = tile !== null && tile.isConnected && !tile.hidden;
      if (this.paused.get(id) !== !shown) {
        this.paused.set(id, !shown);
        if (tile) tile.dataset['subscription'] = shown ? 'active' : 'paused';
        c.setSubscriptionPaused(id, !shown).catch((err: Error) => this.log(`pause ${id}: ${err.message}`));
      }
      const remote = c.remoteTracks.get(id);
      if (!shown || !tile || !remote?.layered) continue;
      const layer = layerForWidth(tile.clientWidth);
      if (this.layers.get(id) === layer) continue;
      this.layers.set(id, layer);
      tile.dataset['layer'] = String(layer);
      c.setPreferredLayers(id, layer).catch((err: Error) => this.log(`layers ${id}: ${err.message}`));
    }
  }
}
