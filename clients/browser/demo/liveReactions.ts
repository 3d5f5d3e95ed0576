// How the demo shows reactions: the emoji of each (the call's reactions, the live panel and the watch page).

import type { LiveReaction } from '../sdk/index.js';

export const REACTION_EMOJI: Record<LiveReaction, string> = {
  heart: '❤️',
  like: '👍',
  fire: '🔥',
  clap: '👏',
  laugh: '😂',
  wow: '😮',
  sad: '😢',
  angry: '😠',
};
