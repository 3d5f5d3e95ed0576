// The record on disk (results/<timestamp>.json and latest.json) and the
// Markdown table for docs/reliability.md.

import { resultStamp, writeResultFiles } from '../shared/results.js';
import type { FaultResult } from './faults.js';
import type { EventsCheck, RowsCheck } from './verify.js';

export interface FaultRecordEntry extends Partial<FaultResult> {
  fault: string;
  error?: string;
  rows?: RowsCheck;
  events?: EventsCheck;
}

const TITLES: Record<string, string> = {
  worker: 'mediasoup worker SIGKILL',
  postgres: 'PostgreSQL fast restart',
  redis: 'Redis restart (empty)',
  webhooks: 'webhook receiver stall',
};

const s = (ms: number | null | undefined) => (ms === null || ms === undefined ? 'not recovered' : `${(ms / 1000).toFixed(1)} s`);
const codes = (refused: Record<string, number>) =>
  Object.entries(refused)
    .map(([k, v]) => `${v} ${k}`)
    .join(', ');

/** The headline time; a probe that was never refused says so, with its slowest try. */
function recovery(f: FaultRecordEntry): string {
  const writes = f.detail?.['writes'] as { failures: number; slowest_ms: number } | undefined;
  if (f.fault === 'postgres' && writes && writes.failures === 0 && f.detail?.['load_writes_refused'] === 0)
    return `no write refused (slowest ${s(writes.slowest_ms)})`;
  return s(f.recovery_ms);
}

function affected(f: FaultRecordEntry): string {
  const parts: string[] = [];
  const l = f.load;
  if (f.media && f.fault === 'worker') parts.push(`${f.media.reset} of ${f.media.bots} media bots reset, ${f.media.lost_media} lost media`);
  else if (f.media && (f.media.lost_media > 0 || f.media.disconnected > 0))
    parts.push(`${f.media.lost_media} of ${f.media.bots} media bots lost media, ${f.media.disconnected} reconnected`);
  if (l) {
    parts.push(`${l.participants_disconnected} of ${l.participants} signaling participants disconnected`);
    if (l.participants_refused > 0) parts.push(`${l.participants_refused} got refusals (${codes(l.refused)})`);
  }
  return parts.join('; ') || '-';
}

function notes(f: FaultRecordEntry): string {
  if (f.error) return `error: ${f.error.split('\n')[0]}`;
  const d = f.detail ?? {};
  const out: string[] = [];
  if (f.fault === 'worker') out.push(`worker replaced after ${s(d['worker_replaced_ms'] as number | null)}`);
  if (f.fault === 'postgres') {
    const w = d['writes'] as { failures: number; codes: Record<string, number> } | undefined;
    out.push(
      `probe writes refused: ${w ? `${w.failures}${w.failures > 0 ? ` (${codes(w.codes)})` : ''}` : '?'}; health ok again after ${s(d['health_ok_ms'] as number | null)}; postgres accepting after ${s(d['accepting_again_ms'] as number)}`,
    );
  }
  if (f.fault === 'redis') {
    const nr = d['new_room'] as { recovered_ms: number | null; failures: number } | undefined;
    const rs = d['relayed_signaling'] as { recovered_ms: number | null; failures: number } | undefined;
    const r = (x: { recovered_ms: number | null; failures?: number } | undefined) =>
      x?.failures === 0 ? 'never interrupted' : `back after ${s(x?.recovered_ms)}`;
    out.push(`new room placement ${r(nr)}, relayed signaling ${r(rs)}`);
  }
  if (f.fault === 'webhooks') {
    out.push(
      `${d['stall_s']} s stall (half hang, half 503); backlog ${d['backlog_at_stall_end']} events; time to recover = drain after the stall`,
    );
  }
  if (f.rows && f.rows.strokes_cleared_by_call_end > 0) out.push(`${f.rows.strokes_cleared_by_call_end} strokes cleared by a call end`);
  if (f.events && f.events.acked_without_event > 0) out.push(`${f.events.acked_without_event} acked joins/leaves without their event`);
  if (f.events && f.events.given_up > 0) out.push(`${f.events.given_up} events given up`);
  if (f.box_load) out.push(`box ${f.box_load.fault.machine_busy_pct}% busy, other load ${f.box_load.fault.other_pct}%`);
  return out.join('; ');
}

export function markdownTable(faults: FaultRecordEntry[]): string {
  const rows = faults.map((f) => {
    const title = f.fault === 'webhooks' && f.detail ? `${TITLES[f.fault]} (${f.detail['stall_s']} s)` : (TITLES[f.fault] ?? f.fault);
    const rowsLost = f.rows ? `${f.rows.lost} of ${f.rows.acked}` : 'not checked';
    const ev = f.events ? `${f.events.lost} / ${f.events.reordered} / ${f.events.duplicated} (of ${f.events.in_outbox})` : 'not checked';
    return `| ${title} | ${f.error ? 'failed' : recovery(f)} | ${affected(f)} | ${rowsLost} | ${ev} | ${notes(f)} |`;
  });
  return [
    '| fault | time to recover | participants affected | acked rows lost | webhook events lost / reordered / duplicated | notes |',
    '|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

/** Writes results/<stamp>[-label].json and latest.json; returns the file. */
export function writeRecord(outDir: string, startedAt: Date, label: string, record: unknown): string {
  return writeResultFiles(outDir, `${resultStamp(startedAt)}${label ? `-${label}` : ''}`, record);
}
