// Device pickers shared by the pre-join screen (prejoin.ts) and the in-call
// Devices panel (panels/devices.ts): the camera, microphone and speaker lists,
// the choices kept in localStorage, and the speaker (audio output) applied to
// every <audio> element the stage creates under #tiles.

/** The three kinds of device a user picks. */
export type DeviceKind = 'videoinput' | 'audioinput' | 'audiooutput';

const STORAGE: Record<DeviceKind, string> = {
  videoinput: 'switchboard.device.camera',
  audioinput: 'switchboard.device.mic',
  audiooutput: 'switchboard.device.speaker',
};

const LABELS: Record<DeviceKind, string> = { videoinput: 'Camera', audioinput: 'Microphone', audiooutput: 'Speaker' };

/** The browser can send sound to a chosen output (HTMLMediaElement.setSinkId: Chromium, Firefox 116+, Safari 18.4+). */
export const canChooseOutput = typeof HTMLMediaElement !== 'undefined' && 'setSinkId' in HTMLMediaElement.prototype;

export function savedDevice(kind: DeviceKind): string | null {
  return localStorage.getItem(STORAGE[kind]);
}

export function saveDevice(kind: DeviceKind, deviceId: string): void {
  localStorage.setItem(STORAGE[kind], deviceId);
}

/** What the browser lists (ids and labels only once the page may use a device; empty without any). */
export async function listDevices(): Promise<MediaDeviceInfo[]> {
  if (!navigator.mediaDevices?.enumerateDevices) return [];
  try {
    return await navigator.mediaDevices.enumerateDevices();
  } catch {
    return [];
  }
}

/** A labelled <select> for one kind of device (hidden until it has devices to offer). */
export function buildPicker(kind: DeviceKind, idPrefix: string): { field: HTMLElement; select: HTMLSelectElement } {
  const field = document.createElement('div');
  field.className = 'device-picker';
  field.hidden = true;
  const select = document.createElement('select');
  select.id = `${idPrefix}-${kind}`;
  select.dataset['kind'] = kind;
  // Not wrapped in its label: the accessible name stays "Camera", not "Camera" plus the chosen option.
  const label = document.createElement('label');
  label.htmlFor = select.id;
  label.textContent = LABELS[kind];
  field.append(label, select);
  return { field, select };
}

/**
 * Fills a picker with the devices of its kind, selecting `chosen` when it is
 * there. Devices without an id (the page may not use devices yet) are not
 * offered; the field hides when nothing is left to choose from.
 */
export function fillPicker(field: HTMLElement, select: HTMLSelectElement, devices: MediaDeviceInfo[], chosen: string | null): void {
  const kind = select.dataset['kind'] as DeviceKind;
  const usable = devices.filter((d) => d.kind === kind && d.deviceId !== '');
  select.replaceChildren(
    ...usable.map((d, i) => {
      const option = document.createElement('option');
      option.value = d.deviceId;
      option.textContent = d.label || `${LABELS[kind]} ${i + 1}`;
      return option;
    }),
  );
  if (chosen && usable.some((d) => d.deviceId === chosen)) select.value = chosen;
  field.hidden = usable.length === 0 || (kind === 'audiooutput' && !canChooseOutput);
}

// ---- the speaker -----------------------------------------------------------------

let outputId: string | null = null;
let watching: MutationObserver | null = null;
let watched: HTMLElement | null = null;

function applySink(audio: HTMLMediaElement): void {
  if (!canChooseOutput || outputId === null) return;
  audio.setSinkId(outputId).catch(() => {}); // gone meanwhile: the element keeps the default output
}

/**
 * Sends every remote <audio> under `root` (now and later: the stage adds them
 * as tracks arrive) to the chosen speaker. Call once; setAudioOutput changes it.
 */
export function followAudioOutput(root: HTMLElement): void {
  if (watching || !canChooseOutput) return;
  watched = root;
  outputId = savedDevice('audiooutput');
  watching = new MutationObserver((records) => {
    for (const record of records) {
      for (const node of record.addedNodes) {
        if (node instanceof HTMLAudioElement) applySink(node);
        else if (node instanceof Element) for (const audio of node.querySelectorAll('audio')) applySink(audio);
      }
    }
  });
  watching.observe(root, { childList: true, subtree: true });
  for (const audio of root.querySelectorAll('audio')) applySink(audio);
}

/** The speaker every remote <audio> followed plays on (kept for the next visit). */
export function setAudioOutput(deviceId: string): void {
  outputId = deviceId;
  saveDevice('audiooutput', deviceId);
  for (const audio of watched?.querySelectorAll('audio') ?? []) applySink(audio);
}

/** The chosen speaker (null: the system's default). */
export function audioOutput(): string | null {
  return outputId ?? savedDevice('audiooutput');
}
