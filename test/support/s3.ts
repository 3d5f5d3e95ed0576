// A real S3-compatible server on loopback for the storage tests:
// @20minutes/s3rver (HTTP, SigV4 auth and presigned URLs, files on disk).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import S3rver from '@20minutes/s3rver';
import * as Minio from 'minio';

export const S3_KEY = 'S3RVER'; // s3rver's built-in credentials
export const S3_SECRET = 'S3RVER';

export interface TestS3 {
  endpoint: string;
  bucket: string;
  client: Minio.Client;
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startS3(bucket = 'recordings', port = 0): Promise<TestS3> {
  const dir = mkdtempSync(path.join(tmpdir(), 'switchboard-s3-'));
  const server = new S3rver({ port, address: '127.0.0.1', silent: true, directory: dir, configureBuckets: [{ name: bucket }] });
  const info = await server.run();
  const endpoint = `http://127.0.0.1:${info.port}`;
  const client = new Minio.Client({
    endPoint: '127.0.0.1',
    port: info.port,
    useSSL: false,
    accessKey: S3_KEY,
    secretKey: S3_SECRET,
    region: 'us-east-1',
    pathStyle: true,
  });
  return {
    endpoint,
    bucket,
    client,
    env: { RECORDING_STORAGE: 's3', S3_ENDPOINT: endpoint, S3_BUCKET: bucket, S3_ACCESS_KEY: S3_KEY, S3_SECRET_KEY: S3_SECRET },
    async stop() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
