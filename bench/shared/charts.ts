// Bench charts: Vega-Lite specs rendered to SVG in Node (vega's headless
// view, no canvas), then to PNG by headless Chromium (playwright-core, the
// browser tests' binary and flags). Each chart is written as <file>.svg and
// <file>.png beside the bench's JSON record.

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import { CHROMIUM, CHROMIUM_FLAGS } from '../../test/support/chromium.js';

export interface ChartSpec {
  /** Output path without extension, or ending in .png (the .svg goes beside it). */
  file: string;
  spec: vl.TopLevelSpec;
  width?: number;
  height?: number;
}

/** SVG text of one Vega-Lite spec (width/height override the spec's). */
export async function chartSvg(chart: ChartSpec): Promise<string> {
  const spec = {
    background: 'white',
    ...chart.spec,
    ...(chart.width ? { width: chart.width } : {}),
    ...(chart.height ? { height: chart.height } : {}),
  } as vl.TopLevelSpec;
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Renders each spec to <file>.svg and <file>.png; returns the PNG paths written. */
export async function renderCharts(
  charts: Array<{ file: string; spec: import('vega-lite').TopLevelSpec; width?: number; height?: number }>,
): Promise<string[]> {
  if (charts.length === 0) return [];
  const svgs: Array<{ png: string; svg: string }> = [];
  for (const chart of charts) {
    const base = chart.file.replace(/\.(png|svg)$/, '');
    mkdirSync(path.dirname(base), { recursive: true });
    const svg = await chartSvg(chart);
    writeFileSync(`${base}.svg`, svg);
    svgs.push({ png: `${base}.png`, svg });
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
  try {
    const page = await browser.newPage({ deviceScaleFactor: 2 });
    const written: string[] = [];
    for (const { png, svg } of svgs) {
      await page.setContent(`<!doctype html><html><body style="margin:0;background:#fff">${svg}</body></html>`);
      await page.locator('svg').first().screenshot({ path: png });
      written.push(png);
    }
    return written;
  } finally {
    await browser.close();
  }
}
