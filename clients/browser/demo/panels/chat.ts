// The "Chat" tab: the call's chat from the SDK (client.chatHistory, kept from
// `joined` and the chat-message / chat-deleted events), a labelled message
// box (Enter sends, Shift+Enter is a new line), a reply button on every
// message (the answer quotes it) and a delete button on one's own messages
// (on every message for hosts and moderators). While the tab is
// closed, others' new messages count on it as unread. Text is always set as
// text, never as HTML.

import type { ChatMessage } from '../../sdk/index.js';
import type { AppContext } from '../shell.js';
import './chat.css';

const MAX_CHARS = 2000;

function make<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function clock(iso: string): string {
  return new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

export function mountChat(ctx: AppContext): void {
  const { client } = ctx;
  const body = ctx.addPanel('chat', 'Chat');
  const tab = document.getElementById(body.getAttribute('aria-labelledby') ?? '');

  // Unread count on the tab: "Chat 3" with "3 unread" for screen readers.
  const badge = make('span', 'chat-unread');
  badge.hidden = true;
  tab?.append(badge);
  let unread = 0;
  const setUnread = (n: number) => {
    unread = n;
    badge.hidden = n === 0;
    badge.textContent = String(n);
    badge.setAttribute('aria-label', `${n} unread`);
  };

  const list = make('ol', 'chat-list');
  list.setAttribute('role', 'log');
  list.setAttribute('aria-label', 'Conversation');
  const empty = make('p', 'chat-empty', 'No messages yet. Say hello.');

  const form = make('form', 'chat-form');
  const label = make('label', 'chat-label', 'Message');
  label.htmlFor = 'chat-input';
  const input = make('textarea', 'chat-input');
  input.id = 'chat-input';
  input.rows = 2;
  input.maxLength = MAX_CHARS;
  input.placeholder = 'Write to everyone in the call';
  input.setAttribute('aria-describedby', 'chat-hint');
  const hint = make('span', 'chat-hint', 'Enter sends, Shift+Enter adds a line');
  hint.id = 'chat-hint';
  const send = make('button', 'chat-send', 'Send');
  send.type = 'submit';
  const row = make('div', 'chat-row');
  row.append(input, send);
  // "Replying to ..." above the box while an answer is being written.
  const replying = make('div', 'chat-replying');
  replying.hidden = true;
  const replyingText = make('span', 'chat-replying-text');
  const cancelReply = make('button', 'chat-cancel-reply', '×');
  cancelReply.type = 'button';
  cancelReply.setAttribute('aria-label', 'Cancel reply');
  replying.append(replyingText, cancelReply);
  form.append(replying, label, row, hint);
  body.append(list, empty, form);

  let replyTo: ChatMessage | null = null;
  const setReply = (m: ChatMessage | null) => {
    replyTo = m;
    replying.hidden = m === null;
    replyingText.textContent = m ? `Replying to ${m.display_name}: ${m.text.slice(0, 60)}` : '';
  };
  cancelReply.addEventListener('click', () => {
    setReply(null);
    input.focus();
  });

  const isOpen = () => !body.hidden;
  const mine = (m: ChatMessage) => m.user_id === client.identity?.user_id;
  const mayDelete = (m: ChatMessage) => mine(m) || ctx.isStaff();

  function scrollToEnd(): void {
    list.lastElementChild?.scrollIntoView({ block: 'nearest' });
  }

  function item(m: ChatMessage): HTMLLIElement {
    const li = make('li', mine(m) ? 'chat-message mine' : 'chat-message');
    li.dataset['messageId'] = m.message_id;
    const head = make('div', 'chat-head');
    head.append(make('span', 'chat-name', mine(m) ? `${m.display_name} (you)` : m.display_name));
    const time = make('time', 'chat-time', clock(m.sent_at));
    time.dateTime = m.sent_at;
    head.append(time);
    const actions = make('span', 'chat-actions');
    head.append(actions);
    const reply = make('button', 'chat-reply', '↩');
    reply.type = 'button';
    reply.setAttribute('aria-label', `Reply to ${m.display_name}: ${m.text.slice(0, 40)}`);
    reply.title = 'Reply';
    reply.addEventListener('click', () => {
      setReply(m);
      input.focus();
    });
    actions.append(reply);
    if (mayDelete(m)) {
      const del = make('button', 'chat-delete', '×');
      del.type = 'button';
      del.setAttribute('aria-label', `Delete message from ${m.display_name}: ${m.text.slice(0, 40)}`);
      del.title = 'Delete for everyone';
      del.addEventListener('click', () => {
        del.disabled = true;
        client.deleteChat(m.message_id).catch((err: Error) => {
          del.disabled = false;
          ctx.showError(`Could not delete the message: ${err.message}`);
        });
      });
      actions.append(del);
    }
    li.append(head);
    if (m.reply_to !== null) {
      const original = client.chatHistory.find((c) => c.message_id === m.reply_to);
      const quote = make('p', 'chat-quote', original ? `${original.display_name}: ${original.text.slice(0, 80)}` : 'an earlier message');
      quote.dataset['replyTo'] = m.reply_to;
      li.append(quote);
    }
    li.append(make('p', 'chat-text', m.text));
    return li;
  }

  function renderAll(): void {
    list.replaceChildren(...client.chatHistory.map(item));
    empty.hidden = list.childElementCount > 0;
    scrollToEnd();
  }

  function add(m: ChatMessage): void {
    if (list.querySelector(`[data-message-id="${m.message_id}"]`)) return;
    // chatHistory is in order: put the message before the one that follows it there.
    const history = client.chatHistory;
    const next = history[history.findIndex((c) => c.message_id === m.message_id) + 1];
    const before = next ? list.querySelector(`[data-message-id="${next.message_id}"]`) : null;
    list.insertBefore(item(m), before);
    empty.hidden = true;
    if (isOpen()) scrollToEnd();
    else if (!mine(m)) setUnread(unread + 1);
  }

  // Opening the tab reads everything and shows the newest.
  new MutationObserver(() => {
    if (!isOpen()) return;
    setUnread(0);
    scrollToEnd();
  }).observe(body, { attributes: true, attributeFilter: ['hidden'] });

  input.disabled = send.disabled = true;
  client.on('room-joined', () => {
    input.disabled = send.disabled = false;
    setUnread(0);
    setReply(null);
    renderAll();
  });
  client.on('chat-message', ({ message }) => add(message));
  client.on('chat-deleted', ({ message_id }) => {
    list.querySelector(`[data-message-id="${message_id}"]`)?.remove();
    empty.hidden = list.childElementCount > 0;
    if (replyTo?.message_id === message_id) setReply(null);
    for (const quote of list.querySelectorAll<HTMLElement>(`.chat-quote[data-reply-to="${message_id}"]`)) {
      quote.textContent = 'a deleted message';
    }
  });
  // A new role may add or take away the delete buttons.
  client.on('role-changed', ({ participant_id }) => {
    if (participant_id === client.participantId) renderAll();
  });

  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    } else if (e.key === 'Escape' && replyTo) {
      setReply(null);
    }
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text || send.disabled) return;
    send.disabled = true;
    client
      .sendChat(text, replyTo ? { replyTo: replyTo.message_id } : {})
      .then((message) => {
        input.value = '';
        setReply(null);
        add(message);
      })
      .catch((err: Error) => ctx.showError(`Message not sent: ${err.message}`))
      .finally(() => {
        send.disabled = false;
        input.focus();
      });
  });
}
