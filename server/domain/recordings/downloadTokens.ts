// Signed, expiring download URLs for recordings kept on local storage:
// HMAC-SHA256 over (recording, file, expiry) with a key only this
// deployment has. S3 storage uses the object store's own presigned URLs.

import { createHmac, timingSafeEqual } from 'node:crypto';

export class DownloadSigner {
  constructor(private readonly key: Buffer) {}

  /** Derives the key from a deployment secret (API_SECRET) so no new secret needs configuring. */
  static fromSecret(secret: string): DownloadSigner {
    return new DownloadSigner(createHmac('sha256', secret).update('switchboard recording downloads v1').digest());
  }

  sign(recordingId: string, fileId: string, expiresAtSeconds: number): string {
    return createHmac('sha256', this.key).update(`${recordingId}\n${fileId}\n${expiresAtSeconds}`).digest('base64url');
  }

  /** Query string for a URL valid until expiresAtSeconds (unix). */
  query(recordingId: string, fileId: string, expiresAtSeconds: number): string {
    return `expires=${expiresAtSeconds}&signature=${this.sign(recordingId, fileId, expiresAtSeconds)}`;
  }

  /** 'ok', 'expired' or 'invalid'. Expiry is checked after the signature, so a forged expiry reads invalid. */
  verify(
    recordingId: string,
    fileId: string,
    expires: string | null,
    signature: string | null,
    nowSeconds = Date.now() / 1000,
  ): 'ok' | 'expired' | 'invalid' {
    if (!expires || !signature || !/^\d{1,12}$/.test(expires)) return 'invalid';
    const want = Buffer.from(this.sign(recordingId, fileId, Number(expires)));
    const got = Buffer.from(signature);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return 'invalid';
    return Number(expires) < nowSeconds ? 'expired' : 'ok';
  }
}
