// One tile of the stage: a participant's camera (or screen share) with its
// avatar, name, role, mute/deafen badges, speaking level, connection quality,
// floating reactions, and (for others) a menu with their volume.

import type { ParticipantInfo, Quality } from '../sdk/index.js';

export type TileKind = 'camera' | 'screen';

/** The element a tile built by createTile() always has; missing means the tile markup changed. */
export function part<T extends Element>(tile: Element, selector: string): T {
  const found = tile.querySelector<T>(selector);
  if (!found) throw new Error(`tile has no ${selector}`);
  return found;
}

export function tileSelector(participantId: string, kind: TileKind): string {
  return `.tile[data-participant="${CSS.escape(participantId)}"][data-kind="${kind}"]`;
}

/** What a tile's volume slider changes (stage.ts keeps the volumes). */
export interface TileActions {
  volumeOf(participantId: string): number;
  setVolume(participantId: string, percent: number): void;
}

export function createTile(participantId: string, kind: TileKind, self: boolean, actions: TileActions): HTMLDivElement {
  const tile = document.createElement('div');
  tile.className = 'tile no-video';
  tile.dataset['participant'] = participantId;
  tile.dataset['kind'] = kind;
  tile.setAttribute('role', 'group');
  const video = document.createElement('video');
  video.autoplay = true;
  video.playsInline = true;
  video.muted = true; // sound plays through separate <audio> elements
  const avatar = document.createElement('div');
  avatar.className = 'avatar';
  avatar.setAttribute('aria-hidden', 'true');
  const level = document.createElement('div');
  level.className = 'level';
  level.append(document.createElement('div'));
  const overlay = document.createElement('div');
  overlay.className = 'overlay';
  const name = document.createElement('span');
  name.className = 'name';
  const role = document.createElement('span');
  role.className = 'badge role';
  const quality = document.createElement('span');
  quality.className = 'badge quality';
  overlay.append(name, role, badge('mic-off', 'mic off'), badge('cam-off', 'camera off'), badge('deafened', 'deafened'), quality);
  const reactions = document.createElement('div');
  reactions.className = 'reactions-layer';
  reactions.setAttribute('aria-hidden', 'true');
  tile.append(video, avatar, level, reactions, overlay);
  if (!self && kind === 'camera') tile.append(volumeMenu(participantId, actions));
  return tile;
}

function badge(cls: string, text: string): HTMLSpanElement {
  const b = document.createElement('span');
  b.className = `badge muted ${cls}`;
  b.textContent = text;
  b.hidden = true;
  return b;
}

/** A "⋮" button opening the participant's volume (0-100 %), keyboard operable, closed by Escape. */
function volumeMenu(participantId: string, actions: TileActions): HTMLDivElement {
  const wrap = document.createElement('div');
  wrap.className = 'tile-menu';
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'tile-menu-button';
  button.textContent = '⋮';
  button.setAttribute('aria-expanded', 'false');
  const menu = document.createElement('div');
  menu.className = 'tile-menu-body';
  menu.id = `menu-${participantId}`;
  menu.hidden = true;
  button.setAttribute('aria-controls', menu.id);
  const label = document.createElement('label');
  const caption = document.createElement('span');
  const slider = document.createElement('input');
  slider.type = 'range';
  slider.min = '0';
  slider.max = '100';
  slider.step = '5';
  slider.className = 'volume';
  const value = document.createElement('output');
  label.append(caption, slider, value);
  menu.append(label);
  const open = (on: boolean): void => {
    menu.hidden = !on;
    button.setAttribute('aria-expanded', String(on));
    if (on) {
      slider.value = String(actions.volumeOf(participantId));
      value.textContent = `${slider.value} %`;
      slider.focus();
    }
  };
  button.addEventListener('click', () => open(menu.hidden));
  slider.addEventListener('input', () => {
    actions.setVolume(participantId, Number(slider.value));
    value.textContent = `${slider.value} %`;
  });
  menu.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Escape') return;
    open(false);
    button.focus();
  });
  wrap.append(button, menu);
  return wrap;
}

/** Name, role, badges and the accessible names that carry the name. */
export function renderTileInfo(tile: HTMLElement, p: ParticipantInfo, self: boolean): void {
  const label = `${p.display_name}${self ? ' (you)' : ''}`;
  const screen = tile.dataset['kind'] === 'screen';
  part(tile, '.name').textContent = screen ? `${label}: screen` : label;
  tile.setAttribute('aria-label', screen ? `${p.display_name}'s screen` : p.display_name);
  part(tile, '.avatar').textContent = p.display_name.slice(0, 1).toUpperCase();
  const role = part<HTMLElement>(tile, '.role');
  role.textContent = p.role;
  role.dataset['role'] = p.role;
  role.hidden = screen;
  part<HTMLElement>(tile, '.mic-off').hidden = screen || !p.audio_muted;
  part<HTMLElement>(tile, '.cam-off').hidden = screen || !p.video_muted || p.role === 'viewer';
  part<HTMLElement>(tile, '.deafened').hidden = screen || !p.deafened;
  const menuButton = tile.querySelector<HTMLButtonElement>('.tile-menu-button');
  if (menuButton) menuButton.setAttribute('aria-label', `Options for ${p.display_name}`);
  const caption = tile.querySelector('.tile-menu-body label span');
  if (caption) caption.textContent = `Volume of ${p.display_name}`;
  tile.querySelector('.tile-menu-body .volume')?.setAttribute('aria-label', `Volume of ${p.display_name}`);
}

export function setTileVideo(tile: HTMLElement, track: MediaStreamTrack | null): void {
  const video = part<HTMLVideoElement>(tile, 'video');
  video.srcObject = track ? new MediaStream([track]) : null;
  tile.classList.toggle('no-video', !track);
  if (track) video.play().catch(() => {}); // autoplay refused: the tile shows the paused frame until a click
}

export function setTileQuality(tile: HTMLElement, quality: Quality, score: number): void {
  const b = part<HTMLElement>(tile, '.quality');
  b.textContent = quality;
  b.title = `score ${score}/10`;
  b.className = `badge quality q-${quality}`;
}

/** The speaking bar: -60..0 dBov as 0..100 %, or none. */
export function setTileLevel(tile: HTMLElement, volume: number | null): void {
  const bar = part<HTMLDivElement>(tile, '.level div');
  bar.style.width = volume === null ? '0' : `${Math.max(0, Math.min(100, ((volume + 60) / 60) * 100))}%`;
  tile.classList.toggle('speaking', volume !== null);
}
