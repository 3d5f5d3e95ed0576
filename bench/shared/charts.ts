// Charts of a bench record: Vega-Lite specs rendered to SVG in Node (vega's
// headless View), then to PNG by a screenshot of the SVG in headless Chromium
// (the browser tests' Debian build, driven by playwright-core). Each chart is
// written as <file>.png with <file>.svg beside it.

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import { CHROMIUM, CHROMIUM_FLAGS } from '../../test/support/chromium.js';

export interface ChartSpec {
  /** The PNG to write (…/name.png); the SVG goes beside it (…/name.svg). */
  file: string;
  spec: vl.TopLevelSpec;
  /** Width and height of each view, in pixels (default: the spec's own, else Vega-Lite's). */
  width?: number;
  height?: number;
}

/** Renders each spec to SVG and PNG; returns the PNG paths written. */
export async function renderCharts(charts: Array<ChartSpec>): Promise<string[]> {
  if (charts.length === 0) return [];
  const svgs: Array<{ png: string; svg: string }> = [];
  for (const c of charts) {
    const spec = {
      background: 'white',
      ...c.spec,
      ...(c.width !== undefined ? { width: c.width } : {}),
      ...(c.height !== undefined ? { height: c.height } : {}),
    } as vl.TopLevelSpec;
    const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
    const svg = await view.toSVG();
    view.finalize();
    mkdirSync(path.dirname(c.file), { recursive: true });
    writeFileSync(c.file.replace(/\.png$/, '') + '.svg', svg);
    svgs.push({ png: c.file.endsWith('.png') ? c.file : `${c.file}.png`, svg });
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
  try {
    const page = await browser.newPage({ deviceScaleFactor: 2 });
    for (const { png, svg } of svgs) {
      await page.setContent(`<!doctype html><html><body style="margin:0;background:white">${svg}</body></html>`);
      await page.locator('svg').first().screenshot({ path: png });
    }
  } finally {
    await browser.close();
  }
  return svgs.map((x) => x.png);
}
