// Whiteboard: a shared canvas. Hosts, moderators and speakers draw with the
// pointer (a colour and a width); each stroke goes to the server when the
// pointer lifts (long strokes in segments, each under the 8 KiB limit) and
// everyone else draws it as `whiteboard-stroke` arrives. The board a late
// joiner finds is in the join's room state. Hosts and moderators may clear it.
// Coordinates are stored normalised (0..1 of the board's width and height) so
// the board scales with the panel; the board keeps a 4:3 shape.
//
// A stroke on the wire: { tool: 'pen', color: '#rrggbb', width, points: [[x, y], ...] }
// with width a fraction of the board's width.

import type { WhiteboardStroke } from '../../sdk/index.js';
import type { AppContext } from '../shell.js';
import { actionButton, element } from './controls.js';
import './whiteboard.css';

interface Stroke {
  color: string;
  width: number;
  points: Array<[number, number]>;
}

const COLORS: Array<[string, string]> = [
  ['#f5f5f5', 'White'],
  ['#3d8bfd', 'Blue'],
  ['#3ddc84', 'Green'],
  ['#f5a524', 'Orange'],
  ['#e5484d', 'Red'],
];
const WIDTHS: Array<[number, string]> = [
  [0.006, 'Thin'],
  [0.015, 'Medium'],
  [0.035, 'Thick'],
];
/** Points per message: [0.1234,0.5678], is 16 bytes, so 300 points stay well under 8 KiB. */
const SEGMENT_POINTS = 300;

