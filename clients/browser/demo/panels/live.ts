// Going live from the call: a "Go live" / "End live" toolbar button for hosts
// and moderators (the roles the server lets start a stream), a "LIVE · N
// watching" banner for everyone in the room while the stream runs, and a
// Live tab with the watch link (/watch/<room>, with a copy button), the
// stream's chat (hosts and moderators pin and delete) and its reactions.

import {
  isLiveActive,
  LIVE_CHAT_MAX_CHARS,
  LIVE_REACTIONS,
  type LiveChatMessage,
  type LiveLayout,
  type LiveReactionCounts,
  type LiveStreamInfo,
} from '../../sdk/index.js';
import type { AppContext } from '../shell.js';
import { REACTION_EMOJI } from '../liveReactions.js';
import './live.css';

const LAYOUT_NAMES: Record<LiveLayout, string> = { speaker: 'speaker layout', 'active-speaker': 'active speaker', grid: 'grid' };

export function mountLive(ctx: AppContext): void {
  const { client } = ctx;
  let stream: LiveStreamInfo | null = null;
  let viewers = 0;
  let room = '';
  let pinned: LiveChatMessage | null = null;
  let busy = false;

  const button = ctx.addToolbarButton('live-toggle', 'Go live');
  button.classList.add('live-toggle');
  button.hidden = true;
  const banner = ctx.addStatus('live-status');
  banner.classList.add('live-status');
  const body = ctx.addPanel('live', 'Live');

  // ---- the Live tab ----
  const state = document.createElement('p');
  state.className = 'live-state';
  // Hosts and moderators pick what the stream shows before going live.
  const layoutLabel = document.createElement('label');
  layoutLabel.className = 'live-layout';
  layoutLabel.textContent = 'Stream layout';
  const layout = document.createElement('select');
  layout.id = 'live-layout';
  for (const [value, text] of [
    ['speaker', 'Speaker: one person (a host first)'],
    ['active-speaker', 'Active speaker: follows who talks'],
    ['grid', 'Grid: everyone'],
  ] as const) {
    const option = document.createElement('option');
    option.value = value;
    option.textContent = text;
    layout.append(option);
  }
  layoutLabel.append(layout);
  const linkRow = document.createElement('div');
  linkRow.className = 'live-link';
  const linkLabel = document.createElement('span');
  linkLabel.textContent = 'Watch link: ';
  const link = document.createElement('a');
  link.id = 'live-watch-link';
  link.target = '_blank';
  link.rel = 'noopener';
  const copy = document.createElement('button');
  copy.type = 'button';
  copy.id = 'live-copy-link';
  copy.textContent = 'Copy link';
  copy.setAttribute('aria-label', 'Copy the watch link');
  linkRow.append(linkLabel, link, copy);
  const linkHint = document.createElement('p');
  linkHint.className = 'hint';
  linkHint.textContent = 'Anyone with the link watches the stream (HLS) and chats without joining the call.';
  const reactions = document.createElement('p');
  reactions.className = 'live-reaction-totals';
  reactions.setAttribute('aria-label', 'Reactions so far');
  const pinBox = document.createElement('div');
  pinBox.className = 'live-pinned';
  pinBox.hidden = true;
  const chatList = document.createElement('ol');
  chatList.className = 'live-chat';
  chatList.setAttribute('aria-label', 'Stream chat');
  chatList.setAttribute('aria-live', 'polite');
  const chatForm = document.createElement('form');
  chatForm.className = 'live-chat-form';
  const chatLabel = document.createElement('label');
  chatLabel.textContent = 'Message to the stream';
  const chatInput = document.createElement('input');
  chatInput.id = 'live-chat-input';
  chatInput.maxLength = LIVE_CHAT_MAX_CHARS;
  chatInput.required = true;
  chatInput.autocomplete = 'off';
  chatLabel.append(chatInput);
  const send = document.createElement('button');
  send.type = 'submit';
  send.textContent = 'Send';
  chatForm.append(chatLabel, send);
  body.append(state, layoutLabel, linkRow, linkHint, reactions, pinBox, chatList, chatForm);

  // ---- rendering ----
  function render(): void {
    const active = isLiveActive(stream);
    button.hidden = !ctx.isStaff();
    button.textContent = active ? 'End live' : 'Go live';
    button.classList.toggle('danger', active);
    button.disabled = busy;
    layoutLabel.hidden = !ctx.isStaff() || active;
    banner.hidden = !active;
    if (stream?.status === 'live') banner.textContent = `LIVE · ${viewers} watching`;
    else if (stream?.status === 'preparing') banner.textContent = 'Going live…';
    state.textContent = !stream
      ? 'Not live. Hosts and moderators can go live; the stream shows the speaker.'
      : stream.status === 'live'
        ? `Live · ${viewers} watching (peak ${Math.max(viewers, stream.viewers.peak)}) · ${LAYOUT_NAMES[stream.layout]}`
        : stream.status === 'preparing'
          ? 'Going live: the first segment is on its way…'
          : `The stream ${stream.status === 'failed' ? 'failed' : 'ended'}${stream.end_reason ? ` (${stream.end_reason})` : ''}.`;
    chatInput.disabled = !active;
    send.disabled = !active;
  }

  function renderReactions(totals: LiveReactionCounts): void {
    const parts = LIVE_REACTIONS.filter((r) => (totals[r] ?? 0) > 0).map((r) => `${REACTION_EMOJI[r]} ${totals[r]}`);
    reactions.textContent = parts.length ? `Reactions: ${parts.join('  ')}` : '';
  }

  function renderPinned(): void {
    pinBox.hidden = !pinned;
    pinBox.replaceChildren();
    if (!pinned) return;
    const text = document.createElement('span');
    text.textContent = `📌 ${pinned.display_name}: ${pinned.text}`;
    pinBox.append(text);
    if (ctx.isStaff()) pinBox.append(actionButton('Unpin', 'Unpin the message', () => client.unpinLiveChat()));
  }

  function actionButton(label: string, name: string, act: () => Promise<unknown>): HTMLButtonElement {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'small';
    b.textContent = label;
    b.setAttribute('aria-label', name);
    b.addEventListener('click', () => void act().catch((err: Error) => ctx.showError(err.message)));
    return b;
  }

  function addMessage(m: LiveChatMessage): void {
    if (chatList.querySelector(`[data-message="${CSS.escape(m.message_id)}"]`)) return;
    const li = document.createElement('li');
    li.dataset['message'] = m.message_id;
    const line = document.createElement('span');
    line.className = 'msg';
    const who = document.createElement('strong');
    who.textContent = m.display_name;
    line.append(who, ` ${m.text}`);
    const actions = document.createElement('span');
    actions.className = 'actions';
    const mine = m.user_id === client.identity?.user_id;
    if (ctx.isStaff()) actions.append(actionButton('Pin', `Pin ${m.display_name}'s message`, () => client.pinLiveChat(m.message_id)));
    if (ctx.isStaff() || mine)
      actions.append(actionButton('Delete', `Delete ${m.display_name}'s message`, () => client.deleteLiveChat(m.message_id)));
    li.append(line, actions);
    chatList.append(li);
    while (chatList.childElementCount > 200) chatList.firstElementChild?.remove();
    chatList.scrollTop = chatList.scrollHeight;
  }

  function setStream(next: LiveStreamInfo | null): void {
    const newStream = next?.stream_id !== stream?.stream_id;
    stream = next;
    if (next) viewers = next.viewers.current;
    if (newStream && isLiveActive(next)) {
      chatList.replaceChildren();
      pinned = null;
      renderPinned();
      renderReactions({});
    }
    render();
  }

  // ---- actions ----
  button.addEventListener('click', () => void toggleLive());
  async function toggleLive(): Promise<void> {
    busy = true;
    render();
    ctx.showError(null);
    try {
      setStream(isLiveActive(stream) ? await client.stopLive() : await client.startLive({ layout: layout.value as LiveLayout }));
    } catch (err) {
      ctx.showError(`Live: ${(err as Error).message}`);
    } finally {
      busy = false;
      render();
    }
  }

  copy.addEventListener('click', () => {
    const done = () => {
      copy.textContent = 'Copied';
      setTimeout(() => (copy.textContent = 'Copy link'), 1500);
    };
    if (navigator.clipboard) navigator.clipboard.writeText(link.href).then(done, () => selectLink());
    else selectLink();
  });
  function selectLink(): void {
    const range = document.createRange();
    range.selectNodeContents(link);
    getSelection()?.removeAllRanges();
    getSelection()?.addRange(range);
  }

  chatForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = chatInput.value.trim();
    if (!text) return;
    send.disabled = true;
    client
      .sendLiveChat(text)
      .then((m) => {
        chatInput.value = '';
        addMessage(m);
      })
      .catch((err: Error) => ctx.showError(`Chat: ${err.message}`))
      .finally(render);
  });

  // ---- events ----
  client.on('room-joined', ({ roomState }) => {
    room = roomState.room;
    link.href = `${location.origin}/watch/${encodeURIComponent(room)}`;
    link.textContent = link.href;
    setStream(roomState.live ?? null);
  });
  client.on('role-changed', ({ participant_id }) => {
    if (participant_id === client.participantId) {
      render();
      renderPinned();
    }
  });
  client.on('live-stream-updated', ({ stream: s }) => {
    if (s.room !== room) return;
    const was = stream?.status;
    setStream(s);
    if (s.status !== was) ctx.logEvent(`live stream ${s.status}${s.end_reason ? ` (${s.end_reason})` : ''}`);
  });
  client.on('live-viewers', ({ stream_id, current }) => {
    if (stream_id !== stream?.stream_id) return;
    viewers = current;
    render();
  });
  client.on('live-chat-message', ({ stream_id, message }) => {
    if (stream_id === stream?.stream_id) addMessage(message);
  });
  client.on('live-chat-deleted', ({ message_id }) => {
    chatList.querySelector(`[data-message="${CSS.escape(message_id)}"]`)?.remove();
  });
  client.on('live-chat-pinned', ({ stream_id, message }) => {
    if (stream_id !== stream?.stream_id) return;
    pinned = message;
    renderPinned();
  });
  client.on('live-reactions', ({ stream_id, totals }) => {
    if (stream_id === stream?.stream_id) renderReactions(totals);
  });
  render();
}
