// The in-call shell that panels plug into: a side bar of tabbed panels
// (chat, people, whiteboard, ...), extra toolbar buttons and status banners
// over the stage. A panel module exports a mount function (see panels/index.ts)
// that gets an AppContext for one client; what it adds to the shell is removed
// when that client leaves (resetShell).

import type { Role, SwitchboardClient } from '../sdk/index.js';

export interface AppContext {
  readonly client: SwitchboardClient;
  /** The local participant's role now (it changes with role-changed). */
  role(): Role;
  /** Host, moderator or speaker: roles that send media. */
  mayPublish(): boolean;
  /** Host or moderator: roles that run the room. */
  isStaff(): boolean;
  /** A participant's display name (kept after they leave). */
  nameOf(participantId: string): string;
  showError(message: string | null): void;
  logEvent(text: string): void;
  /** A tab in the side bar; returns the panel's body to build into. */
  addPanel(id: string, title: string): HTMLElement;
  /** A button in the call's toolbar (before Leave). */
  addToolbarButton(id: string, label: string): HTMLButtonElement;
  /** A banner over the stage (for instance "Recording"); hidden until the panel shows it. */
  addStatus(id: string): HTMLElement;
}

/** A panel: builds its DOM through the context and follows the client's events. */
export type MountPanel = (ctx: AppContext) => void;

function el<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} missing from index.html`);
  return found as T;
}

/** Side bar, toolbar and status slots of index.html, shared by every mounted panel. */
export function shellSlots(): Pick<AppContext, 'addPanel' | 'addToolbarButton' | 'addStatus'> {
  const tabs = el<HTMLElement>('panel-tabs');
  const bodies = el<HTMLElement>('panel-bodies');
  const side = el<HTMLElement>('side');
  const toolbar = el<HTMLElement>('toolbar');
  const leave = el<HTMLButtonElement>('leave');
  const statuses = el<HTMLElement>('statuses');

  function select(id: string | null): void {
    for (const tab of tabs.querySelectorAll<HTMLButtonElement>('[role="tab"]')) {
      const on = tab.dataset['panel'] === id;
      tab.setAttribute('aria-selected', String(on));
      tab.tabIndex = on ? 0 : -1;
    }
    for (const body of bodies.querySelectorAll<HTMLElement>('[role="tabpanel"]')) body.hidden = body.dataset['panel'] !== id;
    side.dataset['open'] = String(id !== null);
  }

  return {
    addPanel(id, title) {
      const tab = document.createElement('button');
      tab.type = 'button';
      tab.id = `tab-${id}`;
      tab.setAttribute('role', 'tab');
      tab.setAttribute('aria-controls', `panel-${id}`);
      tab.dataset['panel'] = id;
      tab.textContent = title;
      tab.addEventListener('click', () => select(tab.getAttribute('aria-selected') === 'true' ? null : id));
      const body = document.createElement('section');
      body.id = `panel-${id}`;
      body.setAttribute('role', 'tabpanel');
      body.setAttribute('aria-labelledby', tab.id);
      body.dataset['panel'] = id;
      body.className = `panel panel-${id}`;
      body.hidden = true;
      tabs.append(tab);
      bodies.append(body);
      if (tabs.childElementCount === 1) select(null);
      return body;
    },
    addToolbarButton(id, label) {
      const button = document.createElement('button');
      button.type = 'button';
      button.id = id;
      button.textContent = label;
      button.dataset['extra'] = 'true';
      toolbar.insertBefore(button, leave);
      return button;
    },
    addStatus(id) {
      const status = document.createElement('div');
      status.id = id;
      status.className = 'status';
      status.setAttribute('role', 'status');
      status.hidden = true;
      statuses.append(status);
      return status;
    },
  };
}

/** Removes what panels added (the client they followed has left). */
export function resetShell(): void {
  el<HTMLElement>('panel-tabs').replaceChildren();
  el<HTMLElement>('panel-bodies').replaceChildren();
  el<HTMLElement>('statuses').replaceChildren();
  for (const extra of el<HTMLElement>('toolbar').querySelectorAll('[data-extra]')) extra.remove();
  el<HTMLElement>('side').dataset['open'] = 'false';
}