/** A stroke from the wire, if it has the shape this app draws (others may send anything). */
function parse(stroke: Record<string, unknown>): Stroke | null {
  const { color, width, points } = stroke;
  if (typeof color !== 'string' || !/^#[0-9a-fA-F]{6}$/.test(color)) return null;
  if (typeof width !== 'number' || !(width > 0 && width < 0.2)) return null;
  if (!Array.isArray(points)) return null;
  const pts: Array<[number, number]> = [];
  for (const p of points) {
    if (!Array.isArray(p) || typeof p[0] !== 'number' || typeof p[1] !== 'number') return null;
    pts.push([p[0], p[1]]);
  }
  return pts.length > 0 ? { color, width, points: pts } : null;
}

const round = (n: number) => Math.round(Math.min(1, Math.max(0, n)) * 10_000) / 10_000;

export function mountWhiteboard(ctx: AppContext): void {
  const { client } = ctx;
  const strokes: Stroke[] = [];
  let color = COLORS[1][0];
  let width = WIDTHS[1][0];

  const body = ctx.addPanel('whiteboard', 'Whiteboard');
  const tools = element('div', 'wb-tools');
  tools.setAttribute('role', 'toolbar');
  tools.setAttribute('aria-label', 'Drawing tools');
  const swatches = element('div', 'wb-colors');
  swatches.setAttribute('role', 'radiogroup');
  swatches.setAttribute('aria-label', 'Colour');
  for (const [value, name] of COLORS) {
    const b = element('button', 'wb-swatch');
    b.type = 'button';
    b.setAttribute('role', 'radio');
    b.setAttribute('aria-label', name);
    b.setAttribute('aria-checked', String(value === color));
    b.style.background = value;
    b.addEventListener('click', () => {
      color = value;
      for (const s of swatches.children) s.setAttribute('aria-checked', String(s === b));
    });
    swatches.append(b);
  }
  const widthLabel = element('label', 'wb-width', 'Width ');
  const widthSelect = element('select');
  for (const [value, name] of WIDTHS) {
    const o = element('option', undefined, name);
    o.value = String(value);
    o.selected = value === width;
    widthSelect.append(o);
  }
  widthSelect.addEventListener('change', () => {
    width = Number(widthSelect.value);
  });
  widthLabel.append(widthSelect);
  const clear = actionButton(ctx, 'Clear', () => client.clearWhiteboard(), { ariaLabel: 'Clear the whiteboard', className: 'danger' });
  tools.append(swatches, widthLabel, clear);
  const note = element('p', 'hint wb-note', 'You can watch the board; speakers, moderators and hosts draw on it.');
  const frame = element('div', 'wb-frame');
  const canvas = element('canvas', 'wb-canvas');
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', 'Shared whiteboard');
  frame.append(canvas);
  body.append(tools, note, frame);

  const draws = () => ctx.mayPublish(); // host, moderator, speaker: whiteboard-draw
  function renderControls(): void {
    tools.hidden = !draws();
    note.hidden = draws();
    clear.hidden = !ctx.isStaff();
    canvas.classList.toggle('wb-drawable', draws());
  }

  // ---- drawing ----
  function paint(s: Stroke): void {
    const g = canvas.getContext('2d');
    if (!g || canvas.width === 0) return;
    g.strokeStyle = s.color;
    g.fillStyle = s.color;
    g.lineWidth = Math.max(1, s.width * canvas.width);
    g.lineCap = 'round';
    g.lineJoin = 'round';
    const [first] = s.points;
    if (s.points.length === 1) {
      g.beginPath();
      g.arc(first[0] * canvas.width, first[1] * canvas.height, g.lineWidth / 2, 0, Math.PI * 2);
      g.fill();
      return;
    }
    g.beginPath();
    g.moveTo(first[0] * canvas.width, first[1] * canvas.height);
    for (const [x, y] of s.points.slice(1)) g.lineTo(x * canvas.width, y * canvas.height);
    g.stroke();
  }

  function repaint(): void {
    const w = Math.round(frame.clientWidth * devicePixelRatio);
    const h = Math.round(w * 0.75);
    if (w > 0 && (canvas.width !== w || canvas.height !== h)) {
      canvas.width = w;
      canvas.height = h;
    }
    canvas.getContext('2d')?.clearRect(0, 0, canvas.width, canvas.height);
    for (const s of strokes) paint(s);
  }
  new ResizeObserver(() => repaint()).observe(frame); // also when the tab is first shown

  // ---- the pointer ----
  let live: Stroke | null = null;
  let unsent = 0; // points of `live` not yet sent

  function at(ev: PointerEvent): [number, number] {
    const r = canvas.getBoundingClientRect();
    return [round((ev.clientX - r.left) / r.width), round((ev.clientY - r.top) / r.height)];
  }

  function send(s: Stroke, from: number): void {
    // A segment starts at the last point sent, so the line stays joined.
    const points = s.points.slice(Math.max(0, from - 1));
    void client.drawStroke({ tool: 'pen', color: s.color, width: s.width, points }).catch((err: Error) => ctx.showError(err.message));
  }

  canvas.addEventListener('pointerdown', (ev) => {
    if (!draws() || ev.button !== 0) return;
    canvas.setPointerCapture(ev.pointerId);
    live = { color, width, points: [at(ev)] };
    unsent = 0;
    strokes.push(live);
    paint(live);
  });
  canvas.addEventListener('pointermove', (ev) => {
    if (!live) return;
    const p = at(ev);
    const last = live.points[live.points.length - 1];
    if (p[0] === last[0] && p[1] === last[1]) return;
    live.points.push(p);
    paint({ ...live, points: [last, p] });
    if (live.points.length - unsent >= SEGMENT_POINTS) {
      send(live, unsent);
      unsent = live.points.length;
    }
  });
  const end = () => {
    if (!live) return;
    if (unsent < live.points.length) send(live, unsent);
    live = null;
  };
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);

  // ---- the room's board ----
  function add(w: WhiteboardStroke): void {
    const s = parse(w.stroke);
    if (!s) return;
    strokes.push(s);
    paint(s);
  }

  client.on('room-joined', ({ roomState }) => {
    strokes.length = 0;
    live = null;
    for (const w of roomState.whiteboard ?? []) {
      const s = parse(w.stroke);
      if (s) strokes.push(s);
    }
    renderControls();
    repaint();
  });
  client.on('whiteboard-stroke', (w) => add(w));
  client.on('whiteboard-cleared', ({ by }) => {
    strokes.length = 0;
    live = null;
    repaint();
    ctx.logEvent(`the whiteboard was cleared${by ? ` by ${ctx.nameOf(by)}` : ''}`);
  });
  client.on('role-changed', ({ participant_id }) => {
    if (participant_id === client.participantId) renderControls();
  });
}
