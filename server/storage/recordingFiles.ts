// Where finished recording files live. Local: they stay in the recording's
// directory under RECORDINGS_DIR and the server serves them (signed URL or
// authorised download). S3: each file is uploaded when it is finalized
// (multipart for large files, by the minio client), the local copy is then
// removed, and downloads are S3 presigned URLs.

import { createReadStream } from 'node:fs';
import { rm, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import * as Minio from 'minio';
import type { RecordingConfig } from '../kernel/config.js';

export class StorageError extends Error {
  override name = 'StorageError';
}

export interface RecordingStorage {
  readonly kind: 'local' | 's3';
  /** The recording's location, as stored in its row. */
  locationOf(recordingId: string): string;
  /** Keeps a finalized local file; returns its size. */
  store(recordingId: string, localPath: string, key: string, contentType: string): Promise<{ size: number }>;
  /** A presigned URL when the storage serves downloads itself (S3); null when the server does (local). */
  presignedUrl(recordingId: string, key: string, ttlSeconds: number, downloadName: string): Promise<string | null>;
  /** The file's size (throws StorageError when it is missing). */
  size(recordingId: string, key: string): Promise<number>;
  /** The file's bytes (or the inclusive byte range), for the server's own download endpoint. */
  open(recordingId: string, key: string, range?: { start: number; end: number }): Promise<Readable>;
  /** Deletes every file of the recording (missing files are not an error). */
  deleteRecording(recordingId: string, keys: string[]): Promise<void>;
}

/** Free megabytes on the file system holding `dir`. */
export async function freeMegabytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return (s.bavail * s.bsize) / (1024 * 1024);
}

/** Keys are file names we made; refuse anything that could climb out of the directory. */
function safeKey(key: string): string {
  if (!/^[A-Za-z0-9_.-]+$/.test(key) || key.startsWith('.')) throw new StorageError(`bad file key ${key}`);
  return key;
}

export class LocalStorage implements RecordingStorage {
  readonly kind = 'local' as const;
  constructor(private readonly root: string) {}

  locationOf(recordingId: string): string {
    return path.join(this.root, recordingId);
  }

  async store(recordingId: string, localPath: string, key: string): Promise<{ size: number }> {
    const expected = path.join(this.locationOf(recordingId), safeKey(key));
    if (path.resolve(localPath) !== expected) throw new StorageError(`local recordings are written in place (${expected})`);
    return { size: (await stat(expected)).size };
  }

  async presignedUrl(): Promise<string | null> {
    return null;
  }

  async size(recordingId: string, key: string): Promise<number> {
    const file = path.join(this.locationOf(recordingId), safeKey(key));
    const { size } = await stat(file).catch(() => {
      throw new StorageError(`recording file ${key} is missing from ${this.locationOf(recordingId)}`);
    });
    return size;
  }

  async open(recordingId: string, key: string, range?: { start: number; end: number }): Promise<Readable> {
    return createReadStream(path.join(this.locationOf(recordingId), safeKey(key)), range ?? {});
  }

  async deleteRecording(recordingId: string): Promise<void> {
    await rm(this.locationOf(recordingId), { recursive: true, force: true });
  }
}

export class S3Storage implements RecordingStorage {
  readonly kind = 's3' as const;
  private readonly client: Minio.Client;

  constructor(
    private readonly cfg: NonNullable<RecordingConfig['s3']>,
    /** RECORDINGS_DIR: where ffmpeg writes before the upload (cleaned on delete too). */
    private readonly spool: string,
  ) {
    const url = new URL(cfg.endpoint);
    this.client = new Minio.Client({
      endPoint: url.hostname,
      port: url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80,
      useSSL: url.protocol === 'https:',
      accessKey: cfg.accessKey,
      secretKey: cfg.secretKey,
      region: cfg.region, // set, so the client never asks the server for the bucket's region
      pathStyle: true, // works with MinIO, Ceph, Garage... as well as AWS
    });
  }

  private objectName(recordingId: string, key: string): string {
    return `${this.cfg.prefix}${recordingId}/${safeKey(key)}`;
  }

  locationOf(recordingId: string): string {
    return `s3://${this.cfg.bucket}/${this.cfg.prefix}${recordingId}/`;
  }

  /** Checks the bucket is reachable with these credentials (at start, so a bad config is clear early). */
  async check(): Promise<void> {
    const exists = await this.client.bucketExists(this.cfg.bucket).catch((err: Error) => {
      throw new StorageError(`S3 storage at ${this.cfg.endpoint} is not usable: ${err.message}`);
    });
    if (!exists) throw new StorageError(`S3 bucket ${this.cfg.bucket} does not exist at ${this.cfg.endpoint}`);
  }

  async store(recordingId: string, localPath: string, key: string, contentType: string): Promise<{ size: number }> {
    const { size } = await stat(localPath);
    try {
      await this.client.fPutObject(this.cfg.bucket, this.objectName(recordingId, key), localPath, { 'Content-Type': contentType });
    } catch (err) {
      throw new StorageError(`upload of ${key} to s3://${this.cfg.bucket} failed: ${(err as Error).message}`);
    }
    await rm(localPath, { force: true });
    return { size };
  }

  async presignedUrl(recordingId: string, key: string, ttlSeconds: number, downloadName: string): Promise<string> {
    return this.client.presignedGetObject(this.cfg.bucket, this.objectName(recordingId, key), ttlSeconds, {
      'response-content-disposition': `attachment; filename="${downloadName}"`,
    });
  }

  async size(recordingId: string, key: string): Promise<number> {
    const name = this.objectName(recordingId, key);
    try {
      return (await this.client.statObject(this.cfg.bucket, name)).size;
    } catch (err) {
      throw new StorageError(`s3 object ${name} is not readable: ${(err as Error).message}`);
    }
  }

  async open(recordingId: string, key: string, range?: { start: number; end: number }): Promise<Readable> {
    const name = this.objectName(recordingId, key);
    try {
      return range
        ? await this.client.getPartialObject(this.cfg.bucket, name, range.start, range.end - range.start + 1)
        : await this.client.getObject(this.cfg.bucket, name);
    } catch (err) {
      throw new StorageError(`s3 object ${name} is not readable: ${(err as Error).message}`);
    }
  }

  async deleteRecording(recordingId: string, keys: string[]): Promise<void> {
    await rm(path.join(this.spool, recordingId), { recursive: true, force: true }); // SDPs, files whose upload failed
    if (keys.length > 0) {
      try {
        await this.client.removeObjects(
          this.cfg.bucket,
          keys.map((k) => this.objectName(recordingId, k)),
        );
      } catch (err) {
        throw new StorageError(`deleting recording ${recordingId} from s3 failed: ${(err as Error).message}`);
      }
    }
  }
}

export function createStorage(cfg: RecordingConfig): RecordingStorage {
  return cfg.storage === 's3' && cfg.s3 ? new S3Storage(cfg.s3, cfg.dir) : new LocalStorage(cfg.dir);
}
