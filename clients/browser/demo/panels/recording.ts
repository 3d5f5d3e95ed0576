// Recording: a "● Recording" banner for everyone while the room is recorded
// (from the join's room state, then recording-started / recording-finished);
// for hosts and moderators a Record / Stop recording button and a
// "Recordings" tab listing the room's recordings (state, duration, size) with
// a download link per file (client.listRecordings(): signed, expiring links).

import type { RecordingState, RoomRecording } from '../../sdk/index.js';
import type { AppContext } from '../shell.js';
import { actionButton, element, followSettings, formatBytes, formatDuration, keepingFocus, rolePanel, run } from './controls.js';
import './recording.css';

const STATUS_LABEL: Record<RoomRecording['status'], string> = {
  recording: 'recording',
  processing: 'processing',
  ready: 'ready',
  failed: 'failed',
};

export function mountRecording(ctx: AppContext): void {
  const { client } = ctx;
  let current: RecordingState | null = null;
  let stopping = false;

  const banner = ctx.addStatus('recording-status');
  banner.classList.add('rec-banner');
  const button = ctx.addToolbarButton('toggle-recording', 'Record');
  button.hidden = true;
  button.addEventListener('click', () => {
    if (stopping) return;
    if (current) {
      stopping = true;
      render();
      void run(ctx, null, () => client.stopRecording()).finally(() => {
        stopping = false;
        render();
      });
    } else {
      void run(ctx, button, () => client.startRecording());
    }
  });

  let list: HTMLOListElement | null = null;
  let empty: HTMLParagraphElement | null = null;
  const panel = rolePanel(ctx, 'recordings', 'Recordings', (body) => {
    const refresh = actionButton(ctx, 'Refresh', () => load(), { ariaLabel: 'Refresh the list of recordings', className: 'quiet' });
    empty = element('p', 'hint', 'Nothing recorded in this room yet.');
    list = element('ol', 'rec-list');
    list.setAttribute('aria-label', 'Recordings of this room');
    body.append(refresh, empty, list);
    document.getElementById('tab-recordings')?.addEventListener('click', () => void load().catch(() => {}));
  });

  const settings = followSettings(client, () => render());

  function render(): void {
    const staff = ctx.isStaff();
    const allowed = settings()?.recording_allowed ?? true;
    banner.hidden = current === null;
    banner.textContent = current ? `● Recording${current.mode === 'composite' ? ' (composite)' : ''}` : '';
    button.hidden = !staff || (!allowed && !current);
    button.textContent = stopping ? 'Stopping…' : current ? 'Stop recording' : 'Record';
    if (stopping) button.setAttribute('aria-disabled', 'true');
    else button.removeAttribute('aria-disabled');
    button.setAttribute('aria-pressed', String(current !== null));
    button.classList.toggle('rec-on', current !== null);
    panel(staff);
  }

  async function load(): Promise<void> {
    if (!list || !empty || !ctx.isStaff() || !client.room) return;
    const { recordings } = await client.listRecordings();
    empty.hidden = recordings.length > 0;
    const ol = list;
    keepingFocus(ol, () => ol.replaceChildren(...recordings.map(item)));
  }

  function item(r: RoomRecording): HTMLLIElement {
    const li = element('li', `rec-item rec-${r.status}`);
    li.dataset['recording'] = r.recording_id;
    li.dataset['key'] = r.recording_id;
    const started = new Date(r.started_at);
    const head = element('div', 'rec-head');
    head.append(
      element('strong', undefined, started.toLocaleString([], { dateStyle: 'short', timeStyle: 'short' })),
      element('span', `rec-state rec-state-${r.status}`, STATUS_LABEL[r.status]),
    );
    const facts = element('div', 'rec-facts', `${formatDuration(r.duration_seconds)} · ${formatBytes(r.size_bytes)} · ${r.mode}`);
    const files = element('ul', 'rec-files');
    for (const f of r.files) {
      const fi = element('li');
      const who = f.user_id
        ? ([...client.participants.values()].find((p) => p.user_id === f.user_id)?.display_name ?? f.user_id)
        : 'everyone';
      if (f.download_url) {
        const a = element('a', undefined, `Download ${who}`);
        a.href = f.download_url;
        a.download = f.name;
        a.setAttribute('aria-label', `Download the recording of ${who} (${formatBytes(f.size_bytes)})`);
        fi.append(a, document.createTextNode(` ${formatBytes(f.size_bytes)}`));
      } else {
        fi.textContent = `${who}: ${f.status}`;
      }
      files.append(fi);
    }
    li.append(head, facts, files);
    return li;
  }

  client.on('room-joined', ({ roomState }) => {
    current = roomState.recording ?? null;
    render();
    void load().catch(() => {});
  });
  client.on('recording-started', (r) => {
    current = r;
    ctx.logEvent('the room is being recorded');
    render();
  });
  client.on('recording-finished', ({ status, reason, error }) => {
    current = null;
    ctx.logEvent(`recording ${status} (${reason}${error ? `: ${error}` : ''})`);
    if (status === 'failed') ctx.showError(`The recording failed${error ? `: ${error}` : ''}; what was recorded is kept.`);
    render();
    void load().catch(() => {});
  });
  client.on('role-changed', ({ participant_id }) => {
    if (participant_id === client.participantId) {
      render();
      void load().catch(() => {});
    }
  });
}
