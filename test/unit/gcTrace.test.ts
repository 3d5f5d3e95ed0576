import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gcSince, logOffset } from '../../bench/signaling/gcTrace.js';

test('gc trace: only the lines after the offset count, scavenges and mark-compacts apart', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gc-trace-'));
  const file = path.join(dir, 'server.log');
  try {
    writeFileSync(file, '[1:0x1]  10 ms: pause=9.0 mutator=1 gc=s promoted=999999 new_space_survived=1\n');
    const from = logOffset(file);
    assert.is(gcSince(file, from, 10), null, 'nothing since the offset');
    appendFileSync(
      file,
      [
        '{"level":30,"msg":"a pino line in between"}',
        '[1:0x1]  20 ms: pause=1.5 mutator=3 gc=s reduce_memory=0 allocated=5000 promoted=4096 new_space_survived=10',
        '[1:0x1]  30 ms: pause=2.5 mutator=3 gc=s reduce_memory=0 allocated=5000 promoted=6144 new_space_survived=10',
        '[1:0x1]  40 ms: pause=12.0 mutator=9 gc=mc reduce_memory=0 incremental=30.1',
        '',
      ].join('\n'),
    );
    const gc = gcSince(file, from, 100);
    assert.equal(gc, {
      scavenges: 2,
      scavenge_pause_ms: 4,
      promoted_kib: 10,
      promoted_bytes_per_msg: 102.4,
      mark_compacts: 1,
      mark_compact_pause_ms: 12,
      max_pause_ms: 12,
    });
    assert.is(gcSince(path.join(dir, 'missing.log'), 0, 1), null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
