// Small DOM helpers the room-control panels share: buttons that report
// failures, panels that appear only for some roles, and the room's settings
// as the client last heard them.

import type { RoomSettings, SwitchboardClient } from '../../sdk/index.js';
import type { AppContext } from '../shell.js';

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

/** Runs a request for a control: disabled meanwhile, its error shown. */
export async function run(ctx: AppContext, control: HTMLButtonElement | null, action: () => Promise<unknown>): Promise<void> {
  if (control) control.disabled = true;
  try {
    await action();
    ctx.showError(null);
  } catch (err) {
    ctx.showError(String((err as Error).message ?? err));
  } finally {
    if (control) control.disabled = false;
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
