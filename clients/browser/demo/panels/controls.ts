// Small DOM helpers the room-control panels share: buttons that report
// failures, panels that appear only for some roles, and the room's settings
// as the client last heard them.

import type { RoomSettings, SwitchboardClient } from '../../sdk/index.js';
import type { AppContext } from '../shell.js';
import './controls.css';

/** A button; its action's failure is shown to the user (the server checks every request). */
export function actionButton(
  ctx: AppContext,
  label: string,
  action: () => Promise<unknown>,
  opts: { ariaLabel?: string; className?: string } = {},
): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  if (opts.ariaLabel) b.setAttribute('aria-label', opts.ariaLabel);
  if (opts.className) b.className = opts.className;
  b.addEventListener('click', () => void run(ctx, b, action));
  return b;
}

/**
 * Runs a request for a control, its error shown. The control is busy meanwhile
 * (aria-disabled, a second press ignored) but keeps the keyboard focus, which a
 * disabled button would lose.
 */
export async function run(ctx: AppContext, control: HTMLButtonElement | null, action: () => Promise<unknown>): Promise<void> {
  if (control?.getAttribute('aria-disabled') === 'true') return;
  control?.setAttribute('aria-disabled', 'true');
  try {
    await action();
    ctx.showError(null);
  } catch (err) {
    ctx.showError(String((err as Error).message ?? err));
  } finally {
    control?.removeAttribute('aria-disabled');
  }
}

export function element<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

/**
 * A side-bar tab only some roles get: created the first time `wanted` holds
 * (roles are known once joined), hidden while it does not (a role change).
 */
export function rolePanel(ctx: AppContext, id: string, title: string, build: (body: HTMLElement) => void): (wanted: boolean) => void {
  let body: HTMLElement | null = null;
  return (wanted) => {
    if (body && !body.isConnected) body = null; // the shell was reset (the client left)
    if (!body) {
      if (!wanted) return;
      body = ctx.addPanel(id, title);
      build(body);
    }
    const tab = document.getElementById(`tab-${id}`);
    if (tab) tab.hidden = !wanted;
    if (!wanted) body.hidden = true;
  };
}

/** The room's settings: from the join's room state, then every `room-updated`. */
export function followSettings(client: SwitchboardClient, changed: (settings: RoomSettings | null) => void): () => RoomSettings | null {
  let settings: RoomSettings | null = null;
  client.on('room-joined', ({ roomState }) => {
    settings = roomState.settings ?? null;
    changed(settings);
  });
  client.on('room-updated', (u) => {
    settings = u.settings;
    changed(settings);
  });
  return () => settings;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function formatDuration(seconds: number | null): string {
  if (seconds === null) return '–';
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/**
 * Rebuilds a list without losing the keyboard user's place: the focused
 * control (known by its row's data-key and its accessible name) gets the focus
 * back in the new rows.
 */
export function keepingFocus(container: HTMLElement, rebuild: () => void): void {
  const active = document.activeElement;
  const key = active instanceof HTMLElement && container.contains(active) ? focusKey(active) : null;
  rebuild();
  if (key === null) return;
  const controls = [...container.querySelectorAll<HTMLElement>('button, select, input, a')];
  // The same control, else (it went away: "Mute mic" once muted) the first one left in its row.
  const row = key.slice(0, key.indexOf('\n'));
  const same =
    controls.find((c) => focusKey(c) === key) ?? controls.find((c) => c.closest<HTMLElement>('[data-key]')?.dataset['key'] === row);
  same?.focus();
}

function focusKey(control: HTMLElement): string {
  const row = control.closest<HTMLElement>('[data-key]')?.dataset['key'] ?? '';
  return `${row}\n${control.tagName}\n${control.getAttribute('aria-label') ?? control.textContent ?? ''}`;
}
