// After the run: every acknowledged write must have its row (checked by SQL),
// and every webhook event in the outbox must have reached the receiver, once
// at least, in order per room, correctly signed. Findings are attributed to
// the fault whose period they fall in: fault k owns everything after fault
// k-1's window ended, up to the end of its own window.

import { query } from './db.js';
import type { AckedWrite, SignalingLoad } from './load.js';
import type { WebhookReceiver } from './receiver.js';

export interface RowsCheck {
  acked: number;
  lost: number;
  /** Lost rows by kind, with a few examples. */
  lost_by_kind: Record<string, number>;
  examples: string[];
  /** Strokes whose room's call ended after the ack (the end of a call clears the whiteboard): not counted as lost. */
  strokes_cleared_by_call_end: number;
  /** Hands whose last operation had no definite answer: not checked. */
  hands_unverifiable: number;
}

export interface EventsCheck {
  in_outbox: number;
  received: number;
  lost: number;
  given_up: number;
  reordered: number;
  created_at_inversions: number;
  duplicated: number;
  /** Acknowledged joins/leaves without their participant_joined/participant_left row in the outbox. */
  acked_without_event: number;
  examples: string[];
}

export interface Verification {
  rows: Record<string, RowsCheck>;
  events: Record<string, EventsCheck>;
  bad_signatures: number;
  received_not_in_outbox: number;
}

interface OutboxRow {
  id: string;
  event_id: string;
  room: string;
  event: string;
  created_ms: number;
  failed: boolean;
  pid: string | null;
}

/** Period name of a wall time: the first window that ends at or after it, else "after". */
function bucketer(windows: Array<{ name: string; to_ms: number }>): (at: number) => string {
  const sorted = [...windows].sort((a, b) => a.to_ms - b.to_ms);
  return (at) => sorted.find((w) => at <= w.to_ms)?.name ?? 'after';
}

const emptyRows = (): RowsCheck => ({
  acked: 0,
  lost: 0,
  lost_by_kind: {},
  examples: [],
  strokes_cleared_by_call_end: 0,
  hands_unverifiable: 0,
});
const emptyEvents = (): EventsCheck => ({
  in_outbox: 0,
  received: 0,
  lost: 0,
  given_up: 0,
  reordered: 0,
  created_at_inversions: 0,
  duplicated: 0,
  acked_without_event: 0,
  examples: [],
});

export async function verifyRows(
  url: string,
  load: SignalingLoad,
  windows: Array<{ name: string; to_ms: number }>,
): Promise<Record<string, RowsCheck>> {
  const bucket = bucketer(windows);
  const out: Record<string, RowsCheck> = {};
  const at = (name: string) => (out[name] ??= emptyRows());
  const joins = load.acked.filter((a): a is Extract<AckedWrite, { kind: 'join' }> => a.kind === 'join');
  const leaves = load.acked.filter((a): a is Extract<AckedWrite, { kind: 'leave' }> => a.kind === 'leave');
  const strokes = load.acked.filter((a): a is Extract<AckedWrite, { kind: 'stroke' }> => a.kind === 'stroke');
  const ids = [...new Set([...joins, ...leaves].map((a) => a.participant_id))];
  const participants = new Map(
    (
      await query<{ id: string; left: boolean }>(url, 'SELECT id, left_at IS NOT NULL AS left FROM participants WHERE id = ANY($1)', [ids])
    ).map((r) => [r.id, r.left]),
  );
  const strokeRows = new Set(
    (
      await query<{ seq: string }>(url, 'SELECT seq::text AS seq FROM whiteboard_strokes WHERE seq = ANY($1::bigint[])', [
        strokes.map((s) => s.stroke_id),
      ])
    ).map((r) => r.seq),
  );
  const rooms = [...new Set(load.acked.map((a) => a.room))];
  const callEnds = await query<{ room: string; ended_ms: string }>(
    url,
    'SELECT room, (extract(epoch FROM ended_at) * 1000)::bigint::text AS ended_ms FROM calls WHERE room = ANY($1) AND ended_at IS NOT NULL',
    [rooms],
  );
  const hands = new Set(
    (await query<{ room: string; user_id: string }>(url, 'SELECT room, user_id FROM room_hands WHERE room = ANY($1)', [rooms])).map(
      (r) => `${r.room}\u0000${r.user_id}`,
    ),
  );

  const lost = (a: AckedWrite, what: string) => {
    const r = at(bucket(a.at));
    r.lost++;
    r.lost_by_kind[a.kind] = (r.lost_by_kind[a.kind] ?? 0) + 1;
    if (r.examples.length < 5) r.examples.push(`${what} (acked ${new Date(a.at).toISOString()})`);
  };
  for (const a of load.acked) at(bucket(a.at)).acked++;
  for (const j of joins) if (!participants.has(j.participant_id)) lost(j, `participants row ${j.participant_id} of ${j.user}`);
  for (const l of leaves) if (participants.get(l.participant_id) !== true) lost(l, `left_at of ${l.participant_id} of ${l.user}`);
  for (const s of strokes) {
    if (strokeRows.has(s.stroke_id)) continue;
    if (callEnds.some((c) => c.room === s.room && Number(c.ended_ms) >= s.at)) at(bucket(s.at)).strokes_cleared_by_call_end++;
    else lost(s, `whiteboard stroke ${s.stroke_id} in ${s.room}`);
  }
  // Hands: the final state of each (room, user) must be that of its last acknowledged operation.
  const lastHand = new Map<string, Extract<AckedWrite, { kind: 'hand' }>>();
  for (const a of load.acked) if (a.kind === 'hand') lastHand.set(`${a.room}\u0000${a.user}`, a);
  for (const [key, a] of lastHand) {
    if (load.handUncertain.has(key)) {
      at(bucket(a.at)).hands_unverifiable++;
      continue;
    }
    const ended = callEnds.some((c) => c.room === a.room && Number(c.ended_ms) >= a.at);
    if (hands.has(key) !== a.raised && !ended) lost(a, `hand of ${a.user} in ${a.room} should be ${a.raised ? 'raised' : 'lowered'}`);
  }
  return out;
}

