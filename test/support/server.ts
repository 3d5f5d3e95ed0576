// Starts a real Switchboard node in-process on a free loopback port, with
// its own data dir, for one test. PGlite data dirs are copied from a template
// made once (initdb costs seconds), PostgreSQL when a URL is given.

import { cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startApp, type App } from '../../server/app.js';
import { loadConfig } from '../../server/kernel/config.js';
import { createLogger, type Logger } from '../../server/kernel/logger.js';
import { openPglite } from '../../server/storage/pgliteDatabase.js';
import { applySchema } from '../../server/storage/schema.js';
import { TokenIssuer, type TokenRequest } from '../../server/edges/auth/tokens.js';
import { SignalingClient, type ConnectOptions } from '../../clients/node/signalingClient.js';
import type { Role } from '../../signaling/protocol/protocol.js';
import { testKeys } from './keys.js';

export const API_KEY = 'APItestkey';
export const API_SECRET = 'test-secret-0123456789abcdef';

export interface TestServerOptions {
  env?: Record<string, string>;
  /** PostgreSQL URL; PGlite in the data dir when absent. */
  databaseUrl?: string;
  /** Reuse a data dir (restart tests). */
  dataDir?: string;
  /** Start mediasoup workers (RTC_WORKERS); servers without are signaling-only. */
  sfuWorkers?: number;
  /** The node's logger (tests that read what it logs); else pino at TEST_LOG_LEVEL. */
  logger?: Logger;
  /** No JWT key files: the node generates its development keys in the data dir (and mint() signs with them). */
  devKeys?: boolean;
}

export interface TestServer {
  app: App;
  url: string;
  dataDir: string;
  mint(req: Partial<TokenRequest> & { userId: string; role?: Role }): Promise<string>;
  connect(opts?: ConnectOptions): Promise<SignalingClient>;
  /** Connects, authenticates and joins; returns the client and its participant id. */
  joined(userId: string, room: string, opts?: { role?: Role; name?: string }): Promise<{ client: SignalingClient; id: string }>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON of every route, read field by field by the tests (a wrong field fails the assertion)
  api(method: string, route: string, body?: unknown, auth?: string | null): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
}

const SCHEMA_HASH = createHash('sha256')
  .update(readFileSync(new URL('../../../schema.sql', import.meta.url)))
  .digest('hex')
  .slice(0, 12);

async function pgliteTemplate(): Promise<string> {
  const dir = path.join(tmpdir(), `switchboard-pglite-template-${SCHEMA_HASH}`);
  if (existsSync(path.join(dir, 'PG_VERSION'))) return dir;
  const building = mkdtempSync(path.join(tmpdir(), 'switchboard-pglite-build-'));
  const db = await openPglite(building);
  await applySchema(db);
  await db.close();
  try {
    renameSync(building, dir);
  } catch {
    rmSync(building, { recursive: true, force: true }); // another test process won the race
  }
  return dir;
}

export function basicAuth(key = API_KEY, secret = API_SECRET): string {
  return `Basic ${Buffer.from(`${key}:${secret}`).toString('base64')}`;
}

export async function startServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const keys = testKeys();
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(tmpdir(), 'switchboard-test-'));
  if (!opts.databaseUrl && !existsSync(path.join(dataDir, 'pglite'))) {
    cpSync(await pgliteTemplate(), path.join(dataDir, 'pglite'), { recursive: true });
  }
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    NODE_ID: 'test-node',
    ...(opts.devKeys ? {} : { JWT_PUBLIC_KEY_FILE: keys.publicKeyFile, JWT_PRIVATE_KEY_FILE: keys.privateKeyFile }),
    API_KEY,
    API_SECRET,
    LOG_LEVEL: process.env['TEST_LOG_LEVEL'] ?? 'silent',
    RTC_WORKERS: String(opts.sfuWorkers ?? 0),
    RTC_PORT: '0',
    RTC_LISTEN_IP: '127.0.0.1',
    ...(opts.databaseUrl ? { DATABASE_URL: opts.databaseUrl } : {}),
    ...opts.env,
  });
  const app = await startApp(config, opts.logger ?? createLogger(config.logLevel));
  const issuer = await TokenIssuer.fromPrivateKeyFile(
    opts.devKeys ? path.join(dataDir, 'keys', 'jwt-private.pem') : keys.privateKeyFile, // the dev key startApp made
    { audience: config.jwt.audience, issuer: config.jwt.issuer },
  );
  const clients: SignalingClient[] = [];

  const server: TestServer = {
    app,
    url: app.url,
    dataDir,
    async mint(req) {
      return (await issuer.mint({ role: 'speaker', ttlSeconds: 600, ...req })).token;
    },
    async connect(connectOpts) {
      const client = await SignalingClient.connect(app.url, connectOpts);
      clients.push(client);
      return client;
    },
    async joined(userId, room, joinOpts = {}) {
      const client = await server.connect();
      await client.request('auth', {
        token: await server.mint({ userId, role: joinOpts.role ?? 'speaker', ...(joinOpts.name ? { name: joinOpts.name } : {}) }),
      });
      const joined = await client.request('join', { room });
      return { client, id: joined.participant_id };
    },
    async api(method, route, body, auth = basicAuth()) {
      const res = await fetch(`${app.url}${route}`, {
        method,
        headers: { ...(auth ? { authorization: auth } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        // not JSON (metrics)
      }
      return { status: res.status, body: parsed };
    },
    async stop() {
      for (const c of clients) c.ws.terminate();
      await app.close();
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return server;
}
