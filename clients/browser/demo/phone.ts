// The demo's phone: once online (connected, in no room), call a user id,
// answer or decline incoming calls (a dialog and a WebAudio ring tone, no
// audio files), and during a call see its timer and media mode, hold, hang up
// and dial DTMF. Only the SDK's public API.

import type { Call, SwitchboardClient } from '../sdk/index.js';

export interface PhoneUi {
  showError(message: string | null): void;
  logEvent(text: string): void;
  /** Shows the call's self-view (the camera the call sends). */
  showSelf(track: MediaStreamTrack): void;
}

function el<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} missing from index.html`);
  return found as T;
}

const KEYS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#'];
/** DTMF row and column frequencies (Hz), for the local key click. */
const DTMF_FREQ: Record<string, [number, number]> = {
  '1': [697, 1209], '2': [697, 1336], '3': [697, 1477],
  '4': [770, 1209], '5': [770, 1336], '6': [770, 1477],
  '7': [852, 1209], '8': [852, 1336], '9': [852, 1477],
  '*': [941, 1209], '0': [941, 1336], '#': [941, 1477],
}; // prettier-ignore

/** Tones made with WebAudio: the ring (incoming), ringback (outgoing) and key clicks. */
class Tones {
  private ctx: AudioContext | null = null;
  private timer: ReturnType<typeof setInterval> | undefined;

  /** Call from a user gesture (browsers start audio only after one). */
  unlock(): void {
    this.ctx ??= new AudioContext();
    void this.ctx.resume();
  }

  /** A repeating two-tone pattern: `on` ms of sound every `period` ms. */
  loop(freqs: [number, number], on: number, period: number): void {
    this.stop();
    const play = () => this.beep(freqs, on);
    play();
    this.timer = setInterval(play, period);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  beep(freqs: [number, number], ms: number): void {
    const ctx = this.ctx;
    if (!ctx) return;
    const gain = ctx.createGain();
    gain.gain.value = 0.08;
    gain.connect(ctx.destination);
    const end = ctx.currentTime + ms / 1000;
    for (const f of freqs) {
      const osc = ctx.createOscillator();
      osc.frequency.value = f;
      osc.connect(gain);
      osc.start();
      osc.stop(end);
    }
  }
}

export function attachPhone(client: SwitchboardClient, ui: PhoneUi): void {
  const phone = el<HTMLElement>('phone');
  const me = el<HTMLSpanElement>('phone-me');
  const dialForm = el<HTMLFormElement>('dial-form');
  const callee = el<HTMLInputElement>('callee');
  const mediaSelect = el<HTMLSelectElement>('call-media');
  const callBar = el<HTMLDivElement>('call-bar');
  const status = el<HTMLSpanElement>('call-status');
  const timer = el<HTMLSpanElement>('call-timer');
  const holdButton = el<HTMLButtonElement>('hold');
  const hangupButton = el<HTMLButtonElement>('hangup');
  const keypad = el<HTMLDivElement>('keypad');
  const dialog = el<HTMLDialogElement>('incoming');
  const incomingFrom = el<HTMLParagraphElement>('incoming-from');
  const acceptButton = el<HTMLButtonElement>('accept');
  const declineButton = el<HTMLButtonElement>('decline');

  const tones = new Tones();
  tones.unlock(); // attachPhone runs from the "Go online" click
  let current: Call | null = null;
  let ringing: Call | null = null;
  let started = 0;
  let clock: ReturnType<typeof setInterval> | undefined;

  phone.hidden = false;
  me.textContent = client.identity?.user_id ?? '';

  const render = () => {
    const call = current;
    callBar.hidden = !call;
    dialForm.hidden = Boolean(call);
    if (!call) return;
    const who = call.direction === 'outgoing' ? call.invited.join(', ') : call.from.display_name;
    const mode = call.mediaMode === 'none' ? '' : ` · ${call.mediaMode === 'p2p' ? 'peer-to-peer' : 'via server'}`;
    const held = call.onHold ? ' · on hold' : call.remoteOnHold ? ` · ${who} put you on hold` : '';
    status.textContent = `${call.status === 'ringing' ? 'Calling' : 'In call with'} ${who}${mode}${held}`;
    holdButton.textContent = call.onHold ? 'Resume' : 'Hold';
    holdButton.setAttribute('aria-pressed', String(call.onHold));
    holdButton.disabled = call.status !== 'active';
    for (const b of keypad.querySelectorAll('button')) b.disabled = call.status !== 'active';
  };

  const tick = () => {
    const s = Math.floor((Date.now() - started) / 1000);
    timer.textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  };

  /** Follows a call this client placed or answered. */
  const follow = (call: Call) => {
    current = call;
    const self = call.localTracks.find((t) => t.kind === 'video');
    if (self) ui.showSelf(self);
    const offs = [
      call.on('status', ({ status: s }) => {
        if (s === 'active') {
          tones.stop();
          started = Date.now();
          tick();
          clock = setInterval(tick, 1000);
        }
        render();
      }),
      call.on('call-declined', ({ by, reason }) => ui.logEvent(`${by.display_name} declined (${reason})`)),
      call.on('call-missed', ({ user_id }) => ui.logEvent(`${user_id} did not answer`)),
      call.on('media-mode', ({ mode, reason }) => {
        ui.logEvent(`call media: ${mode} (${reason})`);
        render();
      }),
      call.on('hold', () => render()),
      call.on('dtmf', ({ tones: t }) => ui.logEvent(`DTMF received: ${t}`)),
      call.on('call-ended', ({ reason }) => {
        ui.logEvent(`call ended (${reason})`);
        tones.stop();
        clearInterval(clock);
        timer.textContent = '0:00';
        current = null;
        for (const off of offs) off();
        render();
      }),
    ];
    if (call.status === 'ringing') tones.loop([440, 480], 2000, 6000); // ringback while it rings
    if (call.status === 'active') {
      started = Date.now();
      tick();
      clock = setInterval(tick, 1000);
    }
    render();
  };

  dialForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    ui.showError(null);
    const to = callee.value.trim();
    if (!to) return;
    tones.unlock();
    client
      .call(to, { media: mediaSelect.value === 'audio' ? 'audio' : 'video' })
      .then(follow, (err: Error) => ui.showError(`Could not call: ${err.message}`));
  });

  hangupButton.addEventListener('click', () => void current?.hangup().catch((err: Error) => ui.showError(err.message)));
  holdButton.addEventListener('click', () => {
    const call = current;
    if (!call) return;
    (call.onHold ? call.unhold() : call.hold()).then(render, (err: Error) => ui.showError(err.message));
    render();
  });

  keypad.replaceChildren(
    ...KEYS.map((key) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = key;
      b.setAttribute('aria-label', `Dial ${key === '*' ? 'star' : key === '#' ? 'pound' : key}`);
      b.addEventListener('click', () => {
        const freqs = DTMF_FREQ[key];
        if (freqs) tones.beep(freqs, 120);
        current?.sendDtmf(key).then(
          (how) => ui.logEvent(`DTMF sent: ${key} (${how === 'rtp' ? 'RFC 4733 in the audio' : 'dtmf message'})`),
          (err: Error) => ui.showError(err.message),
        );
      });
      return b;
    }),
  );

  // Incoming calls: a dialog with the caller's name, the ring tone until answered or gone.
  client.on('incoming-call', (call) => {
    ui.logEvent(`incoming ${call.media} call from ${call.from.display_name}${call.busy ? ' (call waiting)' : ''}`);
    if (ringing) return; // one dialog at a time; the other call rings out
    ringing = call;
    incomingFrom.textContent = `${call.from.display_name} (${call.from.user_id}) is calling: ${call.media}${call.busy ? ', you are in another call' : ''}`;
    dialog.showModal();
    tones.loop([440, 480], 1000, 3000);
    const close = () => {
      if (ringing !== call) return;
      ringing = null;
      tones.stop();
      dialog.close();
    };
    call.on('call-ended', ({ reason }) => {
      if (ringing === call) ui.logEvent(`the call from ${call.from.display_name} ended (${reason})`);
      close();
    });
    call.on('status', ({ status: s }) => {
      if (s !== 'ringing') close();
    });
  });

  acceptButton.addEventListener('click', () => {
    const call = ringing;
    if (!call) return;
    tones.stop();
    dialog.close();
    ringing = null;
    if (current) {
      ui.showError('Hang up the current call first');
      void call.decline('busy');
      return;
    }
    call.accept().then(
      () => follow(call),
      (err: Error) => ui.showError(`Could not answer: ${err.message}`),
    );
  });
  declineButton.addEventListener('click', () => {
    const call = ringing;
    ringing = null;
    tones.stop();
    dialog.close();
    void call?.decline().catch((err: Error) => ui.showError(err.message));
  });
  dialog.addEventListener('cancel', () => declineButton.click()); // Escape declines
}
