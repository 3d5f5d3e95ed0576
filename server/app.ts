// Wires one node together: storage, auth keys, rooms domain, signaling hub
// and REST API on one HTTP server. Tests start it in-process; main.ts adds
// process signals around it.

import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import path from 'node:path';
import { TokenVerifier } from './edges/auth/auth.js';
import { SignalingHub } from '../signaling/hub.js';
import { LocalRoomDirectory } from './domain/rooms/roomDirectory.js';
import { ConfigError, type Config } from './kernel/config.js';
import { AppError } from './kernel/errors.js';
import { ensureDevApiCredentials, ensureDevKeys } from './edges/auth/devKeys.js';
import { createApi } from './edges/http/api.js';
import { withStatic } from './edges/http/static.js';
import { guardRequests } from './kernel/lastResort.js';
import type { Logger } from './kernel/logger.js';
import { Metrics } from './kernel/metrics.js';
import { MediaService } from './domain/rooms/mediaService.js';
import { RoomService } from './domain/rooms/roomService.js';
import { Sfu } from '../sfu/sfu.js';
import { CallStore } from './storage/callStore.js';
import type { Database } from './storage/database.js';
import { openPglite } from './storage/pgliteDatabase.js';
import { openPostgres } from './storage/postgresDatabase.js';
import { applySchema } from './storage/schema.js';
import { TokenIssuer } from './edges/auth/tokens.js';
// Room control and webhooks
import { noEvents, type EventSink } from './domain/events.js';
import { createRoomsApi } from './edges/http/roomsApi.js';
import { createCallsApi } from './edges/http/callsApi.js';
import { RoomControl } from './domain/rooms/roomControl.js';
import { RoomControlStore } from './storage/roomControlStore.js';
import { WebhookDeliverer } from './edges/webhooks/deliverer.js';
import { WebhookOutbox } from './edges/webhooks/outbox.js';
// Recording
import { DownloadSigner } from './domain/recordings/downloadTokens.js';
import { RecordingLibrary } from './domain/recordings/recordingLibrary.js';
import { RoomRecordings } from './domain/recordings/roomRecordings.js';
import { RecordingService } from './domain/recordings/recordingService.js';
import { RecordingStore } from './storage/recordingStore.js';
import { createStorage, S3Storage } from './storage/recordingFiles.js';
import { createRecordingsApi, withRecordingDownloads, type RecordingsApiDeps } from './edges/http/recordingsApi.js';
// Live streaming
import { createHmac } from 'node:crypto';
import { createLiveApi, withLive } from './edges/http/liveApi.js';
import { HlsAccess } from './domain/live/hlsAccess.js';
import { LiveService } from './domain/live/liveService.js';
import { LiveStore } from './storage/liveStore.js';
import { hlsPipelineFactory } from '../recording/live/hlsPipeline.js';
// Cluster
import { ClusterNode } from './edges/cluster/clusterNode.js';
import type { RoomDirectory } from './domain/rooms/roomDirectory.js';
import { createClusterApi } from './edges/http/clusterApi.js';
import { IceServers } from './edges/auth/turnCredentials.js';
import { createIceServersApi } from './edges/http/iceServersApi.js';
import { createDevTokenApi, DEV_TOKEN_PATH } from './edges/http/devTokenApi.js';
import { clusterForwarder, fromClusterNode } from './edges/http/clusterForward.js';
import { withClusterHls } from './edges/http/clusterHls.js';
// Cascading big rooms across nodes
import { registerCascadeMetrics } from '../sfu/cascade/metrics.js';
import type { CascadeMethods } from '../sfu/cascade/wire.js';
import { registerWorkerMetrics } from '../sfu/workerMetrics.js';
import { ClusterCalls } from './edges/cluster/clusterCalls.js';
import { CallService } from './domain/calls/callService.js';
import { Presence } from './domain/calls/presence.js';
import { RingStore } from './storage/ringStore.js';
import { bestEffort } from './kernel/bestEffort.js';

