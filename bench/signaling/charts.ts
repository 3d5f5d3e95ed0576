// The signaling bench's charts (Vega-Lite specs, rendered by bench/shared/charts.ts
// beside the record): join rate, relay latency percentiles against the rate,
// and memory per connection, each for Switchboard and (with --baseline bare)
// the bare hub of the same run. A contended window is drawn hollow and named.

import type { TopLevelSpec } from 'vega-lite';
import type { ChartSpec } from '../shared/charts.js';
import type { ScenarioRecord, TargetRecord } from './scenario.js';

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';
const TARGETS = ['switchboard', 'bare hub'];
const TARGET_SCALE = { domain: TARGETS, range: ['#d95f02', '#1b9e77'] };
const TARGET_COLOR = { field: 'target', type: 'nominal', title: null, scale: TARGET_SCALE, sort: TARGETS };
const PERCENTILES = ['p50', 'p90', 'p99', 'p999'];
const HOLLOW = 'hollow: a contended window (other load above --quiet-threshold), not a result';

type Row = Record<string, string | number | boolean | null>;

function targets(s: ScenarioRecord): Array<[string, TargetRecord]> {
  return [['switchboard', s], ...(s.bare ? [['bare hub', s.bare] as [string, TargetRecord]] : [])];
}

/** Bars of one number per target, a panel per scenario, value labels, hollow when contended. */
/** Scenario panels in the order they ran. */
const columns = (rows: Row[]) => ({
  field: 'scenario',
  type: 'nominal',
  title: null,
  sort: [...new Set(rows.map((r) => String(r['scenario'])))],
});

function bars(title: string, subtitle: string[], yTitle: string, rows: Row[], xField = 'target'): TopLevelSpec {
  return {
    $schema: SCHEMA,
    title: { text: title, subtitle, anchor: 'start' },
    data: { values: rows },
    facet: { column: columns(rows) },
    spec: {
      width: xField === 'target' ? 160 : 220,
      height: 240,
      encoding: {
        x: { field: xField, type: 'nominal', title: null, axis: { labelAngle: 0 }, ...(xField === 'target' ? { sort: TARGETS } : {}) },
        ...(xField === 'target' ? {} : { xOffset: { field: 'target', type: 'nominal', sort: TARGETS } }),
        y: { field: 'value', type: 'quantitative', title: yTitle },
        color: TARGET_COLOR,
      },
      layer: [
        {
          mark: { type: 'bar', strokeWidth: 2 },
          encoding: {
            fillOpacity: { condition: { test: 'datum.contended', value: 0.15 }, value: 1 },
            stroke: { field: 'target', type: 'nominal', scale: TARGET_SCALE, sort: TARGETS, title: null },
          },
        },
        {
          mark: { type: 'text', dy: -7, fontSize: 11 },
          encoding: { text: { field: 'label', type: 'nominal' }, color: { value: 'black' } },
        },
      ],
    },
  } as TopLevelSpec;
}

export function signalingCharts(scenarios: ScenarioRecord[], base: string, baseline: string): ChartSpec[] {
  const suffix = baseline === 'bare' ? 'Switchboard and a bare ws hub, side by side in one run' : 'Switchboard';
  const contendedLabel = (v: number | null, contended: boolean | undefined) =>
    v === null ? 'n/a' : `${v}${contended ? ' (contended)' : ''}`;

  const joins: Row[] = [];
  const memory: Row[] = [];
  const relay: Row[] = [];
  for (const s of scenarios) {
    const scenario = `${s.name} (${s.connections ?? '?'} connections)`;
    for (const [target, t] of targets(s)) {
      if (t.join) {
        joins.push({
          scenario,
          target,
          value: t.join.joins_per_s,
          contended: t.join.contended,
          label: contendedLabel(t.join.joins_per_s, t.join.contended),
        });
      }
      if (t.hold) {
        for (const [metric, v] of [
          ['RSS', t.hold.rss_kib_per_connection],
          ['V8 heap', t.hold.heap_kib_per_connection],
        ] as const) {
          if (v !== null) memory.push({ scenario, target, metric, value: v, contended: t.hold.contended, label: String(v) });
        }
      }
      for (const r of t.relay ?? []) {
        if ('error' in r) continue;
        for (const p of ['p50', 'p90', 'p99', 'p999'] as const) {
          const ms = r.latency_ms[p];
          if (ms !== null)
            relay.push({ scenario, target, rate: r.target_rate, percentile: p, ms: Math.max(ms, 0.01), contended: r.contended });
        }
      }
    }
  }

  const charts: ChartSpec[] = [];
  if (joins.length) {
    charts.push({
      file: `${base}-joins.png`,
      spec: bars('Joins per second', ['connect + auth + join, one server process', suffix, HOLLOW], 'joins/s', joins),
    });
  }
  if (relay.length) {
    charts.push({
      file: `${base}-relay.png`,
      spec: {
        $schema: SCHEMA,
        title: {
          text: 'Offer relay latency by aggregate rate',
          subtitle: ['send -> receive, rooms of 10, p50 / p90 / p99 / p999', suffix, HOLLOW],
          anchor: 'start',
        },
        data: { values: relay },
        facet: { column: columns(relay) },
        resolve: { scale: { x: 'independent' } },
        spec: {
          width: 300,
          height: 260,
          encoding: {
            x: { field: 'rate', type: 'ordinal', sort: 'ascending', title: 'messages/s', axis: { labelAngle: 0 } },
            y: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, title: 'ms (log scale)' },
            color: TARGET_COLOR,
            strokeDash: { field: 'percentile', type: 'nominal', sort: PERCENTILES, title: 'percentile' },
          },
          layer: [
            { mark: { type: 'line' } },
            {
              mark: { type: 'point', size: 40, filled: true, strokeWidth: 1.5 },
              encoding: {
                stroke: { field: 'target', type: 'nominal', scale: TARGET_SCALE, sort: TARGETS, title: null },
                shape: { field: 'percentile', type: 'nominal', sort: PERCENTILES, title: 'percentile' },
                fillOpacity: { condition: { test: 'datum.contended', value: 0 }, value: 1 },
                tooltip: [{ field: 'contended' }],
              },
            },
          ],
        },
      } as TopLevelSpec,
    });
  }
  if (memory.length) {
    charts.push({
      file: `${base}-memory.png`,
      spec: bars(
        'Memory per held connection',
        ['server RSS and V8 heap growth / joined connections, each after a forced full GC', suffix, HOLLOW],
        'KiB per connection',
        memory,
        'metric',
      ),
    });
  }
  return charts;
}
