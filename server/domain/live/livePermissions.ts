// Who may do what with a room's live stream (the rooms domain's table in
// permissions.ts covers the call itself). The app's backend over REST acts
// with host rights.

import type { Role } from '../../../signaling/protocol/protocol.js';
import { AppError } from '../../kernel/errors.js';

export const LIVE_ACTIONS = ['go-live', 'chat', 'react', 'moderate-chat'] as const;
export type LiveAction = (typeof LIVE_ACTIONS)[number];

export const LIVE_ALLOWED: Record<LiveAction, readonly Role[]> = {
  'go-live': ['host', 'moderator'], // start and stop
  chat: ['host', 'moderator', 'speaker', 'viewer'],
  react: ['host', 'moderator', 'speaker', 'viewer'],
  'moderate-chat': ['host', 'moderator'], // delete others' messages, pin, unpin
};

export function assertLiveAllowed(role: Role, action: LiveAction): void {
  if (!LIVE_ALLOWED[action].includes(role)) {
    throw new AppError(
      'forbidden',
      `a ${role} may not ${action === 'go-live' ? 'start or stop the live stream' : action.replace(/-/g, ' ')}`,
    );
  }
}
