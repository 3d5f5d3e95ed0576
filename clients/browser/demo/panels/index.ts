// Every panel of the in-call shell, mounted in this order for each client (see shell.ts).

import type { MountPanel } from '../shell.js';
import { mountLive } from './live.js';

export const PANELS: MountPanel[] = [mountLive];
