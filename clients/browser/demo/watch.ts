// The watch page of a live stream, /watch/<room>: plays the room's HLS stream
// (hls.js over Media Source Extensions, or the browser's own HLS where there
// is no MSE), with the stream's chat, reactions and viewer count. Watching needs an
// authenticated connection (live-watch) but no seat in the call: a token in
// the link (#token= or ?token=) is used as is; on a development server the
// page asks only for a name and gets a viewer token from POST /dev/token;
// otherwise it says how an app hands out watch links.
// A room that is not live yet says so and starts playing by itself when the
// stream goes live (live-stream-updated).

import Hls from 'hls.js/light';
import {
  isLiveActive,
  LIVE_REACTIONS,
  SwitchboardClient,
  type LiveChatMessage,
  type LiveReaction,
  type LiveReactionCounts,
  type LiveStreamInfo,
  type LiveWatch,
} from '../sdk/index.js';
import { REACTION_EMOJI } from './liveReactions.js';
import './watch.css';

function el<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} missing from watch.html`);
  return found as T;
}

const video = el<HTMLVideoElement>('player');
const offline = el<HTMLDivElement>('offline');
const unmute = el<HTMLButtonElement>('unmute');
const floats = el<HTMLDivElement>('floats');
const reactionBar = el<HTMLDivElement>('reactions');
const chat = el<HTMLOListElement>('chat');
const pinnedBox = el<HTMLDivElement>('pinned');
const chatForm = el<HTMLFormElement>('chat-form');
const chatInput = el<HTMLInputElement>('chat-input');
const chatSend = el<HTMLButtonElement>('chat-send');
const viewersPill = el<HTMLSpanElement>('viewers');
const liveBadge = el<HTMLSpanElement>('live-badge');
const errorBox = el<HTMLParagraphElement>('error');

const params = new URLSearchParams(location.search);
const hashParams = new URLSearchParams(location.hash.slice(1));
const room = roomFromPath(location.pathname) ?? params.get('room') ?? '';
const linkToken = hashParams.get('token') ?? params.get('token');

const client = new SwitchboardClient({ autoSubscribe: false });
let stream: LiveStreamInfo | null = null;
let playingStream: string | null = null;
let hls: Hls | null = null;
const totals: LiveReactionCounts = {};

function roomFromPath(pathname: string): string | null {
  const match = /^\/watch\/([^/]+)\/?$/.exec(pathname);
  if (!match) return null;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return null;
  }
}

function showError(message: string | null): void {
  errorBox.hidden = !message;
  errorBox.textContent = message ?? '';
}

// ---- getting in ----------------------------------------------------------------

async function start(): Promise<void> {
  el<HTMLElement>('watch-room').textContent = room;
  document.title = `${room} · Watch live`;
  if (!room) {
    showError('No room in the address: open /watch/<room>.');
    return;
  }
  if (linkToken) return watch(linkToken);
  if (await devTokensOn()) {
    const form = el<HTMLFormElement>('watch-form');
    el<HTMLElement>('watch-form-title').textContent = `Watch ${room}`;
    const name = el<HTMLInputElement>('watch-name');
    name.value = localStorage.getItem('switchboard.name') ?? '';
    form.hidden = false;
    name.focus();
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const typed = name.value.trim();
      if (!typed) return;
      localStorage.setItem('switchboard.name', typed);
      el<HTMLButtonElement>('watch-go').disabled = true;
      devToken(typed)
        .then((token) => {
          form.hidden = true;
          return watch(token);
        })
        .catch((err: Error) => {
          showError(`Could not get in: ${err.message}`);
          el<HTMLButtonElement>('watch-go').disabled = false;
        });
    });
    return;
  }
  el<HTMLElement>('link-example').textContent = `/watch/${room}#token=<token>`;
  el<HTMLElement>('no-access').hidden = false;
}

/** A development server answers an empty POST /dev/token with 400 (elsewhere: 404). */
async function devTokensOn(): Promise<boolean> {
  try {
    const res = await fetch('/dev/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    return res.status === 400;
  } catch {
    return false;
  }
}

async function devToken(name: string): Promise<string> {
  const res = await fetch('/dev/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, room, role: 'viewer' }),
  });
  const body = (await res.json().catch(() => ({}))) as { token?: string; error?: { message?: string } };
  if (res.status !== 201 || typeof body.token !== 'string')
    throw new Error(body.error?.message ?? `POST /dev/token answered ${res.status}`);
  return body.token;
}

async function watch(token: string): Promise<void> {
  showError(null);
  try {
    await client.connect(location.origin, token, { room });
    const first = await client.watchLive(room);
    el<HTMLElement>('watch-stage').hidden = false;
    applyWatch(first);
  } catch (err) {
    showError(`Could not watch ${room}: ${(err as Error).message}`);
  }
}

// ---- the stream ----------------------------------------------------------------

