// The pre-join screen's media half, beside the join form: for a role that may
// publish, a live camera preview, a microphone level meter, camera /
// microphone / speaker pickers, "Join muted" and "Join without camera", and a
// plain message when the browser refuses the devices or has none (the user
// can still join, listening only). A viewer gets none of it and no device is
// asked for. On join the preview's tracks are handed over (published as they
// are: the camera is not opened twice); when the form goes away otherwise
// (online for calls) they are stopped. Choices persist in localStorage.

import { deviceConstraints, type Role } from '../sdk/index.js';
import {
  audioOutput,
  buildPicker,
  canChooseOutput,
  fillPicker,
  listDevices,
  saveDevice,
  savedDevice,
  setAudioOutput,
  type DeviceKind,
} from './devices.js';
import './prejoin.css';

/** What the user chose, and the preview's tracks once handed over (then the caller's to publish or stop). */
export interface PrejoinMedia {
  mic: MediaStreamTrack | null;
  camera: MediaStreamTrack | null;
  joinMuted: boolean;
  withoutCamera: boolean;
  /** The devices chosen (null: the browser's default). */
  micId: string | null;
  cameraId: string | null;
  /** False when no preview ran (a viewer, or a room link that joins at once): capture at join instead. */
  previewed: boolean;
}

const MUTED_KEY = 'switchboard.joinMuted';
const NO_CAMERA_KEY = 'switchboard.joinWithoutCamera';

function publishes(role: Role | null): boolean {
  return role === 'host' || role === 'moderator' || role === 'speaker';
}

/** The user-facing sentence for a getUserMedia failure. */
function explain(err: unknown, what: string): string {
  const name = err instanceof DOMException || err instanceof Error ? err.name : '';
  switch (name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return `The browser blocked the ${what}. Allow it for this site (the icon in the address bar), then press Try again. You can still join to watch and listen.`;
    case 'NotFoundError':
    case 'OverconstrainedError':
      return `No ${what} found. Plug one in and press Try again, or join to watch and listen.`;
    case 'NotReadableError':
    case 'AbortError':
      return `The ${what} could not start (another app may be using it). Close that app and press Try again, or join without it.`;
    default:
      return `Could not use the ${what}: ${String((err as Error)?.message ?? err)}`;
  }
}

export class Prejoin {
  private role: Role | null = null;
  private mic: MediaStreamTrack | null = null;
  private camera: MediaStreamTrack | null = null;
  /** Set on handOver until the form shows again: the tracks are the call's now. */
  private handedOver = false;
  /** Device work runs one step at a time, in order. */
  private queue: Promise<void> = Promise.resolve();
  private problems: { mic: string | null; camera: string | null } = { mic: null, camera: null };
  private audioContext: AudioContext | null = null;
  private meterTimer: ReturnType<typeof setInterval> | null = null;
  private meterSource: MediaStreamAudioSourceNode | null = null;

  private readonly video = document.createElement('video');
  private readonly placeholder = document.createElement('div');
  private readonly meter = document.createElement('meter');
  private readonly level = document.createElement('label');
  private readonly levelText = document.createElement('span');
  private readonly message = document.createElement('div');
  private readonly messageText = document.createElement('p');
  private readonly retry = document.createElement('button');
  private readonly mutedCheck = document.createElement('input');
  private readonly noCameraCheck = document.createElement('input');
  private readonly pickers: Record<DeviceKind, { field: HTMLElement; select: HTMLSelectElement }>;
  private readonly testSound = document.createElement('button');

  constructor(
    private readonly root: HTMLElement,
    private readonly form: HTMLElement,
  ) {
    this.pickers = {
      videoinput: buildPicker('videoinput', 'prejoin'),
      audioinput: buildPicker('audioinput', 'prejoin'),
      audiooutput: buildPicker('audiooutput', 'prejoin'),
    };
    this.build();
    // The form hides on join or when going online, and shows again after leaving.
    new MutationObserver(() => {
      if (!this.form.hidden) this.handedOver = false;
      this.schedule();
    }).observe(this.form, { attributes: true, attributeFilter: ['hidden'] });
    window.addEventListener('pagehide', () => this.stopAll());
    navigator.mediaDevices?.addEventListener?.('devicechange', () => {
      if (this.active()) void this.fillPickers();
    });
  }

  /** The role the form will join with (null: not known yet, e.g. no token typed). */
  setRole(role: Role | null): void {
    if (role === this.role) return;
    this.role = role;
    this.schedule();
  }