export async function verifyEvents(
  url: string,
  load: SignalingLoad,
  receiver: WebhookReceiver,
  windows: Array<{ name: string; to_ms: number }>,
): Promise<{ events: Record<string, EventsCheck>; receivedNotInOutbox: number }> {
  const bucket = bucketer(windows);
  const out: Record<string, EventsCheck> = {};
  const at = (name: string) => (out[name] ??= emptyEvents());
  const rows = (
    await query<{ id: string; event_id: string; room: string; event: string; created_ms: string; failed: boolean; pid: string | null }>(
      url,
      `SELECT id::text AS id, event_id::text AS event_id, room, event, (extract(epoch FROM created_at) * 1000)::bigint::text AS created_ms,
            failed_at IS NOT NULL AS failed, body::jsonb -> 'participant' ->> 'participant_id' AS pid
       FROM webhook_outbox ORDER BY id`,
    )
  ).map((r): OutboxRow => ({ ...r, created_ms: Number(r.created_ms) }));
  const byEvent = new Map(rows.map((r) => [r.event_id, r]));
  for (const r of rows) {
    const w = at(bucket(r.created_ms));
    w.in_outbox++;
    if (r.failed) w.given_up++;
    if (receiver.events.has(r.event_id)) w.received++;
    else {
      w.lost++;
      if (w.examples.length < 5) w.examples.push(`lost: ${r.event} ${r.event_id} of ${r.room}`);
    }
  }
  // Order per room: by first accepted arrival, outbox ids must increase.
  const arrived = [...receiver.events.values()].sort((a, b) => a.order - b.order);
  const maxId = new Map<string, number>();
  const maxCreated = new Map<string, number>();
  for (const e of arrived) {
    const row = byEvent.get(e.id);
    if (!row) continue;
    const id = Number(row.id);
    if (id < (maxId.get(e.room) ?? -1)) {
      const w = at(bucket(row.created_ms));
      w.reordered++;
      if (w.examples.length < 5) w.examples.push(`reordered: ${row.event} ${e.id} of ${e.room} arrived after a later event`);
    }
    maxId.set(e.room, Math.max(id, maxId.get(e.room) ?? -1));
    const created = Date.parse(e.created_at);
    if (created < (maxCreated.get(e.room) ?? -Infinity)) at(bucket(row.created_ms)).created_at_inversions++;
    maxCreated.set(e.room, Math.max(created, maxCreated.get(e.room) ?? -Infinity));
  }
  for (const d of receiver.duplicates) {
    const w = at(bucket(d.at));
    w.duplicated++;
    const first = receiver.events.get(d.id);
    if (w.examples.length < 5)
      w.examples.push(
        `duplicate: ${first?.event} ${d.id} of ${first?.room}, first ${new Date(first?.received_at ?? 0).toISOString()}, again ${new Date(d.at).toISOString()}`,
      );
  }
  // What the load did must be in the outbox: a participant_joined per acked join, a participant_left per acked leave.
  const stored = new Set(rows.filter((r) => r.pid !== null).map((r) => `${r.event}\u0000${r.pid}`));
  for (const a of load.acked) {
    if (a.kind !== 'join' && a.kind !== 'leave') continue;
    const name = a.kind === 'join' ? 'participant_joined' : 'participant_left';
    if (!stored.has(`${name}\u0000${a.participant_id}`)) {
      const w = at(bucket(a.at));
      w.acked_without_event++;
      if (w.examples.length < 5) w.examples.push(`no ${name} for ${a.participant_id} of ${a.user}`);
    }
  }
  const receivedNotInOutbox = [...receiver.events.keys()].filter((id) => !byEvent.has(id)).length;
  return { events: out, receivedNotInOutbox };
}

/** Waits (bounded) until the receiver has every event of the outbox; returns how many are still missing. */
export async function waitDelivered(url: string, receiver: WebhookReceiver, timeoutMs: number, stopped: () => boolean): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await query<{ event_id: string }>(
      url,
      'SELECT DISTINCT event_id::text AS event_id FROM webhook_outbox WHERE failed_at IS NULL',
    ).catch(() => null);
    const missing = rows ? rows.filter((r) => !receiver.events.has(r.event_id)).length : -1;
    if (missing === 0 || Date.now() > deadline || stopped()) return missing;
    await new Promise((r) => setTimeout(r, 500));
  }
}
