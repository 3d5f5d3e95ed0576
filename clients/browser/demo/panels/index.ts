// Every panel of the in-call shell, mounted in this order for each client (see shell.ts).

import type { MountPanel } from '../shell.js';
import { mountChat } from './chat.js';
import { mountDevices } from './devices.js';
import { mountLive } from './live.js';
import { mountLobby } from './lobby.js';
import { mountPeople } from './people.js';
import { mountRecording } from './recording.js';
import { mountWhiteboard } from './whiteboard.js';

export const PANELS: MountPanel[] = [mountChat, mountPeople, mountLobby, mountWhiteboard, mountRecording, mountLive, mountDevices];