/** A watch answer (first, again when the stream goes live, again after a reconnect). */
function applyWatch(w: LiveWatch): void {
  for (const m of w.chat) addMessage(m);
  showPinned(w.pinned);
  Object.assign(totals, w.reactions);
  renderTotals();
  setStream(w.stream);
  if (w.stream?.status === 'live' && w.playlistUrl) play(w.stream.stream_id, w.playlistUrl);
}

function setStream(next: LiveStreamInfo | null): void {
  stream = next;
  const active = isLiveActive(next);
  liveBadge.hidden = next?.status !== 'live';
  viewersPill.hidden = !active;
  if (next) showViewers(next.viewers.current);
  chatInput.disabled = !active;
  chatSend.disabled = !active;
  for (const b of reactionBar.querySelectorAll('button')) b.disabled = !active;
  if (!next) offlineText(`${room} is not live yet. The stream starts playing here by itself when it begins.`);
  else if (next.status === 'preparing') offlineText(`${room} is going live…`);
  else if (next.status === 'live') {
    if (playingStream !== next.stream_id) offlineText('Loading the stream…');
  } else if (playingTail()) {
    // Ended: what is still buffered plays out to the end of the playlist first ('ended', or at most 20 s).
    clearTimeout(tailTimer);
    tailTimer = setTimeout(showOver, 20_000);
  } else showOver();
}

let tailTimer: ReturnType<typeof setTimeout> | undefined;

function playingTail(): boolean {
  return playingStream !== null && !video.paused && !video.ended && video.readyState >= 2;
}

function showOver(): void {
  clearTimeout(tailTimer);
  if (isLiveActive(stream)) return; // a new stream began meanwhile
  offlineText(`The stream has ${stream?.status === 'failed' ? 'failed' : 'ended'}. ${room} may go live again: this page will play it.`);
  stopPlayer();
}

function offlineText(text: string | null): void {
  offline.hidden = text === null;
  offline.textContent = text ?? '';
  video.classList.toggle('waiting', text !== null);
}

function showViewers(current: number): void {
  viewersPill.textContent = `${current} watching`;
}

/**
 * Plays a playlist: hls.js over Media Source Extensions where the browser has
 * them, else the browser's own HLS (iPhone Safari). MSE comes first because a
 * built-in HLS player may claim the type and still fail on the stream
 * (Chromium 156 answers canPlayType "maybe" and then cannot parse these
 * MPEG-TS segments: DEMUXER_ERROR_COULD_NOT_PARSE).
 */
function play(streamId: string, url: string): void {
  if (playingStream === streamId) return;
  stopPlayer();
  playingStream = streamId;
  if (Hls.isSupported()) {
    // No worker: the page's CSP allows scripts only from this server (hls.js would start one from a blob).
    const h = new Hls({ enableWorker: false, liveSyncDurationCount: 3, manifestLoadingMaxRetry: 6, levelLoadingMaxRetry: 6 });
    hls = h;
    h.on(Hls.Events.ERROR, (_event, data) => {
      if (!data.fatal) return;
      if (data.type === Hls.ErrorTypes.NETWORK_ERROR) setTimeout(() => hls === h && h.startLoad(), 1000);
      else if (data.type === Hls.ErrorTypes.MEDIA_ERROR) h.recoverMediaError();
      else {
        showError(`Playback failed: ${data.details}`);
        stopPlayer();
      }
    });
    h.loadSource(url);
    h.attachMedia(video);
  } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
    video.src = url;
  } else {
    showError('This browser plays neither HLS nor Media Source Extensions.');
    return;
  }
  void startPlayback();
}

async function startPlayback(): Promise<void> {
  try {
    await video.play();
  } catch {
    // Autoplay with sound refused (no click on this page yet): play muted, offer the sound.
    video.muted = true;
    unmute.hidden = false;
    await video.play().catch(() => {});
  }
}

function stopPlayer(): void {
  hls?.destroy();
  hls = null;
  playingStream = null;
  video.removeAttribute('src');
  video.load();
}

video.addEventListener('playing', () => offlineText(null));
unmute.addEventListener('click', () => {
  video.muted = false;
  unmute.hidden = true;
});
video.addEventListener('volumechange', () => {
  if (!video.muted) unmute.hidden = true;
});
// An ended stream plays out to the end of its playlist, then says so.
video.addEventListener('ended', () => {
  if (stream && !isLiveActive(stream)) showOver();
});

client.on('live-stream-updated', ({ stream: s }) => {
  if (s.room !== room) return;
  setStream(s);
  // Live now: ask again for the playlist (its signed URL belongs to this stream).
  if (s.status === 'live' && playingStream !== s.stream_id) {
    client
      .watchLive(room)
      .then(applyWatch)
      .catch((err: Error) => showError(err.message));
  }
});
let rewatches = 0;
client.on('live-watching', (w) => {
  if (!w.rewatched) return;
  rewatches++;
  applyWatch(w); // after a reconnect: the stream may have changed meanwhile
});
client.on('live-viewers', ({ stream_id, current }) => {
  if (stream_id === stream?.stream_id) showViewers(current);
});
client.on('connection-state', ({ state }) => {
  if (state === 'reconnecting') showError('Connection lost: reconnecting…');
  else if (state === 'connected') showError(null);
  else if (state === 'closed') showError('Disconnected. Reload the page to watch again.');
});