  /** The user's choices, without taking the tracks (before joining). */
  choice(): Omit<PrejoinMedia, 'mic' | 'camera'> {
    return {
      joinMuted: this.mutedCheck.checked,
      withoutCamera: this.noCameraCheck.checked,
      micId: this.mic?.getSettings().deviceId ?? savedDevice('audioinput'),
      cameraId: this.camera?.getSettings().deviceId ?? savedDevice('videoinput'),
      previewed: this.active(),
    };
  }

  /** Waits for device work in progress, then gives the preview's live tracks to the caller. */
  async handOver(): Promise<PrejoinMedia> {
    await this.queue;
    const media: PrejoinMedia = {
      ...this.choice(),
      mic: this.mic?.readyState === 'live' ? this.mic : null,
      camera: this.camera?.readyState === 'live' ? this.camera : null,
    };
    this.handedOver = true;
    this.mic = this.camera = null; // not stopped: the caller publishes them
    this.stopMeter();
    this.video.srcObject = null;
    this.schedule();
    return media;
  }

  // ---- DOM ---------------------------------------------------------------------

  private build(): void {
    this.root.className = 'prejoin';
    this.root.setAttribute('aria-label', 'Camera and microphone');

    const stage = document.createElement('div');
    stage.className = 'pj-stage';
    this.video.muted = true;
    this.video.autoplay = true;
    this.video.playsInline = true;
    this.video.setAttribute('aria-label', 'Your camera preview');
    this.placeholder.className = 'pj-placeholder';
    this.placeholder.textContent = 'Camera off';
    stage.append(this.video, this.placeholder);

    const level = this.level;
    level.className = 'pj-level';
    this.levelText.textContent = 'Mic';
    level.append(this.levelText);
    this.meter.id = 'prejoin-level';
    this.meter.min = 0;
    this.meter.max = 1;
    this.meter.low = 0.5;
    this.meter.high = 0.85;
    this.meter.optimum = 0.3;
    this.meter.value = 0;
    this.meter.setAttribute('aria-label', 'Microphone level');
    level.append(this.meter);

    this.message.className = 'pj-message';
    this.message.setAttribute('role', 'status');
    this.message.hidden = true;
    this.retry.type = 'button';
    this.retry.textContent = 'Try again';
    this.retry.addEventListener('click', () => {
      this.problems = { mic: null, camera: null };
      this.schedule();
    });
    this.message.append(this.messageText, this.retry);

    const toggles = document.createElement('div');
    toggles.className = 'pj-toggles';
    toggles.append(
      this.toggle(this.mutedCheck, 'prejoin-muted', 'Join muted', MUTED_KEY),
      this.toggle(this.noCameraCheck, 'prejoin-no-camera', 'Join without camera', NO_CAMERA_KEY),
    );

    const pickers = document.createElement('div');
    pickers.className = 'pj-pickers';
    for (const kind of ['videoinput', 'audioinput', 'audiooutput'] as const) {
      const { field, select } = this.pickers[kind];
      select.addEventListener('change', () => this.choose(kind, select.value));
      pickers.append(field);
    }
    this.testSound.type = 'button';
    this.testSound.className = 'pj-test-sound';
    this.testSound.textContent = 'Test speaker';
    this.testSound.hidden = true;
    this.testSound.addEventListener('click', () => void this.playTestSound());
    pickers.append(this.testSound);

    this.root.replaceChildren(stage, level, this.message, toggles, pickers);
  }

  private toggle(input: HTMLInputElement, id: string, text: string, key: string): HTMLLabelElement {
    const label = document.createElement('label');
    input.type = 'checkbox';
    input.id = id;
    input.checked = localStorage.getItem(key) === 'true';
    input.addEventListener('change', () => {
      localStorage.setItem(key, String(input.checked));
      if (input === this.noCameraCheck) this.schedule();
      this.render();
    });
    label.append(input, ` ${text}`);
    return label;
  }

  /** A device picked in one of the lists: remembered, and the preview switches to it. */
  private choose(kind: DeviceKind, deviceId: string): void {
    saveDevice(kind, deviceId);
    if (kind === 'audiooutput') {
      setAudioOutput(deviceId);
      return;
    }
    const current = kind === 'videoinput' ? this.camera : this.mic;
    if (current?.getSettings().deviceId === deviceId) return;
    this.queue = this.queue
      .then(async () => {
        if (!this.active()) return;
        const audio = kind === 'audioinput';
        try {
          const stream = await navigator.mediaDevices.getUserMedia({
            [audio ? 'audio' : 'video']: deviceConstraints(audio ? 'audio' : 'video', deviceId, true),
          });
          this.problems[audio ? 'mic' : 'camera'] = null;
          this.adopt(stream);
        } catch (err) {
          this.problems[audio ? 'mic' : 'camera'] = explain(err, audio ? 'microphone' : 'camera');
        }
        this.render();
        this.startMeter();
      })
      .catch(() => {});
  }

