// The demo app: join a room with a token, publish camera and mic, see and
// hear everyone else. No framework: the DOM is updated from SDK events.
// Query parameters prefill the form: ?server=ws://...&token=...&room=...&name=...
// On a development server (POST /dev/token answers) the form asks only for a
// name, a room and a role and gets the token itself; elsewhere it keeps the
// token field. Room links: /r/<room> prefills the room; /r/<room>#token=...
// (or ?token=) joins at once, publishing only when the token's role may.
// For a role that publishes the form shows a pre-join preview (prejoin.ts):
// camera, mic level, device pickers, "Join muted", "Join without camera".

import { SwitchboardClient, type LocalTrack, type ParticipantInfo, type Quality, type RemoteTrack, type Role } from '../sdk/index.js';
import { followAudioOutput } from './devices.js';
import { attachPhone } from './phone.js';
import { Prejoin, type PrejoinMedia } from './prejoin.js';
import { PANELS } from './panels/index.js';
import { resetShell, shellSlots, type AppContext } from './shell.js';
import './demo.css';

function el<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} missing from index.html`);
  return found as T;
}

/** The element a tile built by tileFor() always has; missing means the tile markup changed. */
function part<T extends Element>(tile: Element, selector: string): T {
  const found = tile.querySelector<T>(selector);
  if (!found) throw new Error(`tile has no ${selector}`);
  return found;
}

const form = el<HTMLFormElement>('join-form');
const serverInput = el<HTMLInputElement>('server-url');
const tokenInput = el<HTMLTextAreaElement>('token');
const roomInput = el<HTMLInputElement>('room');
const nameInput = el<HTMLInputElement>('display-name');
const joinButton = el<HTMLButtonElement>('join');
const roleSelect = el<HTMLSelectElement>('role');
const call = el<HTMLElement>('call');
const tiles = el<HTMLDivElement>('tiles');
const audioButton = el<HTMLButtonElement>('toggle-audio');
const videoButton = el<HTMLButtonElement>('toggle-video');
const screenButton = el<HTMLButtonElement>('toggle-screen');
const leaveButton = el<HTMLButtonElement>('leave');
const connection = el<HTMLSpanElement>('connection');
const roomName = el<HTMLSpanElement>('room-name');
const errorBox = el<HTMLParagraphElement>('error');
const log = el<HTMLOListElement>('log');
// Room control: raise hand, the hand queue (moderators take hands), mute all.
const handButton = el<HTMLButtonElement>('raise-hand');
const muteAllButton = el<HTMLButtonElement>('mute-all');
const handList = el<HTMLOListElement>('hands');

let client: SwitchboardClient | null = null;
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

// The pre-join preview, for the role the form joins with; remote sound on the chosen speaker.
const prejoin = new Prejoin(el<HTMLElement>('prejoin'), form);
followAudioOutput(tiles);
roleSelect.addEventListener('change', () => prejoin.setRole(formRole()));
tokenInput.addEventListener('input', () => prejoin.setRole(formRole()));

/** The role the form will join with: the role picked (development tokens), else the token's claim; null: not known yet. */
function formRole(): Role | null {
  const token = tokenInput.value.trim();
  if (devTokens && !token) return roleSelect.value as Role;
  return tokenRole(token);
}

/** The `role` claim of a JWT, read without verifying (the server checks the token; absent means speaker). */
function tokenRole(token: string): Role | null {
  const payload = token.split('.')[1];
  if (!payload) return null;
  try {
    const claims = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as { role?: unknown };
    const role = claims.role ?? 'speaker';
    return role === 'host' || role === 'moderator' || role === 'speaker' || role === 'viewer' ? role : null;
  } catch {
    return null;
  }
}

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

/** True once GET /dev/token said so: the form mints its own tokens (POST /dev/token). */
let devTokens = false;

/** Asks the server whether it hands out development tokens (GET /dev/token: { enabled }). */
async function probeDevTokens(): Promise<void> {
  let enabled = false;
  try {
    const res = await fetch('/dev/token');
    if (res.ok) enabled = ((await res.json()) as { enabled?: unknown }).enabled === true;
  } catch {
    // no server answer: keep the token field
  }
  devTokens = enabled;
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
  prejoin.setRole(formRole());
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
      if (c.participantId) setVideo(tileFor(c.participantId), track);
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
    await prepareDevices(c, prejoin.choice(), mayPublish(c.identity?.role ?? 'viewer'));
    await c.join(room, name ? { displayName: name } : {});
  } catch (err) {
    showError(`Could not join: ${String((err as Error).message ?? err)}`);
    c.signaling.close();
    client = null;
    resetShell();
    joinButton.disabled = false;
    return;
  }
  const media = await prejoin.handOver();
  form.hidden = true;
  call.hidden = false;
  roomName.textContent = `room ${room}`;
  // A viewer joins without publishing: no devices are asked for.
  if (mayPublish(myRole())) await publishChosen(c, media);
  else for (const track of [media.mic, media.camera]) track?.stop();
  updateButtons();
}

/**
 * Before join: the devices later captures use (a viewer promoted to speaker too;
 * nothing is captured here), and for a role that publishes the state to join in
 * (others see the mute badges at once).
 */
async function prepareDevices(c: SwitchboardClient, choice: Omit<PrejoinMedia, 'mic' | 'camera'>, publishes: boolean): Promise<void> {
  if (choice.micId) await c.switchDevice('audio', choice.micId);
  if (choice.cameraId) await c.switchDevice('video', choice.cameraId);
  if (!publishes) return;
  if (choice.joinMuted) await c.mute('audio');
  if (choice.withoutCamera) await c.mute('video');
}

/**
 * After join: publishes the preview's own tracks (the camera is not opened
 * again). What the user has not got (refused, no device) is muted, so the
 * others see it off and the Unmute / Start camera buttons try to capture it.
 * Without a preview (a room link that joined at once) it captures now.
 */
async function publishChosen(c: SwitchboardClient, media: PrejoinMedia): Promise<void> {
  const pending = [media.mic, media.camera];
  try {
    if (!media.previewed) {
      await c.publish({ audio: true, video: !media.withoutCamera });
      return;
    }
    if (media.mic) await c.publishTrack(media.mic, 'mic');
    pending.shift();
    if (media.camera) await c.publishTrack(media.camera, 'camera');
    pending.shift();
  } catch (err) {
    for (const track of pending) track?.stop();
    showError(`Could not publish: ${String((err as Error).message ?? err)}`);
  }
  for (const [track, source] of [
    ['audio', 'mic'],
    ['video', 'camera'],
  ] as const) {
    if (!c.localTracks.has(source) && !c.muted[track]) await c.mute(track).catch(() => {});
  }
}

audioButton.addEventListener('click', () => void toggleMute('audio'));
videoButton.addEventListener('click', () => void toggleMute('video'));
screenButton.addEventListener('click', () => void toggleScreen());
leaveButton.addEventListener('click', () => {
  if (online && client?.activeCall) void client.activeCall.hangup();
  else void leave();
});
handButton.addEventListener('click', () => void toggleHand());
muteAllButton.addEventListener('click', () => void client?.muteAll().catch((err: Error) => showError(err.message)));

let handRaised = false;

async function toggleHand(): Promise<void> {
  if (!client) return;
  try {
    if (handRaised) await client.lowerHand();
    else await client.raiseHand();
  } catch (err) {
    showError(String((err as Error).message ?? err));
  }
}

function myRole(): Role {
  const me = client?.participantId ? client.participants.get(client.participantId) : undefined;
  return me?.role ?? client?.identity?.role ?? 'viewer';
}

/** The queue, with "let speak" buttons for hosts and moderators. */
function renderHands(hands: Array<{ user_id: string; display_name: string }>): void {
  const staff = myRole() === 'host' || myRole() === 'moderator';
  handRaised = hands.some((h) => h.user_id === client?.identity?.user_id);
  handButton.textContent = handRaised ? 'Lower hand' : 'Raise hand';
  muteAllButton.hidden = !staff;
  handList.replaceChildren(
    ...hands.map((h) => {
      const li = document.createElement('li');
      li.textContent = `✋ ${h.display_name || h.user_id} `;
      if (staff) {
        const take = document.createElement('button');
        take.type = 'button';
        take.textContent = 'Let speak';
        take.addEventListener(
          'click',
          () => void client?.acknowledgeHand({ userId: h.user_id, promote: true }).catch((err: Error) => showError(err.message)),
        );
        li.append(take);
      }
      return li;
    }),
  );
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
  tiles.replaceChildren();
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
    if (online) {
      call.hidden = false; // a call's room: the same tiles
      roomName.textContent = '';
    }
    tiles.replaceChildren();
    for (const p of roomState.participants) renderParticipant(p);
    // After a rejoin the local tiles come back with local-track-added.
  });
  c.on('room-left', ({ reason }) => {
    logEvent(`left the room (${reason})`);
    if (client === c && online) {
      tiles.replaceChildren(); // the call is over; still online for the next one
      call.hidden = true;
    } else if (client === c && reason !== 'left') {
      showError(`Removed from the room: ${reason}`);
      void leave();
    }
  });
  c.on('participant-joined', (p) => {
    logEvent(`${p.display_name} joined`);
    renderParticipant(p);
  });
  c.on('participant-left', ({ participant_id, reason }) => {
    logEvent(`${nameOf(participant_id)} left (${reason})`);
    for (const t of tiles.querySelectorAll(`[data-participant="${CSS.escape(participant_id)}"]`)) t.remove();
  });
  c.on('participant-updated', (p) => renderParticipant(p));
  c.on('local-track-added', (local) => attachLocal(c, local));
  c.on('local-track-removed', (local) => detachLocal(c, local));
  c.on('track-added', (remote) => attachRemote(remote));
  c.on('track-removed', (remote) => detachRemote(remote));
  c.on('active-speaker', ({ participant_id }) => {
    for (const t of tiles.querySelectorAll('.tile'))
      t.classList.toggle('active-speaker', (t as HTMLElement).dataset['participant'] === participant_id);
  });
  c.on('audio-levels', ({ levels }) => showLevels(levels));
  c.on('connection-quality', ({ participant_id, quality, score }) => showQuality(participant_id, quality, score));
  c.on('media-reset', ({ reason }) => logEvent(`media reset (${reason}): publishing and subscribing again`));
  c.on('transport-state', ({ direction, state }) => logEvent(`${direction} transport ${state}`));
  c.on('media-error', ({ action, error }) => logEvent(`error: ${action}: ${error.message}`));
  c.on('error', ({ code, message }) => logEvent(`server error ${code}: ${message}`));
  // Room control
  c.on('room-joined', ({ roomState }) => renderHands(roomState.hands ?? []));
  c.on('hand-queue', ({ hands }) => renderHands(hands));
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
}

/** The camera tile of a participant (screen shares get their own tile). */
function tileFor(participantId: string, screen = false): HTMLDivElement {
  const selector = `.tile[data-participant="${CSS.escape(participantId)}"][data-kind="${screen ? 'screen' : 'camera'}"]`;
  let tile = tiles.querySelector<HTMLDivElement>(selector);
  if (tile) return tile;
  tile = document.createElement('div');
  tile.className = 'tile no-video';
  tile.dataset['participant'] = participantId;
  tile.dataset['kind'] = screen ? 'screen' : 'camera';
  const video = document.createElement('video');
  video.autoplay = true;
  video.playsInline = true;
  video.muted = true; // sound plays through separate <audio> elements
  const avatar = document.createElement('div');
  avatar.className = 'avatar';
  const level = document.createElement('div');
  level.className = 'level';
  level.append(document.createElement('div'));
  const overlay = document.createElement('div');
  overlay.className = 'overlay';
  const name = document.createElement('span');
  name.className = 'name';
  const mic = badge('mic-off', 'mic off');
  const cam = badge('cam-off', 'camera off');
  const quality = document.createElement('span');
  quality.className = 'badge quality';
  overlay.append(name, mic, cam, quality);
  tile.append(video, avatar, level, overlay);
  tiles.append(tile);
  const info = client?.participants.get(participantId);
  if (info) renderParticipant(info);
  return tile;
}

function badge(cls: string, text: string): HTMLSpanElement {
  const b = document.createElement('span');
  b.className = `badge muted ${cls}`;
  b.textContent = text;
  b.hidden = true;
  return b;
}

function renderParticipant(p: ParticipantInfo): void {
  names.set(p.participant_id, p.display_name);
  const self = p.participant_id === client?.participantId;
  const tile = tileFor(p.participant_id);
  const label = `${p.display_name}${self ? ' (you)' : ''}`;
  part(tile, '.name').textContent = label;
  part(tile, '.avatar').textContent = p.display_name.slice(0, 1).toUpperCase();
  part<HTMLElement>(tile, '.mic-off').hidden = !p.audio_muted;
  part<HTMLElement>(tile, '.cam-off').hidden = !p.video_muted;
  const screen = tiles.querySelector(`.tile[data-participant="${CSS.escape(p.participant_id)}"][data-kind="screen"] .name`);
  if (screen) screen.textContent = `${label}: screen`;
}

function setVideo(tile: HTMLDivElement, track: MediaStreamTrack | null): void {
  const video = part<HTMLVideoElement>(tile, 'video');
  video.srcObject = track ? new MediaStream([track]) : null;
  tile.classList.toggle('no-video', !track);
  if (track) video.play().catch(() => {}); // autoplay refused: the tile shows the paused frame until a click
}

function attachLocal(c: SwitchboardClient, local: LocalTrack): void {
  if (!c.participantId || local.kind !== 'video') return;
  const tile = tileFor(c.participantId, local.source === 'screen');
  tile.dataset['local'] = 'true';
  setVideo(tile, local.track);
  updateButtons();
}

function detachLocal(c: SwitchboardClient, local: LocalTrack): void {
  if (!c.participantId || local.kind !== 'video') return;
  const tile = tileFor(c.participantId, local.source === 'screen');
  if (local.source === 'screen') tile.remove();
  else setVideo(tile, null);
  updateButtons();
}

function attachRemote(remote: RemoteTrack): void {
  logEvent(`receiving ${remote.source} of ${nameOf(remote.participantId)}`);
  const tile = tileFor(remote.participantId, remote.source === 'screen');
  if (remote.kind === 'video') {
    setVideo(tile, remote.track);
    return;
  }
  const audio = document.createElement('audio');
  audio.autoplay = true;
  audio.dataset['producer'] = remote.producerId;
  audio.srcObject = new MediaStream([remote.track]);
  tile.append(audio);
  audio.play().catch(() => {}); // autoplay refused: audio starts on the next user gesture
}

function detachRemote(remote: RemoteTrack): void {
  const selector = `.tile[data-participant="${CSS.escape(remote.participantId)}"][data-kind="${remote.source === 'screen' ? 'screen' : 'camera'}"]`;
  const tile = tiles.querySelector<HTMLDivElement>(selector);
  if (!tile) return;
  if (remote.kind === 'audio') {
    tile.querySelector(`audio[data-producer="${CSS.escape(remote.producerId)}"]`)?.remove();
  } else if (remote.source === 'screen') {
    tile.remove();
  } else {
    setVideo(tile, null);
  }
}

// Speaking: audio-levels come every 500 ms while someone speaks ([] = silence).
const speakingTimers = new Map<string, ReturnType<typeof setTimeout>>();
function showLevels(levels: Array<{ participant_id: string; volume: number }>): void {
  const loud = new Map(levels.map((l) => [l.participant_id, l.volume]));
  for (const tile of tiles.querySelectorAll<HTMLDivElement>('.tile[data-kind="camera"]')) {
    const id = tile.dataset['participant'];
    if (id === undefined) continue;
    const volume = loud.get(id);
    const bar = part<HTMLDivElement>(tile, '.level div');
    if (volume === undefined) {
      bar.style.width = '0';
      tile.classList.remove('speaking');
      continue;
    }
    bar.style.width = `${Math.max(0, Math.min(100, ((volume + 60) / 60) * 100))}%`; // -60..0 dBov
    tile.classList.add('speaking');
    clearTimeout(speakingTimers.get(id));
    speakingTimers.set(
      id,
      setTimeout(() => {
        tile.classList.remove('speaking');
        bar.style.width = '0';
      }, 1200),
    );
  }
}

function showQuality(participantId: string, quality: Quality, score: number): void {
  const tile = tiles.querySelector(`.tile[data-participant="${CSS.escape(participantId)}"][data-kind="camera"]`);
  const b = tile?.querySelector<HTMLElement>('.quality');
  if (!b) return;
  b.textContent = quality;
  b.title = `score ${score}/10`;
  b.className = `badge quality q-${quality}`;
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
