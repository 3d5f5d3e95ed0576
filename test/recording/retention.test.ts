// Retention on a database shared by several nodes: a recording kept on local
// disk is deleted only by the node whose disk holds it (another node would
// drop the row and leave the files behind); object-storage ones by any node.

import { randomUUID } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RecordingStore } from '../../server/storage/recordingStore.js';
import { startServer, type TestServer } from '../support/server.js';

const test = suite<{ srv: TestServer }>('recording retention', {} as never);
test.before(async (ctx) => {
  ctx.srv = await startServer();
});
test.after(async (ctx) => ctx.srv.stop());

test('expired: local recordings only for their own node, S3 ones for every node', async ({ srv }) => {
  const store = new RecordingStore(srv.app.db);
  const past = new Date(Date.now() - 60_000);
  const rows = [
    { node: 'node-a', storage: 'local' },
    { node: 'node-b', storage: 'local' },
    { node: 'node-b', storage: 's3' },
  ].map((r) => ({ ...r, id: randomUUID() }));
  for (const r of rows) {
    await srv.app.db.query(
      `INSERT INTO recordings (id, room, node_id, mode, status, storage, location, expires_at) VALUES ($1, 'ret', $2, 'tracks', 'ready', $3, '/x', $4)`,
      [r.id, r.node, r.storage, past],
    );
  }
  const ids = async (node: string | null) =>
    (await store.expired(new Date(), 100, node))
      .map((r) => r.id)
      .filter((id) => rows.some((r) => r.id === id))
      .sort();
  assert.equal(await ids('node-a'), [rows[0].id, rows[2].id].sort());
  assert.equal(await ids('node-b'), [rows[1].id, rows[2].id].sort());
  assert.equal(await ids(null), rows.map((r) => r.id).sort(), 'one node alone (PGlite) owns every recording');
});

test.run();