export interface App {
  config: Config;
  server: Server;
  /** http://host:port the server listens on (port resolved when PORT=0). */
  url: string;
  db: Database;
  rooms: RoomService;
  control: RoomControl;
  /** Ringing users: call invites, presence. */
  calls: CallService;
  /** The webhook outbox (noEvents without WEBHOOK_URLS); recording emits recording_* here. */
  events: EventSink;
  sfu: Sfu | null;
  hub: SignalingHub;
  /** Recordings in progress, and the stored ones. */
  recording: RecordingService;
  recordings: RecordingLibrary;
  /** Live streams (HLS), their audience, chat and reactions. */
  live: LiveService;
  /** Cluster: this node's cluster membership (null on a single node). */
  cluster: ClusterNode | null;
  close(): Promise<void>;
}

export async function openDatabase(config: Config): Promise<Database> {
  return config.databaseUrl ? openPostgres(config.databaseUrl) : openPglite(path.join(config.dataDir, 'pglite'));
}

async function loadKeys(config: Config, log: Logger): Promise<{ verifier: TokenVerifier; issuer: TokenIssuer | null; devKeys: boolean }> {
  const opts = { audience: config.jwt.audience, issuer: config.jwt.issuer };
  let publicKeyFile = config.jwt.publicKeyFile;
  let privateKeyFile = config.jwt.privateKeyFile;
  const devKeys = !publicKeyFile && !config.jwt.jwksUrl;
  if (devKeys) {
    const dev = ensureDevKeys(config.dataDir);
    publicKeyFile = dev.publicKeyFile;
    privateKeyFile ??= dev.privateKeyFile;
    log.warn(
      { public_key: dev.publicKeyFile, generated: dev.generated },
      'no JWT key configured: using a development key pair from DATA_DIR; mint a token with: npm run token -- --room r1 --user alice',
    );
  }
  let verifier: TokenVerifier;
  if (publicKeyFile) verifier = await TokenVerifier.fromPublicKeyFile(publicKeyFile, opts);
  else if (config.jwt.jwksUrl) verifier = TokenVerifier.fromJwksUrl(config.jwt.jwksUrl, opts);
  else throw new AppError('internal_error', 'no JWT public key file and no JWKS URL, and no development key pair');
  const issuer = privateKeyFile ? await TokenIssuer.fromPrivateKeyFile(privateKeyFile, opts) : null;
  return { verifier, issuer, devKeys };
}

