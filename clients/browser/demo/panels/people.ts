// People: who is in the room (role, mic and camera, raised hand), the raise-hand
// queue, and for hosts and moderators the moderation controls: mute someone's
// mic or camera, change a role, remove someone (after a confirmation), mute
// everyone, lock the room. Everyone but hosts gets "Raise hand" in the toolbar.
// Only what the server would allow the local role is offered (see
// server/domain/rooms/permissions.ts); the server still checks each request.

import type { ParticipantInfo, RaisedHand, Role, RoomSettings, Source } from '../../sdk/index.js';
import type { AppContext } from '../shell.js';
import { actionButton, element, followSettings, keepingFocus, run } from './controls.js';
import './people.css';

const ROLE_LABEL: Record<Role, string> = { host: 'Host', moderator: 'Moderator', speaker: 'Speaker', viewer: 'Viewer' };
const STAFF: readonly Role[] = ['host', 'moderator'];

/** Moderators act on speakers and viewers; hosts on anyone. */
function mayActOn(actor: Role, target: Role): boolean {
  return actor === 'host' || (actor === 'moderator' && !STAFF.includes(target));
}

/** The roles the local role may give this participant (hosts: any; moderators: viewer <-> speaker). */
function rolesOffered(actor: Role, target: Role): Role[] {
  if (actor === 'host') return ['host', 'moderator', 'speaker', 'viewer'];
  if (actor === 'moderator' && !STAFF.includes(target)) return ['speaker', 'viewer'];
  return [];
}

