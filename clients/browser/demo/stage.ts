// The stage: a tile per participant (and per screen share) laid out as a grid,
// the active speaker big, or a screen share big while someone presents, with
// pages for big rooms; only what is shown is received (adaptive.ts). Also the
// stage's own controls: deafen, reactions, the layout choice, the pager and
// the "Reconnecting…" banner. Everything follows the SDK's events.

import type { LocalTrack, ParticipantInfo, RemoteTrack, SwitchboardClient, SwitchboardEvents } from '../sdk/index.js';
import { AdaptiveSubscriptions } from './adaptive.js';
import { arrange, gridColumns, type LayoutChoice, type TileRef } from './layouts.js';
import { buildPicker, floatReaction } from './reactions.js';
import {
  createTile,
  part,
  renderTileInfo,
  setTileLevel,
  setTileQuality,
  setTileVideo,
  tileSelector,
  type TileActions,
  type TileKind,
} from './tile.js';
import './stage.css';

/** What the stage needs from the app around it. */
export interface StageHost {
  nameOf(participantId: string): string;
  logEvent(text: string): void;
  showError(message: string | null): void;
  /** The toolbar's publish buttons follow local tracks. */
  updateButtons(): void;
}

function el<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} missing from index.html`);
  return found as T;
}

const NARROW = window.matchMedia('(max-width: 720px)');

export class Stage implements TileActions {
  private client: SwitchboardClient | null = null;
  private readonly tiles = el<HTMLDivElement>('tiles');
  private readonly deafenButton = el<HTMLButtonElement>('toggle-deafen');
  private readonly layoutSelect = el<HTMLSelectElement>('layout');
  private readonly pager = el<HTMLElement>('pager');
  private readonly pageLabel = el<HTMLElement>('page-label');
  private readonly prev = el<HTMLButtonElement>('page-prev');
  private readonly next = el<HTMLButtonElement>('page-next');
  private readonly reconnecting = el<HTMLElement>('reconnecting');
  private readonly adaptive: AdaptiveSubscriptions;
  /** Volume per participant, 0-100 (100 unless changed). */
  private readonly volumes = new Map<string, number>();
  private readonly speakingTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private choice: LayoutChoice = 'auto';
  private page = 0;
  private activeSpeaker: string | null = null;
  /** Tiles a page: ?pageSize=N, else 9 (4 at phone width). */
  private readonly pageSizeParam = Number(new URLSearchParams(location.search).get('pageSize')) || 0;

  constructor(private readonly host: StageHost) {
    this.adaptive = new AdaptiveSubscriptions(
      (id, kind) => this.tiles.querySelector<HTMLElement>(tileSelector(id, kind)),
      (text) => host.logEvent(text),
    );
    const saved = localStorage.getItem('switchboard.layout');
    if (saved === 'grid' || saved === 'speaker' || saved === 'auto') this.choice = saved;
    this.layoutSelect.value = this.choice;
    this.layoutSelect.addEventListener('change', () => {
      this.choice = this.layoutSelect.value as LayoutChoice;
      localStorage.setItem('switchboard.layout', this.choice);
      this.page = 0;
      this.relayout();
    });
    this.prev.addEventListener('click', () => this.turn(-1));
    this.next.addEventListener('click', () => this.turn(1));
    this.deafenButton.addEventListener('click', () => void this.toggleDeafen());
    buildPicker(el('reactions-button'), el('reactions'), (reaction) => {
      this.client?.react(reaction).catch((err: Error) => host.showError(`Reaction: ${err.message}`));
    });
    NARROW.addEventListener('change', () => this.relayout());
  }

  // ---- tiles -------------------------------------------------------------------

  /** The camera tile of a participant (screen shares get their own tile). */
  tileFor(participantId: string, screen = false): HTMLDivElement {
    const kind: TileKind = screen ? 'screen' : 'camera';
    let tile = this.tiles.querySelector<HTMLDivElement>(tileSelector(participantId, kind));
    if (tile) return tile;
    tile = createTile(participantId, kind, participantId === this.client?.participantId, this);
    this.tiles.append(tile);
    this.adaptive.observe(tile);
    const info = this.client?.participants.get(participantId);
    if (info) renderTileInfo(tile, info, participantId === this.client?.participantId);
    this.relayout();
    return tile;
  }

  setVideo(tile: HTMLDivElement, track: MediaStreamTrack | null): void {
    setTileVideo(tile, track);
  }

  private removeTile(tile: HTMLElement): void {
    this.adaptive.unobserve(tile);
    tile.remove();
    this.relayout();
  }

  /** Out of the room: no tiles, nothing followed. */
  clear(): void {
    this.tiles.replaceChildren();
    this.adaptive.reset(null);
    this.reconnecting.hidden = true;
    this.pager.hidden = true;
    el('reactions').hidden = true;
  }

  private renderParticipant(p: ParticipantInfo): void {
    const self = p.participant_id === this.client?.participantId;
    renderTileInfo(this.tileFor(p.participant_id), p, self);
    const screen = this.tiles.querySelector<HTMLElement>(tileSelector(p.participant_id, 'screen'));
    if (screen) renderTileInfo(screen, p, self);
    if (self) this.showDeafened(p.deafened);
  }

  // ---- layout ------------------------------------------------------------------

  private turn(by: number): void {
    this.page += by;
    this.relayout();
  }

  /** Places every tile for the chosen layout and page, then receives what is shown. */
  private relayout(): void {
    const all = [...this.tiles.querySelectorAll<HTMLElement>('.tile')];
    const refs: TileRef[] = all.map((t) => ({
      key: `${t.dataset['participant']}:${t.dataset['kind']}`,
      participantId: t.dataset['participant'] ?? '',
      kind: t.dataset['kind'] === 'screen' ? 'screen' : 'camera',
      self: t.dataset['participant'] === this.client?.participantId,
    }));
    const pageSize = this.pageSizeParam || (NARROW.matches ? 4 : 9);
    const a = arrange(refs, this.choice, this.activeSpeaker, pageSize, this.page);
    this.page = a.page;
    this.tiles.dataset['layout'] = a.layout;
    const order = [a.featured, ...a.shown];
    all.forEach((t, i) => {
      const key = refs[i].key;
      t.classList.toggle('featured', key === a.featured);
      t.hidden = a.hidden.includes(key);
      t.style.order = String(order.indexOf(key));
    });
    this.tiles.style.setProperty('--cols', String(gridColumns(a.shown.length, NARROW.matches)));
    this.pager.hidden = a.pages <= 1;
    this.pageLabel.textContent = `Page ${a.page + 1} of ${a.pages}`;
    this.prev.disabled = a.page === 0;
    this.next.disabled = a.page === a.pages - 1;
    this.adaptive.schedule();
  }

  // ---- audio: volume and deafen -----------------------------------------------

  volumeOf(participantId: string): number {
    return this.volumes.get(participantId) ?? 100;
  }

  setVolume(participantId: string, percent: number): void {
    this.volumes.set(participantId, percent);
    for (const audio of this.tiles.querySelectorAll<HTMLAudioElement>(`.tile[data-participant="${CSS.escape(participantId)}"] audio`)) {
      audio.volume = percent / 100;
    }
  }

  private async toggleDeafen(): Promise<void> {
    const c = this.client;
    if (!c) return;
    try {
      await c.setDeafened(!c.deafened);
    } catch (err) {
      this.host.showError(`Deafen: ${(err as Error).message}`);
    }
  }

  /** Deafened: every remote <audio> is muted here (what this client publishes is not). */
  private showDeafened(deafened: boolean): void {
    this.deafenButton.textContent = deafened ? 'Undeafen' : 'Deafen';
    this.deafenButton.setAttribute('aria-pressed', String(deafened));
    this.deafenButton.classList.toggle('off', deafened);
    for (const audio of this.tiles.querySelectorAll('audio')) audio.muted = deafened;
  }

  // ---- media -------------------------------------------------------------------

  private attachLocal(c: SwitchboardClient, local: LocalTrack): void {
    if (!c.participantId || local.kind !== 'video') return;
    const tile = this.tileFor(c.participantId, local.source === 'screen');
    tile.dataset['local'] = 'true';
    setTileVideo(tile, local.track);
  }

  private detachLocal(c: SwitchboardClient, local: LocalTrack): void {
    if (!c.participantId || local.kind !== 'video') return;
    const tile = this.tileFor(c.participantId, local.source === 'screen');
    if (local.source === 'screen') this.removeTile(tile);
    else setTileVideo(tile, null);
  }

  private attachRemote(c: SwitchboardClient, remote: RemoteTrack): void {
    this.host.logEvent(`receiving ${remote.source} of ${this.host.nameOf(remote.participantId)}`);
    const tile = this.tileFor(remote.participantId, remote.source === 'screen');
    if (remote.kind === 'video') {
      setTileVideo(tile, remote.track);
      this.adaptive.schedule(); // its layers are known now
      return;
    }
    const audio = document.createElement('audio');
    audio.autoplay = true;
    audio.dataset['producer'] = remote.producerId;
    audio.srcObject = new MediaStream([remote.track]);
    audio.volume = this.volumeOf(remote.participantId) / 100;
    audio.muted = c.deafened;
    tile.append(audio);
    audio.play().catch(() => {}); // autoplay refused: audio starts on the next user gesture
  }

  private detachRemote(remote: RemoteTrack): void {
    const tile = this.tiles.querySelector<HTMLDivElement>(
      tileSelector(remote.participantId, remote.source === 'screen' ? 'screen' : 'camera'),
    );
    if (!tile) return;
    if (remote.kind === 'audio') tile.querySelector(`audio[data-producer="${CSS.escape(remote.producerId)}"]`)?.remove();
    else if (remote.source === 'screen') this.removeTile(tile);
    else setTileVideo(tile, null);
  }

  /** Speaking: audio-levels come every 500 ms while someone speaks ([] = silence). */
  private showLevels(levels: Array<{ participant_id: string; volume: number }>): void {
    const loud = new Map(levels.map((l) => [l.participant_id, l.volume]));
    for (const tile of this.tiles.querySelectorAll<HTMLDivElement>('.tile[data-kind="camera"]')) {
      const id = tile.dataset['participant'];
      if (id === undefined) continue;
      const volume = loud.get(id);
      setTileLevel(tile, volume ?? null);
      if (volume === undefined) continue;
      clearTimeout(this.speakingTimers.get(id));
      this.speakingTimers.set(
        id,
        setTimeout(() => setTileLevel(tile, null), 1200),
      );
    }
  }

  // ---- SDK events -> stage -----------------------------------------------------

  attach(c: SwitchboardClient): void {
    this.client = c;
    /** Listens while `c` is the stage's client (a later client replaces it). */
    const on = <K extends keyof SwitchboardEvents>(type: K, fn: (payload: SwitchboardEvents[K]) => void): void => {
      c.on(type, (payload) => {
        if (this.client === c) fn(payload);
      });
    };
    on('room-joined', ({ roomState }) => {
      this.tiles.replaceChildren();
      this.adaptive.reset(c);
      this.page = 0;
      this.activeSpeaker = null; // participant ids are new after a rejoin
      delete this.tiles.dataset['activeSpeaker'];
      for (const p of roomState.participants) this.renderParticipant(p);
      for (const p of roomState.producers) if (p.source === 'screen') this.tileFor(p.participant_id, true);
      this.reconnecting.hidden = true;
      this.showDeafened(c.deafened);
      this.relayout();
      this.adaptive.apply(); // before the SDK consumes what is there: hidden tiles start paused
      // After a rejoin the local tiles come back with local-track-added.
    });
    on('room-left', () => this.clear());
    on('participant-joined', (p) => this.renderParticipant(p));
    on('participant-updated', (p) => this.renderParticipant(p));
    on('participant-left', ({ participant_id }) => {
      for (const t of this.tiles.querySelectorAll<HTMLElement>(`[data-participant="${CSS.escape(participant_id)}"]`)) this.removeTile(t);
    });
    on('local-track-added', (local) => {
      this.attachLocal(c, local);
      this.host.updateButtons();
    });
    on('local-track-removed', (local) => {
      this.detachLocal(c, local);
      this.host.updateButtons();
    });
    on('producer-added', (p) => {
      if (p.source === 'screen') this.tileFor(p.participant_id, true);
      this.adaptive.apply(); // at once: a producer on a hidden tile is consumed paused
    });
    on('producer-removed', ({ producer_id, participant_id }) => {
      this.adaptive.forget(producer_id);
      // A share whose consumer never came (or is gone already) leaves no empty tile behind.
      const sharing = [...c.producers.values()].some((p) => p.participant_id === participant_id && p.source === 'screen');
      const tile = this.tiles.querySelector<HTMLElement>(tileSelector(participant_id, 'screen'));
      if (tile && !sharing && participant_id !== c.participantId) this.removeTile(tile);
    });
    on('track-added', (remote) => this.attachRemote(c, remote));
    on('track-removed', (remote) => this.detachRemote(remote));
    on('active-speaker', ({ participant_id }) => {
      for (const t of this.tiles.querySelectorAll<HTMLElement>('.tile')) {
        t.classList.toggle('active-speaker', t.dataset['participant'] === participant_id);
      }
      // One's own voice never takes the big tile (the glow still shows it).
      if (participant_id === null || participant_id === this.activeSpeaker || participant_id === c.participantId) return;
      this.activeSpeaker = participant_id;
      this.tiles.dataset['activeSpeaker'] = participant_id;
      if (this.tiles.dataset['layout'] === 'speaker') this.relayout();
    });
    on('audio-levels', ({ levels }) => this.showLevels(levels));
    on('connection-quality', ({ participant_id, quality, score }) => {
      const tile = this.tiles.querySelector<HTMLElement>(tileSelector(participant_id, 'camera'));
      if (tile) setTileQuality(tile, quality, score);
    });
    on('reaction', ({ participant_id, reaction }) => {
      const tile = this.tiles.querySelector<HTMLElement>(tileSelector(participant_id, 'camera'));
      if (tile) floatReaction(part(tile, '.reactions-layer'), reaction);
    });
    on('connection-state', ({ state, attempt }) => {
      this.reconnecting.hidden = !(state === 'reconnecting' && c.room);
      this.reconnecting.textContent = `Reconnecting…${attempt ? ` (attempt ${attempt})` : ''}`;
    });
  }
}