  // ---- devices -------------------------------------------------------------------

  /** The preview runs: the form shows, for a role that publishes, and nothing was handed over. */
  private active(): boolean {
    return publishes(this.role) && !this.form.hidden && !this.handedOver;
  }

  private schedule(): void {
    this.queue = this.queue.then(() => this.sync()).catch(() => {});
  }

  /** Captures what the preview lacks, stops what it should not have. */
  private async sync(): Promise<void> {
    this.root.hidden = !this.active();
    this.form.dataset['preview'] = String(this.active());
    if (!this.active()) {
      this.stopAll();
      return;
    }
    if (this.noCameraCheck.checked && this.camera) {
      this.camera.stop();
      this.camera = null;
    }
    const wantMic = !this.mic && !this.problems.mic;
    const wantCamera = !this.noCameraCheck.checked && !this.camera && !this.problems.camera;
    if (wantMic || wantCamera) await this.capture(wantMic, wantCamera);
    if (!this.active()) {
      this.stopAll(); // the role changed or the form went away meanwhile
      return;
    }
    this.render();
    this.startMeter();
    await this.fillPickers();
  }

  private async capture(wantMic: boolean, wantCamera: boolean): Promise<void> {
    if (!navigator.mediaDevices?.getUserMedia) {
      const why = 'This page may not use devices (it needs https:// or http://localhost). You can still join to watch and listen.';
      this.problems = { mic: why, camera: why };
      return;
    }
    // No device at all: say so without asking.
    const devices = await listDevices();
    if (!devices.some((d) => d.kind === 'audioinput' || d.kind === 'videoinput')) {
      this.problems = { mic: explain(new DOMException('', 'NotFoundError'), 'camera or microphone'), camera: null };
      return;
    }
    const ask = (audio: boolean, video: boolean, saved: boolean) =>
      navigator.mediaDevices.getUserMedia({
        audio: audio ? deviceConstraints('audio', saved ? savedDevice('audioinput') : null, true) : false,
        video: video ? deviceConstraints('video', saved ? savedDevice('videoinput') : null, true) : false,
      });
    // The devices chosen last time, else (unplugged since) the browser's default ones.
    const get = async (audio: boolean, video: boolean) => {
      try {
        return await ask(audio, video, true);
      } catch (err) {
        const name = (err as Error)?.name;
        if (name !== 'OverconstrainedError' && name !== 'NotFoundError') throw err;
        return ask(audio, video, false);
      }
    };
    try {
      this.adopt(await get(wantMic, wantCamera));
    } catch (err) {
      const name = (err as Error)?.name;
      if (wantMic && wantCamera && (name === 'NotFoundError' || name === 'OverconstrainedError' || name === 'NotReadableError')) {
        // One of the two may exist: take each on its own.
        for (const [audio, video] of [
          [true, false],
          [false, true],
        ] as const) {
          try {
            this.adopt(await get(audio, video));
          } catch (one) {
            this.problems[audio ? 'mic' : 'camera'] = explain(one, audio ? 'microphone' : 'camera');
          }
        }
      } else if (wantMic && wantCamera) {
        this.problems = { mic: explain(err, 'camera and microphone'), camera: null };
        this.problems.camera = this.problems.mic;
      } else {
        this.problems[wantMic ? 'mic' : 'camera'] = explain(err, wantMic ? 'microphone' : 'camera');
      }
    }
  }

  /** Keeps a captured stream's tracks (stopped at once when the preview closed meanwhile). */
  private adopt(stream: MediaStream): void {
    for (const track of stream.getTracks()) {
      if (!this.active() || (track.kind === 'video' && this.noCameraCheck.checked)) {
        track.stop();
        continue;
      }
      if (track.kind === 'audio') {
        this.mic?.stop();
        this.mic = track;
      } else {
        this.camera?.stop();
        this.camera = track;
      }
      // Unplugged, or the browser took it back: the preview takes another one (or says why not).
      track.addEventListener('ended', () => {
        if (this.mic === track) this.mic = null;
        else if (this.camera === track) this.camera = null;
        else return;
        this.schedule();
      });
    }
  }

