// The lobby (waiting room). A guest joining a room whose lobby is on waits
// until a host or moderator decides: join() stays pending, the server sends
// `lobby-waiting`, and this module shows a waiting screen with a Leave button
// (client.leave() gives up the wait). Admitted: join() resolves and the call
// shows. Declined: join() rejects with `lobby_denied` and the join form says
// why. Hosts and moderators get a "Lobby" tab (with a count) listing who waits,
// with Admit and Deny, a banner when someone arrives, and hosts a switch that
// turns the waiting room on or off.

import type { LobbyEntry } from '../../sdk/index.js';
import type { AppContext } from '../shell.js';
import { actionButton, element, followSettings, keepingFocus, rolePanel, run } from './controls.js';
import './lobby.css';

export function mountLobby(ctx: AppContext): void {
  const { client } = ctx;
  let waiting: LobbyEntry[] = [];

  // ---- the guest's waiting screen ----
  let screen: HTMLDialogElement | null = null;

  function showWaiting(room: string): void {
    screen?.remove();
    const dialog = element('dialog', 'lobby-wait');
    dialog.id = 'lobby-wait';
    dialog.setAttribute('aria-labelledby', 'lobby-wait-title');
    const title = element('h2', undefined, 'Waiting to be let in');
    title.id = 'lobby-wait-title';
    const spinner = element('div', 'lobby-spinner');
    spinner.setAttribute('aria-hidden', 'true');
    const text = element('p', undefined, `Waiting for a moderator to let you in to ${room}.`);
    text.setAttribute('role', 'status');
    const leave = actionButton(ctx, 'Leave', () => client.leave(), { className: 'danger' });
    dialog.append(spinner, title, text, leave);
    dialog.addEventListener('cancel', (ev) => ev.preventDefault()); // Escape does not hide a wait that goes on
    document.body.append(dialog);
    dialog.showModal();
    screen = dialog;
  }

  function hideWaiting(): void {
    screen?.close();
    screen?.remove();
    screen = null;
  }

  client.on('lobby-waiting', ({ room }) => {
    ctx.logEvent('waiting in the lobby for a moderator to let you in');
    showWaiting(room);
  });
  client.on('room-joined', () => hideWaiting());
  client.on('connection-state', ({ state }) => {
    if (state === 'closed') hideWaiting(); // declined, gave up, or the connection ended: the join form says why
  });

  // ---- staff: who waits ----
  let list: HTMLUListElement | null = null;
  let empty: HTMLParagraphElement | null = null;
  let lobbySwitch: HTMLInputElement | null = null;
  const banner = ctx.addStatus('lobby-status');
  banner.classList.add('lobby-banner');

  const panel = rolePanel(ctx, 'lobby', 'Lobby', (body) => {
    const label = element('label', 'lobby-switch');
    lobbySwitch = element('input');
    lobbySwitch.type = 'checkbox';
    lobbySwitch.addEventListener('change', () => {
      const on = lobbySwitch?.checked ?? false;
      void run(ctx, null, () => client.updateRoom({ lobby: on }));
    });
    label.append(lobbySwitch, document.createTextNode(' Waiting room: guests wait here until let in'));
    empty = element('p', 'hint', 'Nobody is waiting.');
    list = element('ul', 'lobby-list');
    list.setAttribute('aria-label', 'Waiting to join');
    body.append(label, empty, list);
  });

  const settings = followSettings(client, () => render());

  function render(): void {
    const staff = ctx.isStaff();
    panel(staff);
    const tab = document.getElementById('tab-lobby');
    if (tab) {
      tab.textContent = waiting.length > 0 ? `Lobby (${waiting.length})` : 'Lobby';
      tab.setAttribute('aria-label', `Lobby, ${waiting.length} waiting`);
    }
    banner.hidden = !staff || waiting.length === 0;
    banner.replaceChildren();
    if (staff && waiting.length > 0) {
      const who = waiting.length === 1 ? `${waiting[0].display_name} is` : `${waiting.length} people are`;
      const show = element('button', 'quiet', 'Show');
      show.type = 'button';
      show.setAttribute('aria-label', 'Show the lobby');
      show.addEventListener('click', () => {
        const t = document.getElementById('tab-lobby');
        if (t?.getAttribute('aria-selected') !== 'true') t?.click();
      });
      banner.append(document.createTextNode(`${who} waiting in the lobby `), show);
    }
    if (lobbySwitch) {
      lobbySwitch.checked = settings()?.lobby ?? false;
      lobbySwitch.closest('label')?.toggleAttribute('hidden', ctx.role() !== 'host'); // update-room: hosts only
    }
    if (!list || !empty) return;
    empty.hidden = waiting.length > 0;
    const ul = list;
    keepingFocus(ul, () =>
      ul.replaceChildren(
        ...waiting.map((w) => {
          const li = element('li');
          li.dataset['key'] = w.user_id;
          const since = new Date(w.waiting_since);
          li.append(
            element('span', 'lobby-name', w.display_name || w.user_id),
            element('span', 'lobby-since', `since ${since.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}`),
            actionButton(ctx, 'Admit', () => client.admit(w.user_id), { ariaLabel: `Admit ${w.display_name}` }),
            actionButton(ctx, 'Deny', () => client.deny(w.user_id), { ariaLabel: `Deny ${w.display_name}`, className: 'danger' }),
          );
          return li;
        }),
      ),
    );
  }

  client.on('room-joined', () => render()); // staff get lobby-updated right after joining when someone waits
  client.on('room-left', () => {
    waiting = [];
  });
  client.on('lobby-updated', (u) => {
    const before = new Set(waiting.map((w) => w.user_id));
    waiting = u.waiting;
    for (const w of waiting) if (!before.has(w.user_id)) ctx.logEvent(`${w.display_name} is waiting in the lobby`);
    render();
  });
  client.on('role-changed', ({ participant_id }) => {
    if (participant_id === client.participantId) render();
  });
}
