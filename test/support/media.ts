// Media checks for recording tests: ffprobe a file, counting decoded frames.

import { probeFile, type Probed } from '../../recording/probe.js';

export type { Probed, ProbedStream } from '../../recording/probe.js';

/** ffprobe -count_frames on `file` (FFPROBE_PATH when set). */
export function probe(file: string): Promise<Probed> {
  return probeFile(file, { countFrames: true });
}
