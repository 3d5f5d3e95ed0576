// S3-compatible storage against a real S3 server on loopback (s3rver):
// finished files are uploaded and removed locally, downloads are presigned
// URLs that expire, delete and retention remove the objects, and an
// unreachable store fails the recording clearly while keeping the local file.

import { existsSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { sleep } from '../support/net.js';
import { closeBots, publisher, type BotPool } from '../support/recording.js';
import { startS3, type TestS3 } from '../support/s3.js';
import { startServer } from '../support/server.js';

interface Ctx extends BotPool {
  s3: TestS3;
}
const test = suite<Ctx>('recording to S3', { bots: [] } as unknown as Ctx);
test.before(async (ctx) => {
  ctx.s3 = await startS3();
  ctx.srv = await startServer({ sfuWorkers: 1, env: { ...ctx.s3.env, S3_PREFIX: 'rec/' } });
  ctx.bots = [];
});
test.after(async (ctx) => {
  await closeBots(ctx);
  await ctx.srv.stop();
  await ctx.s3.stop().catch(() => {});
});

test('files go to the bucket; presigned download links work and expire; delete removes the objects', async (ctx) => {
  const room = 's3-room';
  await publisher(ctx, 'alice', room);
  assert.is((await ctx.srv.api('POST', `/api/v1/rooms/${room}/recordings`, {})).status, 201);
  await sleep(4000);
  const { body } = await ctx.srv.api('POST', `/api/v1/rooms/${room}/recordings/stop`);
  assert.is(body.status, 'ready', JSON.stringify(body));
  assert.is(body.storage, 's3');
  assert.is(body.location, `s3://${ctx.s3.bucket}/rec/${body.recording_id}/`);
  const file = body.files[0];
  const object = `rec/${body.recording_id}/${file.name}`;
  const stat = await ctx.s3.client.statObject(ctx.s3.bucket, object);
  assert.is(stat.size, file.size_bytes);
  assert.is(stat.metaData['content-type'], 'video/webm');
  assert.not.ok(existsSync(path.join(ctx.srv.dataDir, 'recordings', body.recording_id, file.name)), 'local copy removed after upload');

  const link = await ctx.srv.api('GET', `/api/v1/recordings/${body.recording_id}/files/${file.file_id}/download-url?ttl=120`);
  assert.is(link.status, 200);
  assert.ok(link.body.url.startsWith(ctx.s3.endpoint), link.body.url);
  const res = await fetch(link.body.url);
  assert.is(res.status, 200);
  assert.is((await res.arrayBuffer()).byteLength, file.size_bytes);
  const short = await ctx.srv.api('GET', `/api/v1/recordings/${body.recording_id}/files/${file.file_id}/download-url?ttl=1`);
  await sleep(2200);
  assert.is((await fetch(short.body.url)).status, 403); // the store itself refuses the expired signature

  // The server can also stream it from the bucket (API key).
  const auth = `Basic ${Buffer.from('APItestkey:test-secret-0123456789abcdef').toString('base64')}`;
  const streamed = await fetch(`${ctx.srv.url}/api/v1/recordings/${body.recording_id}/files/${file.file_id}/content`, {
    headers: { authorization: auth },
  });
  assert.is(streamed.status, 200);
  assert.is((await streamed.arrayBuffer()).byteLength, file.size_bytes);

  assert.is((await ctx.srv.api('DELETE', `/api/v1/recordings/${body.recording_id}`)).status, 200);
  const gone = await ctx.s3.client.statObject(ctx.s3.bucket, object).then(
    () => 'present',
    (err) => err.code,
  );
  assert.is(gone, 'NotFound');
  assert.not.ok(existsSync(path.join(ctx.srv.dataDir, 'recordings', body.recording_id)), 'local spool (SDPs) removed too');
});

test('an unreachable store fails the recording with a clear error and keeps the local file', async (ctx) => {
  const room = 's3-down';
  await publisher(ctx, 'bob', room, { video: false });
  assert.is((await ctx.srv.api('POST', `/api/v1/rooms/${room}/recordings`, {})).status, 201);
  await sleep(2500);
  await ctx.s3.stop();
  const { body } = await ctx.srv.api('POST', `/api/v1/rooms/${room}/recordings/stop`);
  assert.is(body.status, 'failed');
  assert.match(body.error, /upload of .* to s3:\/\/recordings failed/);
  const file = body.files[0];
  assert.is(file.status, 'failed');
  assert.ok(existsSync(path.join(ctx.srv.dataDir, 'recordings', body.recording_id, file.name)), 'local file kept');
});

test.run();