  private async fillPickers(): Promise<void> {
    const devices = await listDevices();
    fillPicker(
      this.pickers.videoinput.field,
      this.pickers.videoinput.select,
      devices,
      this.camera?.getSettings().deviceId ?? savedDevice('videoinput'),
    );
    fillPicker(
      this.pickers.audioinput.field,
      this.pickers.audioinput.select,
      devices,
      this.mic?.getSettings().deviceId ?? savedDevice('audioinput'),
    );
    fillPicker(this.pickers.audiooutput.field, this.pickers.audiooutput.select, devices, audioOutput());
    this.pickers.videoinput.field.hidden ||= this.noCameraCheck.checked;
    this.testSound.hidden = this.pickers.audiooutput.field.hidden;
  }

  private render(): void {
    const camera = this.camera;
    if (camera) {
      if ((this.video.srcObject as MediaStream | null)?.getVideoTracks()[0] !== camera) {
        this.video.srcObject = new MediaStream([camera]);
        this.video.play().catch(() => {}); // muted: plays without a gesture
      }
    } else {
      this.video.srcObject = null;
    }
    this.root.classList.toggle('pj-no-video', !camera);
    this.placeholder.textContent = this.noCameraCheck.checked
      ? 'You join without camera'
      : this.problems.camera
        ? 'No camera'
        : 'Camera off';
    const problems = [...new Set([this.problems.camera, this.problems.mic].filter((p): p is string => p !== null))];
    this.message.hidden = problems.length === 0;
    this.messageText.textContent = problems.join(' ');
    this.level.hidden = !this.mic;
    this.levelText.textContent = this.mutedCheck.checked ? 'Mic (you join muted)' : 'Mic';
    this.pickers.videoinput.field.hidden ||= this.noCameraCheck.checked;
  }

  // ---- the level meter --------------------------------------------------------------

  private startMeter(): void {
    const track = this.mic;
    if (!track || this.meterTimer) return;
    const context = (this.audioContext ??= new AudioContext());
    if (context.state === 'suspended') {
      // Autoplay rules: audio processing starts with the first click or key press.
      const resume = () => void context.resume();
      document.addEventListener('pointerdown', resume, { once: true });
      document.addEventListener('keydown', resume, { once: true });
      void context.resume();
    }
    const source = context.createMediaStreamSource(new MediaStream([track]));
    this.meterSource = source;
    const analyser = context.createAnalyser();
    analyser.fftSize = 1024;
    source.connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    let shown = 0;
    this.meterTimer = setInterval(() => {
      if (this.mic !== track) {
        this.stopMeter();
        this.startMeter(); // another microphone: measure that one
        return;
      }
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const s of samples) sum += s * s;
      const db = 20 * Math.log10(Math.sqrt(sum / samples.length) || 1e-8);
      const level = Math.max(0, Math.min(1, (db + 60) / 60)); // -60..0 dBFS
      shown = Math.max(level, shown * 0.7); // falls back gently
      this.meter.value = shown;
    }, 80);
  }

  private stopMeter(): void {
    if (this.meterTimer) clearInterval(this.meterTimer);
    this.meterTimer = null;
    this.meterSource?.disconnect();
    this.meterSource = null;
    this.meter.value = 0;
  }

  /** A short tone on the chosen speaker. */
  private async playTestSound(): Promise<void> {
    const context = (this.audioContext ??= new AudioContext());
    await context.resume().catch(() => {});
    const destination = context.createMediaStreamDestination();
    const tone = context.createOscillator();
    const gain = context.createGain();
    tone.frequency.value = 660;
    gain.gain.setValueAtTime(0.2, context.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, context.currentTime + 0.6);
    tone.connect(gain).connect(destination);
    const audio = new Audio();
    audio.srcObject = destination.stream;
    const sink = audioOutput();
    if (canChooseOutput && sink) await audio.setSinkId(sink).catch(() => {});
    await audio.play().catch(() => {});
    tone.start();
    tone.stop(context.currentTime + 0.6);
    tone.addEventListener('ended', () => {
      audio.srcObject = null;
      tone.disconnect();
    });
  }

  /** Stops the preview (the form went away, or the role publishes nothing). */
  private stopAll(): void {
    this.stopMeter();
    this.mic?.stop();
    this.camera?.stop();
    this.mic = this.camera = null;
    this.video.srcObject = null;
    this.problems = { mic: null, camera: null };
  }
}
