// Runs every compiled test file (dist/test/**/*.test.js) in its own Node
// process, a few at a time, and ends with the line CI reads:
// "N passed, N failed". Usage: node dist/test/run.js [filter...]

import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.dirname(fileURLToPath(import.meta.url));
const FILE_TIMEOUT_MS = Number(process.env['TEST_FILE_TIMEOUT_MS'] ?? 300_000);
const CONCURRENCY = Number(process.env['TEST_CONCURRENCY'] ?? 2);
/** How long a test file may take to exit once its tests finished (closing servers, databases, bots). */
const EXIT_GRACE_MS = Number(process.env['TEST_EXIT_GRACE_MS'] ?? 30_000);

interface Outcome {
  file: string;
  passed: number;
  failed: number;
  skipped: number;
  seconds: number;
  output: string;
  /** The first run died by a native crash (the outcome is the second run's). */
  crashed?: boolean;
}

function findTests(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...findTests(full));
    else if (name.endsWith('.test.js')) out.push(full);
  }
  return out.sort();
}

function runFile(file: string): Promise<Outcome> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--enable-source-maps', file], {
      env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let lingering: NodeJS.Timeout | null = null;
    const onOutput = (d: Buffer) => {
      output += d;
      // uvu's summary is printed when every test ran: a process still alive long after it holds
      // a leaked handle (an open socket, a native media track) and would otherwise use up FILE_TIMEOUT_MS.
      if (!lingering && /Duration:/.test(output)) {
        lingering = setTimeout(() => {
          output += `\n[runner] still running ${EXIT_GRACE_MS} ms after its tests finished (a leaked handle keeps it alive): killed\n`;
          child.kill('SIGKILL');
        }, EXIT_GRACE_MS);
      }
    };
    child.stdout.on('data', onOutput);
    child.stderr.on('data', onOutput);
    const timer = setTimeout(() => {
      output += `\n[runner] killed after ${FILE_TIMEOUT_MS} ms\n`;
      child.kill('SIGKILL');
    }, FILE_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (lingering) clearTimeout(lingering);
      // A file that dies without a word (a native crash in a media library) says how it ended.
      if (code !== 0) output += `\n[runner] exited with ${signal ? `signal ${signal}` : `code ${code}`}\n`;
      // eslint-disable-next-line no-control-regex -- strips uvu's ANSI colour codes, which start with ESC
      const clean = output.replace(/\x1b\[[0-9;]*m/g, '');
      const total = sum(clean, /Total:\s+(\d+)/g);
      const passed = sum(clean, /Passed:\s+(\d+)/g);
      const skipped = sum(clean, /Skipped:\s+(\d+)/g);
      // uvu counts tests skipped by `.only` as skipped but not in Total: never below zero.
      let failed = Math.max(0, total - passed - skipped);
      // A file that crashed or exited non-zero without a failing test still fails once.
      if (code !== 0 && failed === 0) failed = 1;
      resolve({ file: path.relative(ROOT, file), passed, failed, skipped, seconds: (Date.now() - started) / 1000, output: clean });
    });
  });
}

function sum(text: string, re: RegExp): number {
  let total = 0;
  for (const m of text.matchAll(re)) total += Number(m[1]);
  return total;
}

/**
 * Runs a file; a file whose process died by a signal it did not get from the
 * runner (a native crash: SIGSEGV/SIGABRT in libwebrtc of @roamhq/wrtc, the
 * test peers' library) runs once more, and the output says so with both runs.
 */
async function runFileOnce(file: string): Promise<Outcome> {
  const first = await runFile(file);
  if (!/\[runner\] exited with signal SIG(SEGV|ABRT|BUS|ILL)\b/.test(first.output)) return first;
  const again = await runFile(file);
  const note = `[runner] the first run died by a native crash (output above); ran it once more:\n`;
  return { ...again, seconds: first.seconds + again.seconds, output: `${first.output}\n${note}${again.output}`, crashed: true };
}

async function main(): Promise<void> {
  const filters = process.argv.slice(2);
  const files = findTests(ROOT).filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
  const queue = [...files];
  const outcomes: Outcome[] = [];
  const worker = async () => {
    for (let file = queue.shift(); file; file = queue.shift()) {
      const outcome = await runFileOnce(file);
      outcomes.push(outcome);
      const status = outcome.failed > 0 ? 'FAIL' : 'ok  ';
      process.stdout.write(
        `${status} ${outcome.file}  ${outcome.passed} passed, ${outcome.failed} failed (${outcome.seconds.toFixed(1)} s)${outcome.crashed ? ' [second run: the first died by a native crash]' : ''}\n`,
      );
      if (outcome.failed > 0 || outcome.crashed || process.env['TEST_VERBOSE'])
        process.stdout.write(outcome.output.replace(/^/gm, '    | ') + '\n');
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, CONCURRENCY) }, worker));
  const passed = outcomes.reduce((n, o) => n + o.passed, 0);
  const failed = outcomes.reduce((n, o) => n + o.failed, 0);
  const skipped = outcomes.reduce((n, o) => n + o.skipped, 0);
  const crashed = outcomes.filter((o) => o.crashed).map((o) => o.file);
  if (crashed.length > 0) process.stdout.write(`\n[runner] ran again after a native crash: ${crashed.join(', ')}\n`);
  process.stdout.write(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  process.exit(failed > 0 || files.length === 0 ? 1 : 0);
}

void main();
