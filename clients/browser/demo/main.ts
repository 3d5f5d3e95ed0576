// The demo app: join a room with a token, publish camera and mic, see and
// hear everyone else. No framework: the DOM is updated from SDK events.
// Query parameters prefill the form: ?server=ws://...&token=...&room=...&name=...
// On a development server (POST /dev/token answers) the form asks only for a
// name, a room and a role and gets the token itself; elsewhere it keeps the
// token field. Room links: /r/<room> prefills the room; /r/<room>#token=...
// (or ?token=) joins at once, publishing only when the token's role may.

import { SwitchboardClient, type Role } from '../sdk/index.js';
import { attachPhone } from './phone.js';
import { PANELS } from './panels/index.js';
import { resetShell, shellSlots, type AppContext } from './shell.js';
import { Stage } from './stage.js';
import './demo.css';

function el<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} missing from index.html`);
  return found as T;
}

const form = el<HTMLFormElement>('join-form');
const serverInput = el<HTMLInputElement>('server-url');
const tokenInput = el<HTMLTextAreaElement>('token');
const roomInput = el<HTMLInputElement>('room');
const nameInput = el<HTMLInputElement>('display-name');
const videoCheck = el<HTMLInputElement>('opt-video');
const audioCheck = el<HTMLInputElement>('opt-audio');
const joinButton = el<HTMLButtonElement>('join');
const roleSelect = el<HTMLSelectElement>('role');
const call = el<HTMLElement>('call');
const audioButton = el<HTMLButtonElement>('toggle-audio');
const videoButton = el<HTMLButtonElement>('toggle-video');
const screenButton = el<HTMLButtonElement>('toggle-screen');
const leaveButton = el<HTMLButtonElement>('leave');
const connection = el<HTMLSpanElement>('connection');
const roomName = el<HTMLSpanElement>('room-name');
const errorBox = el<HTMLParagraphElement>('error');
const log = el<HTMLOListElement>('log');

let client: SwitchboardClient | null = null;
/** The tiles, their layout and the stage's controls (stage.ts). */
const stage = new Stage({ nameOf, logEvent, showError, updateButtons });
/** Online for calls (connected, rooms entered by calls) rather than joined to the form's room. */
let online = false;

// ---- form -------------------------------------------------------------------

const params = new URLSearchParams(location.search);
const hashParams = new URLSearchParams(location.hash.slice(1));
/** /r/<room>: a room's link (the server serves this page there). */
const linkRoom = roomFromPath(location.pathname);
const linkToken = linkRoom === null ? null : (hashParams.get('token') ?? params.get('token'));
const defaultServer = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
serverInput.value = params.get('server') ?? localStorage.getItem('switchboard.server') ?? defaultServer;
tokenInput.value = linkToken ?? params.get('token') ?? '';
roomInput.value = linkRoom ?? params.get('room') ?? localStorage.getItem('switchboard.room') ?? 'demo';
// A link with a token joins under the token's name (unless ?name= says otherwise), not the last one typed here.
nameInput.value = params.get('name') ?? (linkToken ? '' : (localStorage.getItem('switchboard.name') ?? ''));
const savedRole = localStorage.getItem('switchboard.role');
if (savedRole && [...roleSelect.options].some((o) => o.value === savedRole)) roleSelect.value = savedRole;

function roomFromPath(pathname: string): string | null {
  const match = /^\/r\/([^/]+)\/?$/.exec(pathname);
  if (!match) return null;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return null;
  }
}

/** Roles that send media (a viewer only watches and listens). */
function mayPublish(role: Role): boolean {
  return role === 'host' || role === 'moderator' || role === 'speaker';
}

// ---- development tokens ------------------------------------------------------

/** True once POST /dev/token answered: the form mints its own tokens. */
let devTokens = false;

/** Asks the server whether it hands out development tokens: an empty body is 400 there, 404 elsewhere. */
async function probeDevTokens(): Promise<void> {
  let status = 0;
  try {
    const res = await fetch('/dev/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    status = res.status;
  } catch {
    // no server answer: keep the token field
  }
  devTokens = status === 400;
  form.dataset['mode'] = devTokens ? 'dev' : 'token';
  el<HTMLElement>('dev-hint').hidden = !devTokens;
  el<HTMLElement>('token-help').hidden = devTokens;
  el<HTMLElement>('token-field').hidden = devTokens;
  el<HTMLElement>('server-field').hidden = devTokens;
  el<HTMLElement>('role-field').hidden = !devTokens;
  tokenInput.required = !devTokens;
  nameInput.required = devTokens;
  nameInput.placeholder = devTokens ? 'Your name' : 'from the token';
  if (devTokens) serverInput.value = params.get('server') ?? defaultServer; // the token comes from this server
}

/** A development token for the form's name, room and role. */
async function devToken(): Promise<string> {
  const res = await fetch('/dev/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: nameInput.value.trim(), room: roomInput.value.trim(), role: roleSelect.value }),
  });
  const body = (await res.json().catch(() => ({}))) as { token?: string; error?: { message?: string } };
  if (res.status !== 201 || typeof body.token !== 'string')
    throw new Error(body.error?.message ?? `POST /dev/token answered ${res.status}`);
  return body.token;
}

/** The token to connect with: the form's, or on a development server a fresh one. */
async function formToken(): Promise<string> {
  if (devTokens && !tokenInput.value.trim()) {
    localStorage.setItem('switchboard.role', roleSelect.value);
    return devToken();
  }
  return tokenInput.value.trim();
}

form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  void join();
});

el<HTMLButtonElement>('go-online').addEventListener('click', () => void goOnline());

/** Connects without joining: this user can now call and be called (see phone.ts). */
async function goOnline(): Promise<void> {
  showError(null);
  if (!form.reportValidity()) return;
  joinButton.disabled = true;
  const server = serverInput.value.trim();
  localStorage.setItem('switchboard.server', server);
  const c = new SwitchboardClient();
  client = c;
  online = true;
  wire(c);
  mountPanels(c);
  try {
    await c.connect(server, await formToken());
  } catch (err) {
    showError(`Could not connect: ${String((err as Error).message ?? err)}`);
    client = null;
    online = false;
    joinButton.disabled = false;
    return;
  }
  form.hidden = true;
  attachPhone(c, {
    showError,
    logEvent,
    showSelf: (track) => {
      if (c.participantId) stage.setVideo(stage.tileFor(c.participantId), track);
    },
  });
}

async function join(): Promise<void> {
  showError(null);
  joinButton.disabled = true;
  const server = serverInput.value.trim();
  const room = roomInput.value.trim();
  const name = nameInput.value.trim();
  localStorage.setItem('switchboard.server', server);
  localStorage.setItem('switchboard.room', room);
  localStorage.setItem('switchboard.name', name);
  const c = new SwitchboardClient();
  client = c;
  wire(c);
  mountPanels(c);
  try {
    await c.connect(server, await formToken(), { room }); // ?room=: a multi-process node routes to the room's process
    await c.join(room, name ? { displayName: name } : {});
  } catch (err) {
    showError(`Could not join: ${String((err as Error).message ?? err)}`);
    c.signaling.close();
    client = null;
    resetShell();
    joinButton.disabled = false;
    return;
  }
  form.hidden = true;
  call.hidden = false;
  roomName.textContent = `room ${room}`;
  // A viewer joins without publishing: no devices are asked for.
  if (mayPublish(myRole()) && (videoCheck.checked || audioCheck.checked)) {
    try {
      await c.publish({ audio: audioCheck.checked, video: videoCheck.checked });
    } catch (err) {
      showError(`Could not publish: ${String((err as Error).message ?? err)}`);
    }
  }
  updateButtons();
}

audioButton.addEventListener('click', () => void toggleMute('audio'));
videoButton.addEventListener('click', () => void toggleMute('video'));
screenButton.addEventListener('click', () => void toggleScreen());
leaveButton.addEventListener('click', () => {
  if (online && client?.activeCall) void client.activeCall.hangup();
  else void leave();
});

function myRole(): Role {
  const me = client?.participantId ? client.participants.get(client.participantId) : undefined;
  return me?.role ?? client?.identity?.role ?? 'viewer';
}

async function toggleMute(track: 'audio' | 'video'): Promise<void> {
  if (!client) return;
  const done = client.muted[track] ? client.unmute(track) : client.mute(track);
  updateButtons(); // the SDK flips its state at once; the server's ack follows
  try {
    await done;
  } catch (err) {
    showError(String((err as Error).message ?? err));
  }
  updateButtons();
}

async function toggleScreen(): Promise<void> {
  if (!client) return;
  try {
    if (client.localTracks.has('screen')) {
      await client.unpublish('screen');
      await client.unpublish('screen-audio');
    } else {
      await client.publish({ screen: true });
    }
  } catch (err) {
    showError(`Screen sharing: ${String((err as Error).message ?? err)}`);
  }
  updateButtons();
}

async function leave(): Promise<void> {
  const c = client;
  client = null;
  if (c) await c.disconnect();
  online = false;
  stage.clear();
  resetShell();
  call.hidden = true;
  form.hidden = false;
  joinButton.disabled = false;
  roomName.textContent = '';
}

function updateButtons(): void {
  const c = client;
  if (!c) return;
  const sends = mayPublish(myRole());
  audioButton.hidden = !sends;
  videoButton.hidden = !sends;
  screenButton.hidden = !sends;
  audioButton.textContent = c.muted.audio ? 'Unmute mic' : 'Mute mic';
  audioButton.classList.toggle('off', c.muted.audio);
  videoButton.textContent = c.muted.video ? 'Start camera' : 'Stop camera';
  videoButton.classList.toggle('off', c.muted.video);
  const sharing = c.localTracks.has('screen');
  screenButton.textContent = sharing ? 'Stop sharing' : 'Share screen';
  screenButton.classList.toggle('off', sharing);
}

// ---- panels -----------------------------------------------------------------

/** Mounts every panel (panels/index.ts) for this client, in place of the last client's. */
function mountPanels(c: SwitchboardClient): void {
  resetShell();
  const ctx: AppContext = {
    client: c,
    role: myRole,
    mayPublish: () => mayPublish(myRole()),
    isStaff: () => myRole() === 'host' || myRole() === 'moderator',
    nameOf,
    showError,
    logEvent,
    ...shellSlots(),
  };
  for (const mount of PANELS) mount(ctx);
}

// ---- SDK events -> DOM ------------------------------------------------------

function wire(c: SwitchboardClient): void {
  c.on('connection-state', ({ state, attempt, code }) => {
    connection.textContent = state + (attempt ? ` (attempt ${attempt})` : '');
    connection.className = `pill state-${state}`;
    logEvent(`connection ${state}${code ? ` (close ${code})` : ''}`);
  });
  c.on('room-joined', ({ participantId, roomState, rejoined }) => {
    logEvent(`${rejoined ? 'rejoined' : 'joined'} ${roomState.room} as ${participantId}`);
    for (const p of roomState.participants) names.set(p.participant_id, p.display_name);
    if (online) {
      call.hidden = false; // a call's room: the same stage
      roomName.textContent = '';
    }
  });
  c.on('room-left', ({ reason }) => {
    logEvent(`left the room (${reason})`);
    if (client === c && online) {
      call.hidden = true; // the call is over; still online for the next one
    } else if (client === c && reason !== 'left') {
      showError(`Removed from the room: ${reason}`);
      void leave();
    }
  });
  c.on('participant-joined', (p) => {
    names.set(p.participant_id, p.display_name);
    logEvent(`${p.display_name} joined`);
  });
  c.on('participant-left', ({ participant_id, reason }) => logEvent(`${nameOf(participant_id)} left (${reason})`));
  c.on('media-reset', ({ reason }) => logEvent(`media reset (${reason}): publishing and subscribing again`));
  c.on('transport-state', ({ direction, state }) => logEvent(`${direction} transport ${state}`));
  c.on('media-error', ({ action, error }) => logEvent(`error: ${action}: ${error.message}`));
  c.on('error', ({ code, message }) => logEvent(`server error ${code}: ${message}`));
  // Room control
  c.on('role-changed', ({ participant_id, role }) => {
    logEvent(`${nameOf(participant_id)} is now a ${role}`);
    if (participant_id === c.participantId) updateButtons();
    if (participant_id === c.participantId && role === 'speaker' && c.localTracks.size === 0) {
      void c.publish({ audio: true, video: true }).catch((err: Error) => showError(`Could not publish: ${err.message}`));
    }
  });
  c.on('participant-muted', ({ participant_id, track }) => {
    logEvent(`${nameOf(participant_id)}'s ${track} was muted by a moderator`);
    if (participant_id === c.participantId) updateButtons();
  });
  c.on('lobby-waiting', () => logEvent('waiting in the lobby for a moderator to let you in'));
  c.on('data', ({ from, topic, data }) => logEvent(`[${topic}] ${from ? nameOf(from) : 'server'}: ${JSON.stringify(data)}`));
  stage.attach(c);
}

/** Display names, kept after people leave (for the log). */
const names = new Map<string, string>();
function nameOf(participantId: string): string {
  return client?.participants.get(participantId)?.display_name ?? names.get(participantId) ?? participantId;
}

function showError(message: string | null): void {
  errorBox.hidden = !message;
  errorBox.textContent = message ?? '';
}

function logEvent(text: string): void {
  const item = document.createElement('li');
  item.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  log.prepend(item);
  while (log.childElementCount > 100) log.lastElementChild?.remove();
}

// ---- start -------------------------------------------------------------------

// A room link with a token joins at once; otherwise the form waits, told whether this server hands out tokens.
if (linkRoom !== null && linkToken) void join();
void probeDevTokens();

// For tests and the console: the live client.
(window as unknown as { switchboardDemo: { readonly client: SwitchboardClient | null } }).switchboardDemo = {
  get client() {
    return client;
  },
};