export function mountPeople(ctx: AppContext): void {
  const { client } = ctx;
  let hands: RaisedHand[] = [];
  /** The participant whose removal waits for a confirmation (and whether to move the focus there). */
  let confirming: string | null = null;
  let focusConfirm = false;

  const body = ctx.addPanel('people', 'People');
  const heading = element('h2', 'people-count');
  const staffBar = element('div', 'people-staff');
  staffBar.setAttribute('role', 'group');
  staffBar.setAttribute('aria-label', 'Room controls');
  const muteAll = actionButton(ctx, 'Mute all', () => client.muteAll('audio'), { ariaLabel: 'Mute everyone’s microphone' });
  const lock = actionButton(ctx, 'Lock room', () => client.lockRoom(!(settings()?.locked ?? false)));
  staffBar.append(muteAll, lock);
  const handsBox = element('section', 'people-hands');
  handsBox.setAttribute('aria-labelledby', 'hands-title');
  const handsTitle = element('h3', undefined, 'Raised hands');
  handsTitle.id = 'hands-title';
  const handList = element('ol');
  handList.setAttribute('aria-label', 'Raised hands');
  handsBox.append(handsTitle, handList);
  const list = element('ul', 'people-list');
  list.setAttribute('aria-label', 'Participants');
  body.append(heading, staffBar, handsBox, list);

  const handButton = ctx.addToolbarButton('raise-hand', 'Raise hand');
  handButton.setAttribute('aria-pressed', 'false');
  handButton.hidden = true;
  handButton.addEventListener('click', () => {
    const raised = handRaised();
    void run(ctx, handButton, () => (raised ? client.lowerHand() : client.raiseHand()));
  });

  const settings = followSettings(client, () => render());

  function handRaised(): boolean {
    return hands.some((h) => h.user_id === client.identity?.user_id);
  }

  function render(): void {
    if (!client.room) return;
    const me = ctx.role();
    const staff = ctx.isStaff();
    const s: RoomSettings | null = settings();
    const people = [...client.participants.values()];
    heading.textContent = `${people.length} in the room${s?.locked ? ' · locked' : ''}`;
    const tab = document.getElementById('tab-people');
    if (tab) tab.textContent = `People (${people.length})`;
    staffBar.hidden = !staff;
    lock.textContent = s?.locked ? 'Unlock room' : 'Lock room';
    lock.setAttribute('aria-pressed', String(s?.locked ?? false));
    // Hosts may not raise a hand; viewers may not in a broadcast.
    handButton.hidden = me === 'host' || (me === 'viewer' && s?.type === 'broadcast');
    const raised = handRaised();
    handButton.textContent = raised ? 'Lower hand' : 'Raise hand';
    handButton.setAttribute('aria-pressed', String(raised));
    handButton.classList.toggle('off', raised);
    keepingFocus(handsBox, () => renderHands(staff));
    const raisedBy = new Set(hands.map((h) => h.participant_id));
    // Staff first, then by name.
    const order = (p: ParticipantInfo) => ['host', 'moderator', 'speaker', 'viewer'].indexOf(p.role);
    people.sort((a, b) => order(a) - order(b) || a.display_name.localeCompare(b.display_name));
    keepingFocus(list, () => list.replaceChildren(...people.map((p) => row(p, me, raisedBy.has(p.participant_id)))));
  }

  function renderHands(staff: boolean): void {
    handsBox.hidden = hands.length === 0;
    handList.replaceChildren(
      ...hands.map((h) => {
        const li = element('li');
        li.dataset['key'] = h.user_id;
        const name = h.display_name || h.user_id;
        li.append(element('span', 'hand-name', name));
        if (staff) {
          li.append(
            actionButton(ctx, 'Let speak', () => client.acknowledgeHand({ userId: h.user_id, promote: true }), {
              ariaLabel: `Let ${name} speak`,
            }),
            actionButton(ctx, 'Lower', () => client.lowerHand(h.user_id), { ariaLabel: `Lower ${name}’s hand`, className: 'quiet' }),
          );
        }
        return li;
      }),
    );
  }

  /** Whether a participant publishes a source now (this client: its local tracks). */
  function publishes(participantId: string, source: Source): boolean {
    if (participantId === client.participantId) return client.localTracks.has(source);
    for (const producer of client.producers.values())
      if (producer.participant_id === participantId && producer.source === source) return true;
    return false;
  }

  function deviceState(device: 'mic' | 'camera', on: boolean, muted: boolean): HTMLSpanElement {
    const text = !on ? `no ${device}` : muted ? `${device} off` : `${device} on`;
    const span = element('span', !on ? 'none' : muted ? 'off' : 'on', text);
    span.dataset['state'] = device;
    return span;
  }

  function row(p: ParticipantInfo, me: Role, handUp: boolean): HTMLLIElement {
    const self = p.participant_id === client.participantId;
    const li = element('li', 'person');
    li.dataset['participant'] = p.participant_id;
    li.dataset['key'] = p.participant_id;
    const name = element('span', 'person-name', `${p.display_name}${self ? ' (you)' : ''}`);
    const role = element('span', `person-role role-${p.role}`, ROLE_LABEL[p.role]);
    const state = element('span', 'person-state');
    const hasMic = publishes(p.participant_id, 'mic');
    const hasCamera = publishes(p.participant_id, 'camera');
    state.append(deviceState('mic', hasMic, p.audio_muted), deviceState('camera', hasCamera, p.video_muted));
    if (publishes(p.participant_id, 'screen')) state.append(element('span', 'on', 'sharing screen'));
    if (handUp) state.append(element('span', 'hand', 'hand raised'));
    li.append(name, role, state);
    if (self || !mayActOn(me, p.role)) return li;

    const actions = element('div', 'person-actions');
    actions.setAttribute('role', 'group');
    actions.setAttribute('aria-label', `Moderate ${p.display_name}`);
    if (confirming === p.participant_id) {
      const ask = element('span', 'confirm', `Remove ${p.display_name} from the room?`);
      const yes = actionButton(
        ctx,
        'Remove',
        async () => {
          confirming = null;
          await client.kick(p.participant_id, 'removed by a moderator');
        },
        { ariaLabel: `Confirm removing ${p.display_name}`, className: 'danger' },
      );
      const no = element('button', 'quiet', 'Cancel');
      no.type = 'button';
      no.addEventListener('click', () => {
        confirming = null;
        render();
      });
      actions.append(ask, yes, no);
      li.append(actions);
      if (focusConfirm) {
        focusConfirm = false;
        queueMicrotask(() => yes.focus());
      }
      return li;
    }
    if (hasMic && !p.audio_muted) {
      actions.append(
        actionButton(ctx, 'Mute mic', () => client.muteParticipant(p.participant_id, 'audio'), {
          ariaLabel: `Mute ${p.display_name}’s microphone`,
        }),
      );
    }
    if (hasCamera && !p.video_muted) {
      actions.append(
        actionButton(ctx, 'Stop camera', () => client.muteParticipant(p.participant_id, 'video'), {
          ariaLabel: `Stop ${p.display_name}’s camera`,
        }),
      );
    }
    const roles = rolesOffered(me, p.role);
    if (roles.length > 0) {
      const select = element('select');
      select.setAttribute('aria-label', `Role of ${p.display_name}`);
      for (const r of roles) {
        const option = element('option', undefined, ROLE_LABEL[r]);
        option.value = r;
        option.selected = r === p.role;
        select.append(option);
      }
      select.addEventListener('change', () => {
        const next = select.value as Role;
        void run(ctx, null, async () => {
          try {
            await client.setRole(p.participant_id, next);
          } finally {
            render(); // back to the actual role if refused
          }
        });
      });
      actions.append(select);
    }
    const remove = element('button', 'danger', 'Remove');
    remove.type = 'button';
    remove.setAttribute('aria-label', `Remove ${p.display_name} from the room`);
    remove.addEventListener('click', () => {
      confirming = p.participant_id;
      focusConfirm = true;
      render();
    });
    actions.append(remove);
    li.append(actions);
    return li;
  }

  client.on('room-joined', ({ roomState }) => {
    hands = roomState.hands ?? [];
    confirming = null;
    render();
  });
  client.on('hand-queue', (q) => {
    hands = q.hands;
    render();
  });
  // Taken from the queue: say so for a while (the role may change too: a viewer becomes a speaker).
  const floor = ctx.addStatus('hand-status');
  floor.classList.add('hand-banner');
  let floorTimer: ReturnType<typeof setTimeout> | undefined;
  client.on('hand-acknowledged', ({ participant_id, by }) => {
    if (participant_id !== client.participantId) return;
    floor.textContent = `${by ? ctx.nameOf(by) : 'A moderator'} lets you speak`;
    floor.hidden = false;
    ctx.logEvent(floor.textContent);
    clearTimeout(floorTimer);
    floorTimer = setTimeout(() => {
      floor.hidden = true;
    }, 8000);
  });
  client.on('participant-joined', () => render());
  client.on('participant-left', ({ participant_id }) => {
    if (confirming === participant_id) confirming = null;
    render();
  });
  client.on('participant-updated', () => render());
  client.on('role-changed', () => render());
  // What each one publishes (mic, camera, screen) shows in the list.
  client.on('producer-added', () => render());
  client.on('producer-removed', () => render());
  client.on('local-track-added', () => render());
  client.on('local-track-removed', () => render());
}
