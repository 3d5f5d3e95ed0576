// The Devices panel: camera, microphone and speaker pickers during the call.
// A new camera or microphone is switched live (client.switchDevice: the same
// producer sends the new device's track, no renegotiation, mute kept); the
// speaker applies to every remote <audio> (devices.ts). Camera and microphone
// only for roles that publish; the speaker for everyone (where the browser can).

import type { MediaKind } from '../../sdk/index.js';
import { audioOutput, buildPicker, fillPicker, listDevices, saveDevice, savedDevice, setAudioOutput, type DeviceKind } from '../devices.js';
import type { AppContext } from '../shell.js';
import './devices.css';

export function mountDevices(ctx: AppContext): void {
  const { client } = ctx;
  const body = ctx.addPanel('devices', 'Devices');
  const pickers = {
    videoinput: buildPicker('videoinput', 'devices'),
    audioinput: buildPicker('audioinput', 'devices'),
    audiooutput: buildPicker('audiooutput', 'devices'),
  };
  const empty = document.createElement('p');
  empty.className = 'hint';
  empty.textContent = 'No device to choose: the browser lists them once the page may use your camera or microphone.';
  body.append(pickers.videoinput.field, pickers.audioinput.field, pickers.audiooutput.field, empty);

  /** The device a published track comes from, else the one remembered. */
  function current(kind: MediaKind): string | null {
    const local = client.localTracks.get(kind === 'audio' ? 'mic' : 'camera');
    return local?.track.getSettings().deviceId ?? client.devices[kind] ?? savedDevice(kind === 'audio' ? 'audioinput' : 'videoinput');
  }

  let refreshing = 0;
  async function refresh(): Promise<void> {
    const turn = ++refreshing;
    const devices = await listDevices();
    if (turn !== refreshing) return; // a newer refresh runs
    fillPicker(pickers.videoinput.field, pickers.videoinput.select, devices, current('video'));
    fillPicker(pickers.audioinput.field, pickers.audioinput.select, devices, current('audio'));
    fillPicker(pickers.audiooutput.field, pickers.audiooutput.select, devices, audioOutput());
    if (!ctx.mayPublish()) pickers.videoinput.field.hidden = pickers.audioinput.field.hidden = true;
    empty.hidden = Object.values(pickers).some((p) => !p.field.hidden);
  }

  async function choose(kind: DeviceKind, select: HTMLSelectElement): Promise<void> {
    const deviceId = select.value;
    if (kind === 'audiooutput') {
      setAudioOutput(deviceId);
      ctx.logEvent('speaker changed');
      return;
    }
    const media: MediaKind = kind === 'audioinput' ? 'audio' : 'video';
    select.disabled = true;
    try {
      const switched = await client.switchDevice(media, deviceId);
      saveDevice(kind, deviceId);
      ctx.logEvent(`${media === 'audio' ? 'microphone' : 'camera'}: ${switched ? switched.track.label || deviceId : 'used from now on'}`);
    } catch (err) {
      ctx.showError(`Could not switch the ${media === 'audio' ? 'microphone' : 'camera'}: ${String((err as Error).message ?? err)}`);
    } finally {
      select.disabled = false;
      void refresh(); // shows the device really in use
    }
  }

  for (const [kind, { select }] of Object.entries(pickers) as Array<[DeviceKind, (typeof pickers)[DeviceKind]]>) {
    select.addEventListener('change', () => void choose(kind, select));
  }

  // Plugged in or out: the lists follow (until the shell dropped this panel).
  const onDeviceChange = () => {
    if (body.isConnected) void refresh();
    else navigator.mediaDevices.removeEventListener('devicechange', onDeviceChange);
  };
  navigator.mediaDevices?.addEventListener?.('devicechange', onDeviceChange);
  client.on('room-joined', () => void refresh());
  client.on('local-track-added', () => void refresh());
  client.on('local-track-replaced', () => void refresh());
  client.on('role-changed', ({ participant_id }) => {
    if (participant_id === client.participantId) void refresh();
  });
}
