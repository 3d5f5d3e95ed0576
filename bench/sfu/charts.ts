// The SFU bench's charts (Vega-Lite, rendered by bench/shared/charts.ts):
// per fan-out room, forwarded packets per worker-CPU-second against N for
// Switchboard and, with --baseline, each anchor measured in the same run.
// Contended windows are drawn hollow.

import type { TopLevelSpec } from 'vega-lite';
import { ANCHOR_LABEL } from './anchors.js';
import type { FanoutRecord } from './steps.js';

const SYSTEMS = ['Switchboard', ANCHOR_LABEL.raw, `${ANCHOR_LABEL.janus} (RTP forwarders)`];

interface Point {
  subscribers: number;
  system: string;
  packets_per_worker_cpu_s: number;
  loss_pct: number;
  other_load_pct: number;
  window: 'quiet' | 'contended';
}

function points(r: FanoutRecord): Point[] {
  const out: Point[] = [];
  for (const x of r.steps) {
    const rows: Array<[string, typeof x | NonNullable<typeof x.raw>]> = [['Switchboard', x]];
    if (x.raw) rows.push([ANCHOR_LABEL.raw, x.raw]);
    if (x.janus) rows.push([`${ANCHOR_LABEL.janus} (RTP forwarders)`, x.janus]);
    for (const [system, m] of rows) {
      if (m.packets_per_worker_cpu_s === null) continue;
      out.push({
        subscribers: x.subscribers,
        system,
        packets_per_worker_cpu_s: m.packets_per_worker_cpu_s,
        loss_pct: Math.round(m.loss * 1e4) / 100,
        other_load_pct: m.box.other_pct,
        window: m.contended ? 'contended' : 'quiet',
      });
    }
  }
  return out;
}

/** One chart per fan-out room: `<prefix>.<mode>-<sink>` (.png and .svg). */
/** The systems a room's chart shows, in a fixed order (the same colours in every chart). */
function systemsOf(r: FanoutRecord): string[] {
  const present = new Set(points(r).map((p) => p.system));
  return SYSTEMS.filter((name) => present.has(name));
}

export function sfuCharts(
  rooms: FanoutRecord[],
  prefix: string,
  title: string,
): Array<{ file: string; spec: TopLevelSpec; width: number; height: number }> {
  return rooms
    .filter((r) => r.steps.length > 0)
    .map((r) => ({
      file: `${prefix}.${r.mode}-${r.sink}`,
      width: 560,
      height: 320,
      spec: {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        title: { text: `${r.mode} fan-out, ${r.sink} sinks: forwarded packets per worker-CPU-second`, subtitle: title },
        data: { values: points(r) },
        encoding: {
          x: { field: 'subscribers', type: 'quantitative', title: 'subscribers (N)' },
          y: {
            field: 'packets_per_worker_cpu_s',
            type: 'quantitative',
            title: 'forwarded packets per worker-CPU-s',
            scale: { zero: true },
          },
          color: {
            field: 'system',
            type: 'nominal',
            title: null,
            scale: { domain: systemsOf(r) },
            legend: { labelLimit: 0, orient: 'bottom' },
          },
        },
        layer: [
          { mark: { type: 'line' } },
          {
            mark: { type: 'point', size: 70, strokeWidth: 2 },
            encoding: {
              fill: {
                condition: {
                  test: "datum.window === 'quiet'",
                  field: 'system',
                  type: 'nominal',
                  scale: { domain: systemsOf(r) },
                },
                value: 'white',
              },
              tooltip: [
                { field: 'system' },
                { field: 'subscribers' },
                { field: 'packets_per_worker_cpu_s' },
                { field: 'loss_pct' },
                { field: 'other_load_pct' },
              ],
            },
          },
        ],
      },
    }));
}