export async function startApp(config: Config, log: Logger): Promise<App> {
  const db = await openDatabase(config);
  try {
    await applySchema(db);
  } catch (err) {
    await bestEffort(log, 'closing the database after a failed start', db.close());
    throw err;
  }
  const store = new CallStore(db);
  // The rows this node answers for (what a crashed run left open, local recordings to expire): with
  // PGlite all of them (the database is this node's alone), in a shared PostgreSQL this NODE_ID's.
  const nodeScope = db.kind === 'pglite' ? null : config.nodeId;
  const abandonedAt = new Date(); // also names the calls closed here, for their room_finished webhooks
  const ringStore = new RingStore(db);
  // Calls still ringing when the last run stopped can no longer be answered: they end `failed`.
  const failedRinging = await ringStore.failRinging(nodeScope, abandonedAt);
  if (failedRinging > 0) log.warn({ calls: failedRinging }, 'calls left ringing by a previous run ended failed');
  const closed = await store.closeAbandonedCalls(abandonedAt, nodeScope);
  if (closed > 0) log.warn({ calls: closed }, 'closed calls left open by a previous run');

  const { verifier, issuer, devKeys } = await loadKeys(config, log);
  // Development tokens (POST /dev/token, the demo's name-only join): with the generated keys, or DEV_TOKENS=1.
  const devTokens = devKeys || config.jwt.devTokens;
  if (devTokens) {
    log.warn(
      { path: DEV_TOKEN_PATH, dev_keys: devKeys, signing_key: issuer !== null },
      'development tokens are on: anyone who reaches this server can mint tokens (POST /dev/token); configure JWT keys without DEV_TOKENS for production',
    );
  }
  let credentials = { apiKey: config.apiKey ?? '', apiSecret: config.apiSecret ?? '' };
  if (!config.apiKey) {
    const dev = ensureDevApiCredentials(config.dataDir);
    credentials = { apiKey: dev.apiKey, apiSecret: dev.apiSecret };
    log.warn(
      { api_key: dev.apiKey, credentials_file: dev.file },
      'API_KEY/API_SECRET not set: using development REST credentials from DATA_DIR',
    );
  }

  const sfu = await Sfu.start(config.sfu, log).catch(async (err) => {
    await bestEffort(log, 'closing the database after a failed start', db.close());
    throw err;
  });
  // Cluster: with REDIS_URL, rooms are placed across the nodes through Redis.
  let cluster: ClusterNode | null = null;
  if (config.redisUrl) {
    cluster = await ClusterNode.start({
      config,
      rtcAddress: sfu ? (config.sfu.announcedAddress ?? (config.sfu.listenIp === '0.0.0.0' ? null : config.sfu.listenIp)) : null,
      load: () => ({
        rooms: rooms.roomCount,
        participants: rooms.participants,
        consumers: sfu ? sfu.pool.slots.reduce((n, s) => n + s.consumers, 0) : 0,
      }),
      log,
    }).catch(async (err) => {
      sfu?.close();
      await bestEffort(log, 'closing the database after a failed start', db.close());
      throw err;
    });
  }
  const directory: RoomDirectory = cluster ? cluster.directory : new LocalRoomDirectory(config.nodeId);
  // Cascade: past SFU_NODE_CONSUMER_BUDGET, a room's new viewers get their
  // media from another node's SFU, fed by SRTP pipes; this node also hosts other owners' viewers.
  if (cluster && sfu) {
    const registry = cluster.registry;
    sfu.enableCascade(
      cluster.bus.carrying<CascadeMethods>(),
      {
        // Nodes taking new work, fewest consumers first (the registry's view, a beat old).
        candidates: () =>
          registry
            .cachedNodes()
            .filter((n) => n.id !== config.nodeId && !n.draining)
            .sort((x, y) => x.load.consumers - y.load.consumers)
            .map((n) => n.id),
        onNodeDown: (fn) => cluster.on('node-gone', fn),
        busHealthy: () => registry.healthy, // a Redis outage is not the other node's death
      },
      config.cascade,
    );
  }
  // Room control and webhooks: events go to the outbox when receivers are configured.
  const controlStore = new RoomControlStore(db);
  let deliverer: WebhookDeliverer | null = null;
  let events: EventSink = noEvents;
  if (config.webhooks.urls.length > 0) {
    const { secret, retryBaseMs, retryMaxMs, giveUpSeconds, pollIntervalMs } = config.webhooks;
    if (!secret) throw new ConfigError(['WEBHOOK_SECRET is required when WEBHOOK_URLS is set']);
    const d = new WebhookDeliverer(
      db,
      { urls: config.webhooks.urls, secret, nodeId: config.nodeId, retryBaseMs, retryMaxMs, giveUpSeconds, pollIntervalMs },
      log,
    );
    await d.releaseStaleLeases(nodeScope);
    deliverer = d;
    events = new WebhookOutbox(db, config.webhooks.urls, () => d.nudge());
  }
  // Calls a crash left open ended just now: their receivers hear room_finished (reason server-restart).
  if (closed > 0) {
    for (const c of await controlStore.callsEndedAt(abandonedAt, 'server-restart')) {
      await events.emit({ name: 'room_finished', room: c.room, data: { call_id: c.id, reason: 'server-restart' } });
    }
  }
  const rooms = new RoomService(store, directory, config.nodeId, log, {
    control: controlStore,
    events,
    emptyTimeoutSeconds: config.rooms.emptyTimeoutSeconds,
    kickBanSeconds: config.rooms.kickBanSeconds,
    defaultType: config.rooms.defaultType,
  });
  const control = new RoomControl(rooms, controlStore, () => config.rooms.kickBanSeconds, log);
  const ice = new IceServers(config.turn, log);
  // Cluster: calls ring the invitees' devices on every node.
  const clusterCalls = cluster ? new ClusterCalls(cluster, log) : null;
  const calls = new CallService({
    rooms,
    store: ringStore,
    presence: new Presence(),
    events: () => events,
    config: config.calls,
    nodeId: config.nodeId,
    log,
    iceServers: (userId) => (ice.configured ? ice.forUser(userId).ice_servers : null),
    ...(clusterCalls ? { network: clusterCalls } : {}),
  });
  clusterCalls?.attach(calls);
  const media = new MediaService(rooms, sfu);
  const metrics = new Metrics({ rooms: () => rooms.roomCount, participants: () => rooms.participants });
  deliverer?.registerMetrics(metrics.registry);
  // ---- Recording ----
  const recordingStore = new RecordingStore(db);
  const recordingStorage = createStorage(config.recording);
  if (recordingStorage instanceof S3Storage) {
    await recordingStorage
      .check()
      .catch((err) => log.error({ err: (err as Error).message }, 'recording storage (S3) is not usable: recordings will fail until it is'));
  }
  const signer = DownloadSigner.fromSecret(credentials.apiSecret);
  const recording = new RecordingService({
    store: recordingStore,
    storage: recordingStorage,
    rooms,
    sfu,
    events,
    config: config.recording,
    nodeId: config.nodeId,
    log,
  });
  recording.registerMetrics(metrics.registry);
  const recordings = new RecordingLibrary(recordingStore, recordingStorage, signer, log, nodeScope);
  const roomRecordings = new RoomRecordings(rooms, recordings, config.recording.downloadUrlTtlSeconds);
  if (cluster && config.recording.storage === 'local') {
    log.warn(
      'cluster mode with local recording storage: each recording stays on the disk of the node that made it (downloads must reach that node); set S3_* for a cluster',
    );
  }
  const abandonedRecordings = await recording.recoverAbandoned(nodeScope);
  if (abandonedRecordings > 0) log.warn({ recordings: abandonedRecordings }, 'recordings left open by a previous run marked failed');
  // ---- end recording ----
  // Live streaming: signed playlist URLs use LIVE_URL_SECRET, else a key derived from API_SECRET.
  const liveAccess = new HlsAccess(
    config.live.access,
    config.live.urlSecret ?? createHmac('sha256', credentials.apiSecret).update('switchboard-live-url').digest('base64url'),
    config.live.urlTtlSeconds,
  );
  const live = new LiveService(
    rooms,
    new LiveStore(db),
    () => events,
    sfu ? hlsPipelineFactory({ ...config.live, ffmpegPath: config.live.ffmpegPath ?? config.recording.ffmpegPath }, log) : null,
    liveAccess,
    config.live,
    config.nodeId,
    log,
  );
  await live.recover(nodeScope);
  live.registerMetrics(metrics.registry);
  cluster?.registerMetrics(metrics.registry);
  if (sfu) registerWorkerMetrics(metrics.registry, sfu.pool);
  if (sfu?.cascade) registerCascadeMetrics(metrics.registry, { ...sfu.cascade, pool: sfu.pool });
  // STUN/TURN for clients: ICE_SERVERS with TURN REST API credentials (TURN_SECRET), in the auth ack and over REST.
  const hubContext = {
    config,
    verifier,
    ice,
    rooms,
    media,
    control,
    metrics,
    log,
    recording,
    roomRecordings,
    live,
    calls,
    ...(cluster && clusterCalls
      ? {
          cluster: cluster.relay,
          callRouter: {
            acceptElsewhere: cluster.relay.acceptElsewhere.bind(cluster.relay),
            declineElsewhere: clusterCalls.declineElsewhere.bind(clusterCalls),
          },
        }
      : {}),
  };
  cluster?.relay.attach(hubContext);
  cluster?.wire({ rooms, calls: store, control: controlStore, events, recordings: recording, live });
  const hub = new SignalingHub(hubContext);
  const api = createApi({
    db,
    rooms,
    metrics,
    issuer,
    credentials,
    log,
    nodeId: config.nodeId,
    tokenTtl: { defaultSeconds: config.jwt.defaultTtlSeconds, maxSeconds: config.jwt.maxTtlSeconds },
    connections: () => hub.connectionCount,
    // Multiproc: /health on the node's public port says which of its processes answered.
    process:
      config.processes.index !== null
        ? { node_id: config.processes.nodeId, index: config.processes.index, processes: config.processes.count }
        : null,
    edge: {
      trustProxyHops: config.trustProxyHops,
      writeLimit: { ratePerSecond: config.limits.restRatePerSecond, burst: config.limits.restRateBurst },
      // Cluster: a room request another node passed on was counted there (by the client's address).
      ...(cluster ? { unlimited: (req: IncomingMessage) => fromClusterNode(cluster, req) } : {}),
    },
  });
  createRoomsApi(api, {
    rooms,
    control,
    issuer,
    credentials,
    tokenTtl: config.jwt,
    publicUrl: () => config.cluster.publicUrl ?? url, // NODE_PUBLIC_URL when the Host header is unusable
    ...(cluster ? { liveStates: (names: string[]) => cluster.roomsLive(names) } : {}),
  });
  const recordingsApi: RecordingsApiDeps = {
    recordings: recording,
    library: recordings,
    signer,
    verifier,
    credentials,
    downloadTtlSeconds: config.recording.downloadUrlTtlSeconds,
    publicUrl: () => url,
    log,
  };
  createRecordingsApi(api, recordingsApi);
  createCallsApi(api, { calls, credentials });
  createLiveApi(api, { live, credentials });
  createClusterApi(api, { cluster, credentials });
  createIceServersApi(api, { ice, credentials });
  if (devTokens) createDevTokenApi(api, { issuer, ttlSeconds: config.jwt.defaultTtlSeconds });
  if (cluster) api.forwarder = clusterForwarder(cluster, log, (id) => calls.nodeOf(id)); // room (and call end) REST acts on its node

  // HLS at /live/ and recording file downloads (streamed), the browser demo at / and /app/, the API otherwise
  const listener = withLive(live, withRecordingDownloads(withStatic(api.listener), recordingsApi), config.trustProxyHops);
  // Cluster: HLS players may reach any node; streams of rooms running elsewhere are fetched from their node.
  // Last resort (docs/reliability.md): a listener that throws answers 500; the process goes on.
  const server = createServer(guardRequests(cluster ? withClusterHls(cluster, live, listener, log) : listener, log));
  server.keepAliveTimeout = 5000;
  hub.attach(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}`;
  log.info({ url, node_id: config.nodeId, database: db.kind }, 'switchboard listening');
  deliverer?.start();
  recordings.startCleanup(config.recording.cleanupIntervalSeconds);
  await cluster?.announce(config.cluster.publicUrl ?? reachableUrl(config.host, address.port, url)); // other nodes may send rooms here now

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      calls.shutdown(); // ringing stops; the next start ends what rang (failed)
      await live.shutdown(); // streams end (server-shutdown) while the rooms still exist
      await recording.shutdown(); // ffmpeg finalizes its files first
      await recordings.stopCleanup();
      await rooms.shutdown();
      await sfu?.closeCascade(); // owners of viewers hosted here move them, while the bus is up
      cluster?.relay.close(); // clients relayed to rooms here reconnect
      await deliverer?.stop(); // undelivered events stay in the outbox for the next start
      await hub.close();
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await serverClosed;
      await directory.close();
      await cluster?.stop();
      sfu?.close();
      await db.close();
    })());

  return { config, server, url, db, rooms, control, calls, events, sfu, hub, recording, recordings, live, cluster, close };
}

/** Cluster: listening on all interfaces, other hosts reach this node on its first external IPv4. */
function reachableUrl(host: string, port: number, fallback: string): string {
  if (host !== '0.0.0.0') return fallback;
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return `http://${a.address}:${port}`;
  }
  return fallback;
}
