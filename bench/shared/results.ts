// What every bench record carries: the machine it ran on, the commit it
// measured, and the files it is written to (<name>.json beside latest.json).

import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import path from 'node:path';

export interface MachineInfo {
  cpus: number;
  cpu_model: string | null;
  node: string;
  kernel: string;
  mem_total_mib: number;
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cpus: list.length,
    cpu_model: list[0]?.model ?? null,
    node: process.version,
    kernel: release(),
    mem_total_mib: Math.round(totalmem() / 2 ** 20),
  };
}

/** Short HEAD commit of `repo`, "+dirty" when `paths` (the code measured) have local changes; null outside git. */
export function gitCommit(repo: string, paths: string[]): string | null {
  try {
    let commit = execFileSync('git', ['-C', repo, 'rev-parse', '--short', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
    if (
      execFileSync('git', ['-C', repo, 'status', '--porcelain', '--', ...paths], { stdio: ['ignore', 'pipe', 'ignore'] })
        .toString()
        .trim()
    )
      commit += '+dirty';
    return commit;
  } catch {
    return null;
  }
}

/** 2024-05-01T12-30-00Z: an ISO time usable in a file name (seconds, no fraction). */
export function resultStamp(at: Date): string {
  return at.toISOString().replace(/:/g, '-').replace(/\..*$/, 'Z');
}

/** Writes `<outDir>/<name>.json` and the same text to latest.json; returns the first file. */
export function writeResultFiles(outDir: string, name: string, record: unknown): string {
  mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `${name}.json`);
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
  copyFileSync(file, path.join(outDir, 'latest.json'));
  return file;
}