// ---- chat ------------------------------------------------------------------------

function addMessage(m: LiveChatMessage): void {
  if (chat.querySelector(`[data-message="${CSS.escape(m.message_id)}"]`)) return;
  const li = document.createElement('li');
  li.dataset['message'] = m.message_id;
  const who = document.createElement('strong');
  who.textContent = m.display_name;
  const text = document.createElement('span');
  text.textContent = m.text;
  li.append(who, text);
  if (m.user_id === client.identity?.user_id) {
    const del = document.createElement('button');
    del.type = 'button';
    del.className = 'small';
    del.textContent = 'Delete';
    del.setAttribute('aria-label', 'Delete your message');
    del.addEventListener('click', () => void client.deleteLiveChat(m.message_id).catch((err: Error) => showError(err.message)));
    li.append(del);
  }
  const atBottom = chat.scrollTop + chat.clientHeight >= chat.scrollHeight - 8;
  chat.append(li);
  while (chat.childElementCount > 300) chat.firstElementChild?.remove();
  if (atBottom) chat.scrollTop = chat.scrollHeight;
}

function showPinned(m: LiveChatMessage | null): void {
  pinnedBox.hidden = !m;
  pinnedBox.textContent = m ? `📌 ${m.display_name}: ${m.text}` : '';
}

chatForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const text = chatInput.value.trim();
  if (!text) return;
  chatSend.disabled = true;
  client
    .sendLiveChat(text)
    .then((m) => {
      chatInput.value = '';
      addMessage(m);
      showError(null);
    })
    .catch((err: Error) => showError(`Not sent: ${err.message}`))
    .finally(() => (chatSend.disabled = !isLiveActive(stream)));
});

client.on('live-chat-message', ({ message }) => addMessage(message));
client.on('live-chat-deleted', ({ message_id }) => chat.querySelector(`[data-message="${CSS.escape(message_id)}"]`)?.remove());
client.on('live-chat-pinned', ({ message }) => showPinned(message));

// ---- reactions ---------------------------------------------------------------------

for (const reaction of LIVE_REACTIONS) {
  const b = document.createElement('button');
  b.type = 'button';
  b.dataset['reaction'] = reaction;
  b.setAttribute('aria-label', `React ${reaction}`);
  b.disabled = true;
  const emoji = document.createElement('span');
  emoji.className = 'emoji';
  emoji.textContent = REACTION_EMOJI[reaction];
  emoji.setAttribute('aria-hidden', 'true');
  const count = document.createElement('span');
  count.className = 'count';
  b.append(emoji, count);
  b.addEventListener('click', () => void react(reaction));
  reactionBar.append(b);
}

async function react(reaction: LiveReaction): Promise<void> {
  try {
    await client.reactLive(reaction);
  } catch (err) {
    showError(`Reaction: ${(err as Error).message}`);
  }
}

function renderTotals(): void {
  for (const b of reactionBar.querySelectorAll<HTMLButtonElement>('button')) {
    const r = b.dataset['reaction'] as LiveReaction;
    const n = totals[r] ?? 0;
    const count = b.querySelector('.count');
    if (count) count.textContent = n > 0 ? String(n) : '';
    b.setAttribute('aria-label', `React ${r}${n > 0 ? ` (${n} so far)` : ''}`);
  }
}

/** Each reaction of the last interval rises over the picture with its count. */
function float(reaction: LiveReaction, n: number): void {
  const bubble = document.createElement('span');
  bubble.className = 'float';
  const emoji = document.createElement('span');
  emoji.className = 'emoji';
  emoji.textContent = REACTION_EMOJI[reaction];
  bubble.append(emoji, n > 1 ? ` +${n}` : '');
  bubble.style.left = `${10 + Math.random() * 70}%`;
  bubble.addEventListener('animationend', () => bubble.remove());
  floats.append(bubble);
  while (floats.childElementCount > 30) floats.firstElementChild?.remove();
}

client.on('live-reactions', ({ stream_id, counts, totals: t }) => {
  if (stream_id !== stream?.stream_id) return;
  Object.assign(totals, t);
  renderTotals();
  for (const r of LIVE_REACTIONS) if ((counts[r] ?? 0) > 0) float(r, counts[r] ?? 0);
});

void start();

// For tests and the console.
(
  window as unknown as { switchboardWatch: { client: SwitchboardClient; readonly hls: boolean; readonly rewatches: number } }
).switchboardWatch = {
  client,
  get hls() {
    return hls !== null;
  },
  /** How often the SDK watched again by itself after a reconnect. */
  get rewatches() {
    return rewatches;
  },
};
