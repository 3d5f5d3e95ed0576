// Reactions over the call: the toolbar's picker of the eight emoji, and the
// emoji that float up over the sender's tile when anyone reacts.

import { REACTIONS, type LiveReaction } from '../sdk/index.js';
import { REACTION_EMOJI } from './liveReactions.js';

/** Fills the picker with one button per reaction ("React with heart"); the toggle opens and closes it. */
export function buildPicker(toggle: HTMLButtonElement, picker: HTMLElement, send: (reaction: LiveReaction) => void): void {
  const open = (on: boolean): void => {
    picker.hidden = !on;
    toggle.setAttribute('aria-expanded', String(on));
  };
  picker.replaceChildren(
    ...REACTIONS.map((reaction) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'reaction';
      b.dataset['reaction'] = reaction;
      b.textContent = REACTION_EMOJI[reaction];
      b.setAttribute('aria-label', `React with ${reaction}`);
      b.addEventListener('click', () => send(reaction));
      return b;
    }),
  );
  toggle.addEventListener('click', () => {
    open(picker.hidden);
    if (!picker.hidden) picker.querySelector<HTMLButtonElement>('button')?.focus();
  });
  picker.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Escape') return;
    open(false);
    toggle.focus();
  });
}

/** An emoji rising over a tile (or fading in place with prefers-reduced-motion), removed when done. */
export function floatReaction(layer: HTMLElement, reaction: LiveReaction): void {
  const e = document.createElement('span');
  e.className = 'reaction-float';
  e.dataset['reaction'] = reaction;
  e.textContent = REACTION_EMOJI[reaction];
  e.style.left = `${15 + Math.random() * 60}%`;
  layer.append(e);
  // animationend is the usual end; the timer covers a hidden tile (no animation runs there).
  const done = (): void => e.remove();
  e.addEventListener('animationend', done, { once: true });
  setTimeout(done, 3500);
  while (layer.childElementCount > 12) layer.firstElementChild?.remove();
}
