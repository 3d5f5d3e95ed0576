// The server's garbage collection during a relay step, read from its own
// `--trace-gc-nvp` lines (`--gc-trace on` adds the flag to the server and the
// bare hub). What the tail at many connections is made of: bytes promoted to
// the old generation per relayed message (what later costs a mark-compact),
// and the pauses of each kind.

import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { round1, round2 } from './procstat.js';

export interface GcSummary {
  scavenges: number;
  scavenge_pause_ms: number;
  promoted_kib: number;
  promoted_bytes_per_msg: number | null;
  mark_compacts: number;
  mark_compact_pause_ms: number;
  max_pause_ms: number;
}

/** Where the log ends now: the next step's GC lines start here. */
export function logOffset(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** The GC lines written to `file` since `from`; null when there are none (the flag is off). */
export function gcSince(file: string, from: number, messages: number): GcSummary | null {
  const text = readFrom(file, from);
  const s = { scavenges: 0, scavengePause: 0, promoted: 0, markCompacts: 0, markCompactPause: 0, maxPause: 0 };
  let lines = 0;
  for (const line of text.split('\n')) {
    const kind = /\bgc=(\w+)/.exec(line)?.[1];
    if (!kind) continue;
    lines++;
    const pause = Number(/\bpause=([\d.]+)/.exec(line)?.[1] ?? 0);
    s.maxPause = Math.max(s.maxPause, pause);
    if (kind === 's') {
      s.scavenges++;
      s.scavengePause += pause;
      s.promoted += Number(/\bpromoted=(\d+)/.exec(line)?.[1] ?? 0);
    } else if (kind === 'mc' || kind === 'ms') {
      s.markCompacts++;
      s.markCompactPause += pause;
    }
  }
  if (lines === 0) return null;
  return {
    scavenges: s.scavenges,
    scavenge_pause_ms: round1(s.scavengePause),
    promoted_kib: round1(s.promoted / 1024),
    promoted_bytes_per_msg: messages > 0 ? round2(s.promoted / messages) : null,
    mark_compacts: s.markCompacts,
    mark_compact_pause_ms: round1(s.markCompactPause),
    max_pause_ms: round1(s.maxPause),
  };
}

function readFrom(file: string, from: number): string {
  let fd: number | null = null;
  try {
    fd = openSync(file, 'r');
    const size = statSync(file).size;
    const buf = Buffer.alloc(Math.max(0, size - from));
    readSync(fd, buf, 0, buf.length, from);
    return buf.toString('utf8');
  } catch {
    return '';
  } finally {
    if (fd !== null) closeSync(fd);
  }
}
