// Configuration comes from environment variables only (README lists them).
// Every problem is collected and reported at once, and the process refuses to start.

import { readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { availableParallelism, hostname } from 'node:os';
import path from 'node:path';

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | null;
  redisUrl: string | null;
  nodeId: string;
  jwt: {
    publicKeyFile: string | null;
    jwksUrl: string | null;
    privateKeyFile: string | null;
    issuer: string | null;
    audience: string;
    defaultTtlSeconds: number;
    maxTtlSeconds: number;
    /** DEV_TOKENS: POST /dev/token mints tokens for anyone even with configured keys (always on with the generated dev keys). */
    devTokens: boolean;
  };
  apiKey: string | null;
  apiSecret: string | null;
  logLevel: string;
  sfu: {
    /** 0 disables the SFU (signaling and P2P relay only). */
    workers: number;
    listenIp: string;
    announcedAddress: string | null;
    /** Worker i listens on port + i (UDP and TCP); 0 = any free port. */
    port: number;
    routerConsumerBudget: number;
    workerBin: string | null;
    logLevel: 'debug' | 'warn' | 'error' | 'none';
    /** Health check of each worker every this many ms (0 = off); two failures in a row replace it. */
    workerCheckIntervalMs: number;
    workerCheckTimeoutMs: number;
    /** DYNACAST: publishers hear which simulcast/SVC layers anyone receives (sfu/dynacast.ts); null when off. */
    dynacast: { lowerDelayMs: number } | null;
  };
  limits: {
    maxConnections: number;
    authTimeoutMs: number;
    maxMessageBytes: number;
    rateLimitPerSecond: number;
    rateLimitBurst: number;
    pingIntervalMs: number;
    maxSendBufferBytes: number;
    /** WebSocket connections from one client address that have not authenticated yet. */
    maxUnauthenticatedPerIp: number;
    /** REST writes (POST, PUT, PATCH, DELETE) per client address: token bucket. */
    restRatePerSecond: number;
    restRateBurst: number;
  };
  /** Proxies of ours in front of the node (0: none); the client address then comes from X-Forwarded-For (server/edges/http/clientAddress.ts). */
  trustProxyHops: number;
  // ---- Room control and webhooks ----
  rooms: {
    /** Default seconds a room with nobody in it stays open (per-room `empty_timeout` overrides). */
    emptyTimeoutSeconds: number;
    /** How long a kicked user may not rejoin the room. */
    kickBanSeconds: number;
    /** Type (and so template) of rooms made by a first join rather than by REST. */
    defaultType: 'individual' | 'group' | 'webinar' | 'broadcast';
  };
  /** Ringing users (docs/calls.md). */
  calls: {
    /** How long an invite rings before it is missed. */
    ringSeconds: number;
    /** call-invite requests a user may make per minute (over all its connections on this node). */
    invitesPerMinute: number;
  };
  webhooks: {
    urls: string[];
    secret: string | null;
    retryBaseMs: number;
    retryMaxMs: number;
    /** An event not delivered after this long is given up (marked failed) so later ones can go. */
    giveUpSeconds: number;
    pollIntervalMs: number;
  };
  // ---- Live streaming ----
  live: {
    /** Where streams' playlists and segments are written (one folder per stream). */
    dir: string;
    access: 'signed' | 'public';
    /** HMAC key of signed playlist URLs; null: derived from API_SECRET. */
    urlSecret: string | null;
    urlTtlSeconds: number;
    segmentSeconds: number;
    playlistSize: number;
    videoBitrateKbps: number;
    audioBitrateKbps: number;
    maxHeight: number;
    chatRatePerSecond: number;
    chatBurst: number;
    chatHistory: number;
    reactionRatePerSecond: number;
    reactionBurst: number;
    reactionIntervalMs: number;
    viewerIntervalMs: number;
    viewerTimeoutSeconds: number;
    maxWatchers: number;
    keepSeconds: number;
    ffmpegPath: string | null;
    /** An active-speaker stream switches at most once per this many seconds. */
    speakerHoldSeconds: number;
  };
  // ---- Recording ----
  recording: RecordingConfig;
  // ---- Cluster ----
  cluster: {
    /** Prefix of every Redis key and channel (several clusters may share one Redis). */
    prefix: string;
    /** Where clients reach this node (announced in the registry); default: the address it listens on. */
    publicUrl: string | null;
    /** Participants this node should hold; placement skips a node at capacity. */
    capacity: number;
    heartbeatMs: number;
    /** A node silent for this long is dead for the cluster; room leases last as long. */
    ttlMs: number;
    requestTimeoutMs: number;
    selector: 'least-loaded' | 'random' | 'local-first';
    /** On SIGTERM (or POST /api/v1/cluster/drain): how long rooms may finish before their participants are moved. */
    drainTimeoutSeconds: number;
    /** Calls of a dead node not taken over by another node within this long are ended. */
    reapGraceMs: number;
  };
  // ---- Cascading big rooms across nodes ----
  cascade: {
    /** Cluster mode only: send viewers of a room that outgrows this node to other nodes. */
    enabled: boolean;
    /** Consumers this node takes (its rooms' and other nodes' viewers) before cascading. */
    nodeConsumerBudget: number;
    pingIntervalMs: number;
    pingMisses: number;
    /** UDP ports the nodes' pipe transports use (null: any free port), for firewalls between nodes. */
    portRange: { min: number; max: number } | null;
    /** Address (IP or host name) other nodes reach this node's pipes at; null: the RTC announced address. */
    address: string | null;
    /** A room's router on another node with no viewer for this long is closed. */
    idleSeconds: number;
  };
  // ---- Several processes per node ----
  processes: ProcessesConfig;
  // ---- STUN/TURN for clients ----
  turn: TurnConfig;
}

/** ICE servers handed to clients (the `auth` ack, GET /api/v1/ice-servers); docs/turn.md. */
export interface TurnConfig {
  /** ICE_SERVERS: validated `stun:`, `turn:` and `turns:` URLs, in the order given. */
  urls: string[];
  /** TURN_SECRET: the TURN REST API shared secret (coturn's static-auth-secret); null: no TURN credentials. Never logged. */
  secret: string | null;
  /** TURN_TTL_SECONDS: how long a minted TURN credential is valid. */
  ttlSeconds: number;
}

/** NODE_PROCESSES: one node served by several processes behind one public port (docs/cluster.md). */
export interface ProcessesConfig {
  /** Processes of this node (1: one process, today's behaviour). */
  count: number;
  /** Process i's internal HTTP listener (node-to-node traffic) is on this port + i; 0: any free port. */
  internalPortBase: number;
  /** Set in a worker process by its primary: which process this is (null in the primary or a single process). */
  index: number | null;
  /** The node's id (NODE_ID of the primary); worker i's NODE_ID is `<nodeId>-p<i>`. */
  nodeId: string;
}

/** Recording: ffmpeg, where files go, how long they stay. */
export interface RecordingConfig {
  ffmpegPath: string | null;
  ffprobePath: string | null;
  /** Where ffmpeg writes (and, with local storage, where recordings stay). */
  dir: string;
  storage: 'local' | 's3';
  s3: { endpoint: string; bucket: string; accessKey: string; secretKey: string; region: string; prefix: string } | null;
  /** Default days a recording is kept (0 = forever); per recording `retention_days` overrides. */
  retentionDays: number;
  cleanupIntervalSeconds: number;
  /** Lifetime of signed download URLs. */
  downloadUrlTtlSeconds: number;
  /** Room types recorded automatically when their media starts (room metadata `auto_record` overrides). */
  autoTypes: string[];
  /** Free space below which no recording starts and running ones stop cleanly. */
  minFreeMb: number;
  defaultMode: 'tracks' | 'composite';
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Open-files soft limit of this process (Linux), so the default connection cap fits under it. */
function openFilesLimit(): number | null {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8');
    const match = /^Max open files\s+(\d+)/m.exec(limits);
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

export function defaultMaxConnections(): number {
  const files = openFilesLimit();
  // Keep headroom for the database, logs, mediasoup pipes and listening sockets.
  return files ? Math.max(100, files - 500) : 10_000;
}

/** TRUST_PROXY: off (default), on (one proxy), or the number of proxies in front of the node. */
function trustProxy(raw: string | null, problems: string[]): number {
  if (raw === null) return 0;
  const value = raw.toLowerCase();
  if (['off', 'false', 'no', '0'].includes(value)) return 0;
  if (['on', 'true', 'yes'].includes(value)) return 1;
  const hops = Number(value);
  if (Number.isInteger(hops) && hops >= 1 && hops <= 16) return hops;
  problems.push('TRUST_PROXY must be off, on, or the number of proxies in front of the node (1-16)');
  return 0;
}

export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];

  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} must be an integer between ${min} and ${max} (got "${raw}")`);
      return fallback;
    }
    return value;
  };
  const str = (name: string): string | null => {
    const raw = env[name]?.trim();
    return raw ? raw : null;
  };
  /** A switch: on/true/1 or off/false/0 (any case). */
  const onOff = (name: string, fallback: 'on' | 'off', problem = `${name} must be on or off`): boolean => {
    const value = (str(name) ?? fallback).toLowerCase();
    if (!['on', 'off', 'true', 'false', '1', '0'].includes(value)) problems.push(problem);
    return ['on', 'true', '1'].includes(value);
  };
  const url = (name: string, protocols: string[]): string | null => {
    const raw = str(name);
    if (!raw) return null;
    try {
      const parsed = new URL(raw);
      if (!protocols.includes(parsed.protocol)) {
        problems.push(`${name} must use ${protocols.join(' or ')} (got "${parsed.protocol}")`);
      }
    } catch {
      problems.push(`${name} is not a valid URL`);
    }
    return raw;
  };
  const file = (name: string): string | null => {
    const raw = str(name);
    if (!raw) return null;
    try {
      readFileSync(raw);
    } catch (err) {
      problems.push(`${name}: cannot read ${raw} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    return path.resolve(raw);
  };

  const logLevel = str('LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);

  const publicKeyFile = file('JWT_PUBLIC_KEY_FILE');
  const jwksUrl = url('JWT_JWKS_URL', ['http:', 'https:']);
  if (publicKeyFile && jwksUrl) problems.push('set only one of JWT_PUBLIC_KEY_FILE and JWT_JWKS_URL');

  const devTokens = onOff('DEV_TOKENS', 'off', 'DEV_TOKENS must be 1 (on) or 0 (off)');

  const apiKey = str('API_KEY');
  const apiSecret = str('API_SECRET');
  if (Boolean(apiKey) !== Boolean(apiSecret)) problems.push('API_KEY and API_SECRET must be set together');
  if (apiSecret && apiSecret.length < 16) problems.push('API_SECRET must have at least 16 characters');

  const nodeId = str('NODE_ID') ?? `${hostname()}-${int('PORT', 8080, 0, 65535)}`;
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(nodeId)) problems.push('NODE_ID may contain only letters, digits and _ . : - (max 64)');

  const sfuLogLevel = str('MEDIASOUP_LOG_LEVEL') ?? 'warn';
  if (!['debug', 'warn', 'error', 'none'].includes(sfuLogLevel))
    problems.push('MEDIASOUP_LOG_LEVEL must be one of debug, warn, error, none');
  const rtcWorkers = int('RTC_WORKERS', availableParallelism(), 0, 256);
  const dynacast = onOff('DYNACAST', 'on');
  const rtcPort = int('RTC_PORT', 40000, 0, 65535);
  if (rtcPort > 0 && rtcPort + rtcWorkers - 1 > 65535) problems.push('RTC_PORT + RTC_WORKERS - 1 must be at most 65535');

  const config: Config = {
    port: int('PORT', 8080, 0, 65535),
    host: str('HOST') ?? '0.0.0.0',
    dataDir: path.resolve(str('DATA_DIR') ?? './data'),
    databaseUrl: url('DATABASE_URL', ['postgres:', 'postgresql:']),
    redisUrl: url('REDIS_URL', ['redis:', 'rediss:']),
    nodeId,
    jwt: {
      publicKeyFile,
      jwksUrl,
      privateKeyFile: file('JWT_PRIVATE_KEY_FILE'),
      issuer: str('JWT_ISSUER'),
      audience: str('JWT_AUDIENCE') ?? 'switchboard',
      defaultTtlSeconds: int('TOKEN_TTL_SECONDS', 6 * 3600, 60, 30 * 86400),
      maxTtlSeconds: int('TOKEN_MAX_TTL_SECONDS', 24 * 3600, 60, 365 * 86400),
      devTokens,
    },
    apiKey,
    apiSecret,
    logLevel,
    sfu: {
      workers: rtcWorkers,
      listenIp: str('RTC_LISTEN_IP') ?? '0.0.0.0',
      announcedAddress: str('RTC_ANNOUNCED_IP'),
      port: rtcPort,
      routerConsumerBudget: int('SFU_ROUTER_CONSUMER_BUDGET', 400, 1, 100_000),
      workerBin: str('MEDIASOUP_WORKER_BIN'),
      logLevel: sfuLogLevel as Config['sfu']['logLevel'],
      workerCheckIntervalMs: int('SFU_WORKER_CHECK_INTERVAL_MS', 10_000, 0, 3_600_000),
      workerCheckTimeoutMs: int('SFU_WORKER_CHECK_TIMEOUT_MS', 5_000, 10, 600_000),
      dynacast: dynacast ? { lowerDelayMs: int('DYNACAST_LOWER_DELAY_MS', 2_500, 0, 600_000) } : null,
    },
    limits: {
      maxConnections: int('MAX_CONNECTIONS', defaultMaxConnections(), 1, 10_000_000),
      authTimeoutMs: int('AUTH_TIMEOUT_MS', 10_000, 100, 600_000),
      maxMessageBytes: int('MAX_MESSAGE_BYTES', 64 * 1024, 1024, 16 * 1024 * 1024),
      rateLimitPerSecond: int('RATE_LIMIT_PER_SECOND', 50, 1, 100_000),
      rateLimitBurst: int('RATE_LIMIT_BURST', 200, 1, 1_000_000),
      pingIntervalMs: int('PING_INTERVAL_MS', 15_000, 100, 600_000),
      maxSendBufferBytes: int('MAX_SEND_BUFFER_BYTES', 1024 * 1024, 16 * 1024, 1024 * 1024 * 1024),
      maxUnauthenticatedPerIp: int('MAX_UNAUTHENTICATED_PER_IP', 50, 1, 10_000_000),
      restRatePerSecond: int('REST_RATE_LIMIT_PER_SECOND', 200, 1, 100_000),
      restRateBurst: int('REST_RATE_LIMIT_BURST', 1000, 1, 1_000_000),
    },
    trustProxyHops: trustProxy(str('TRUST_PROXY'), problems),
    // Room control and webhooks: filled in below.
    rooms: { emptyTimeoutSeconds: 300, kickBanSeconds: 600, defaultType: 'group' },
    calls: { ringSeconds: 30, invitesPerMinute: 30 },
    webhooks: { urls: [], secret: null, retryBaseMs: 1000, retryMaxMs: 300_000, giveUpSeconds: 86_400, pollIntervalMs: 1000 },
    live: null as unknown as Config['live'], // live streaming: filled in below
    recording: null as unknown as RecordingConfig, // recording: filled in below
    cluster: {
      prefix: 'switchboard:',
      publicUrl: null,
      capacity: 1000,
      heartbeatMs: 1000,
      ttlMs: 5000,
      requestTimeoutMs: 5000,
      selector: 'least-loaded',
      drainTimeoutSeconds: 300,
      reapGraceMs: 30_000,
    }, // cluster: filled in below
    cascade: { enabled: true, nodeConsumerBudget: 0, pingIntervalMs: 2000, pingMisses: 3, portRange: null, address: null, idleSeconds: 30 }, // filled in below
    processes: { count: 1, internalPortBase: 0, index: null, nodeId }, // multiproc: filled in below
    turn: { urls: [], secret: null, ttlSeconds: 6 * 3600 }, // STUN/TURN: filled in below
  };
  // ---- Room control and webhooks ----
  const webhookUrls = (str('WEBHOOK_URLS') ?? '')
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean);
  for (const u of webhookUrls) {
    try {
      if (!['http:', 'https:'].includes(new URL(u).protocol)) problems.push(`WEBHOOK_URLS: ${u} must use http or https`);
    } catch {
      problems.push(`WEBHOOK_URLS: ${u} is not a valid URL`);
    }
  }
  const webhookSecret = str('WEBHOOK_SECRET');
  if (webhookUrls.length > 0 && !webhookSecret) problems.push('WEBHOOK_SECRET is required when WEBHOOK_URLS is set');
  if (webhookSecret && webhookSecret.length < 16) problems.push('WEBHOOK_SECRET must have at least 16 characters');
  const roomTypes = ['individual', 'group', 'webinar', 'broadcast'] as const;
  const defaultType = str('ROOM_DEFAULT_TYPE') ?? 'group';
  if (!(roomTypes as readonly string[]).includes(defaultType)) problems.push(`ROOM_DEFAULT_TYPE must be one of ${roomTypes.join(', ')}`);
  config.rooms = {
    emptyTimeoutSeconds: int('ROOM_EMPTY_TIMEOUT_SECONDS', 300, 0, 7 * 86400),
    kickBanSeconds: int('KICK_BAN_SECONDS', 600, 0, 365 * 86400),
    defaultType: defaultType as Config['rooms']['defaultType'],
  };
  config.calls = {
    ringSeconds: int('CALL_RING_SECONDS', 30, 1, 86_400),
    invitesPerMinute: int('CALL_INVITES_PER_MINUTE', 30, 1, 10_000),
  };
  config.webhooks = {
    urls: webhookUrls,
    secret: webhookSecret,
    retryBaseMs: int('WEBHOOK_RETRY_BASE_MS', 1000, 10, 3_600_000),
    retryMaxMs: int('WEBHOOK_RETRY_MAX_MS', 300_000, 10, 86_400_000),
    giveUpSeconds: int('WEBHOOK_GIVE_UP_SECONDS', 86_400, 1, 30 * 86400),
    pollIntervalMs: int('WEBHOOK_POLL_INTERVAL_MS', 1000, 10, 600_000),
  };

  // ---- Live streaming ----
  const liveAccess = str('LIVE_HLS_ACCESS') ?? 'signed';
  if (liveAccess !== 'signed' && liveAccess !== 'public') problems.push('LIVE_HLS_ACCESS must be signed or public');
  const liveUrlSecret = str('LIVE_URL_SECRET');
  if (liveUrlSecret && liveUrlSecret.length < 16) problems.push('LIVE_URL_SECRET must have at least 16 characters');
  config.live = {
    dir: path.resolve(str('LIVE_DIR') ?? path.join(config.dataDir, 'live')),
    access: liveAccess as Config['live']['access'],
    urlSecret: liveUrlSecret,
    urlTtlSeconds: int('LIVE_URL_TTL_SECONDS', 6 * 3600, 60, 30 * 86400),
    segmentSeconds: int('LIVE_SEGMENT_SECONDS', 2, 1, 30),
    playlistSize: int('LIVE_PLAYLIST_SIZE', 6, 2, 100),
    videoBitrateKbps: int('LIVE_VIDEO_BITRATE_KBPS', 1500, 100, 20_000),
    audioBitrateKbps: int('LIVE_AUDIO_BITRATE_KBPS', 128, 32, 512),
    maxHeight: int('LIVE_MAX_HEIGHT', 720, 144, 2160),
    chatRatePerSecond: int('LIVE_CHAT_RATE_PER_SECOND', 1, 1, 1000),
    chatBurst: int('LIVE_CHAT_BURST', 5, 1, 10_000),
    chatHistory: int('LIVE_CHAT_HISTORY', 50, 0, 1000),
    reactionRatePerSecond: int('LIVE_REACTION_RATE_PER_SECOND', 5, 1, 1000),
    reactionBurst: int('LIVE_REACTION_BURST', 20, 1, 10_000),
    reactionIntervalMs: int('LIVE_REACTION_INTERVAL_MS', 500, 50, 60_000),
    viewerIntervalMs: int('LIVE_VIEWER_INTERVAL_MS', 2000, 100, 60_000),
    viewerTimeoutSeconds: int('LIVE_VIEWER_TIMEOUT_SECONDS', 10, 1, 3600),
    maxWatchers: int('LIVE_MAX_WATCHERS', 10_000, 1, 1_000_000),
    keepSeconds: int('LIVE_KEEP_SECONDS', 60, 0, 7 * 86400),
    ffmpegPath: str('LIVE_FFMPEG_PATH'),
    speakerHoldSeconds: int('LIVE_SPEAKER_HOLD_SECONDS', 4, 1, 3600),
  };
  // ---- Recording ----
  config.recording = recordingConfig(config.dataDir, problems, int, str, url);
  // ---- Several processes per node ----
  config.processes = processesConfig(config, problems, int, str);
  // ---- Cluster ----
  const selector = str('NODE_SELECTOR') ?? (config.processes.count > 1 ? 'local-first' : 'least-loaded'); // multiproc: local-first
  if (!['least-loaded', 'random', 'local-first'].includes(selector))
    problems.push('NODE_SELECTOR must be least-loaded, random or local-first');
  const prefix = str('REDIS_PREFIX') ?? 'switchboard:';
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(prefix)) problems.push('REDIS_PREFIX may contain only letters, digits and _ . : - (max 64)');
  const heartbeatMs = int('NODE_HEARTBEAT_MS', 1000, 50, 60_000);
  const ttlMs = int('NODE_TTL_MS', 5000, 150, 600_000);
  if (ttlMs < 2 * heartbeatMs) problems.push('NODE_TTL_MS must be at least twice NODE_HEARTBEAT_MS (one late beat must not kill a node)');
  if (config.redisUrl && !config.databaseUrl) {
    problems.push(
      "REDIS_URL (cluster mode) needs a PostgreSQL database shared by all nodes: set DATABASE_URL (PGlite is one process's own)",
    );
  }
  config.cluster = {
    prefix,
    publicUrl: url('NODE_PUBLIC_URL', ['http:', 'https:']),
    capacity: int('NODE_CAPACITY', 1000, 1, 10_000_000),
    heartbeatMs,
    ttlMs,
    requestTimeoutMs: int('CLUSTER_REQUEST_TIMEOUT_MS', 5000, 50, 600_000),
    selector: selector as Config['cluster']['selector'],
    drainTimeoutSeconds: int('DRAIN_TIMEOUT_SECONDS', 300, 0, 7 * 86400),
    reapGraceMs: int('CLUSTER_REAP_GRACE_MS', 30_000, 0, 86_400_000),
  };

  // ---- Cascading big rooms across nodes ----
  config.cascade = {
    enabled: onOff('SFU_CASCADE', 'on'),
    nodeConsumerBudget: int('SFU_NODE_CONSUMER_BUDGET', Math.max(1, rtcWorkers) * config.sfu.routerConsumerBudget, 0, 10_000_000),
    pingIntervalMs: int('SFU_CASCADE_PING_MS', 2000, 100, 600_000),
    pingMisses: int('SFU_CASCADE_PING_MISSES', 3, 1, 100),
    portRange: null,
    address: str('SFU_CASCADE_ADDRESS'),
    idleSeconds: int('SFU_CASCADE_IDLE_SECONDS', 30, 0, 86_400),
  };
  const cascadePorts = str('SFU_CASCADE_PORTS');
  if (cascadePorts) {
    const m = /^(\d+)-(\d+)$/.exec(cascadePorts);
    const [min, max] = m ? [Number(m[1]), Number(m[2])] : [0, 0];
    if (!m || min < 1024 || max > 65535 || min > max) problems.push('SFU_CASCADE_PORTS must be a range like 50000-50999 (1024-65535)');
    else config.cascade.portRange = { min, max };
  }

  // ---- STUN/TURN for clients ----
  config.turn = turnConfig(problems, str);

  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

// ---- STUN/TURN for clients ----
const ICE_URL = /^(stun|turns?):(\[[0-9A-Fa-f:.]+\]|[^\s:/?#[\]@]+)(?::([0-9]{1,5}))?(?:\?transport=(udp|tcp))?$/i;
const HOST_LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;

/** Why `raw` is not a usable RTCIceServer URL (RFC 7064 / 7065), or null when it is. */
export function iceUrlProblem(raw: string): string | null {
  const m = ICE_URL.exec(raw);
  if (!m) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) return 'has no "//" after the scheme (stun:host:port, turn:host:port?transport=udp)';
    if (!/^(stun|turns?):/i.test(raw)) return 'must start with stun:, turn: or turns:';
    return 'must be scheme:host[:port][?transport=udp|tcp] (IPv6 in brackets)';
  }
  const [, scheme, host, port, transport] = m as unknown as [string, string, string, string | undefined, string | undefined];
  if (host.startsWith('[')) {
    if (!isIPv6(host.slice(1, -1))) return `has an invalid IPv6 address ${host}`;
  } else if (host.length > 253 || !host.split('.').every((label) => HOST_LABEL.test(label))) {
    return `has an invalid host ${host}`;
  }
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return `has an invalid port ${port}`;
  if (transport !== undefined && scheme.toLowerCase() === 'stun') return 'is a stun: URL; only turn: and turns: take ?transport=';
  return null;
}

function turnConfig(problems: string[], str: (name: string) => string | null): TurnConfig {
  const urls = (str('ICE_SERVERS') ?? '')
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean);
  for (const u of urls) {
    const problem = iceUrlProblem(u);
    // A user:password@ someone put in the URL is not echoed (config errors go to stderr, unscrubbed).
    if (problem) problems.push(`ICE_SERVERS: ${u.slice(0, 200).replace(/^([a-z]+:(?:\/\/)?)[^@]*@/i, '$1[redacted]@')} ${problem}`);
  }
  const secret = str('TURN_SECRET');
  if (secret !== null && secret.length < 16) problems.push('TURN_SECRET must have at least 16 characters');
  // Any lifetime from a minute up (no ceiling: coturn only compares the expiry in the username with its clock).
  let ttlSeconds = 6 * 3600;
  const rawTtl = str('TURN_TTL_SECONDS');
  if (rawTtl !== null) {
    const value = Number(rawTtl);
    if (!/^[0-9]+$/.test(rawTtl) || !Number.isSafeInteger(value) || value < 60) {
      problems.push(`TURN_TTL_SECONDS must be a whole number of seconds, at least 60 (got "${rawTtl}")`);
    } else ttlSeconds = value;
  }
  return { urls, secret, ttlSeconds };
}

// ---- Recording ----
function recordingConfig(
  dataDir: string,
  problems: string[],
  int: (name: string, fallback: number, min: number, max: number) => number,
  str: (name: string) => string | null,
  url: (name: string, protocols: string[]) => string | null,
): RecordingConfig {
  const storage = str('RECORDING_STORAGE') ?? (str('S3_BUCKET') ? 's3' : 'local');
  if (storage !== 'local' && storage !== 's3') problems.push('RECORDING_STORAGE must be local or s3');
  let s3: RecordingConfig['s3'] = null;
  if (storage === 's3') {
    const endpoint = url('S3_ENDPOINT', ['http:', 'https:']);
    const bucket = str('S3_BUCKET');
    const accessKey = str('S3_ACCESS_KEY');
    const secretKey = str('S3_SECRET_KEY');
    for (const [name, value] of [
      ['S3_ENDPOINT', endpoint],
      ['S3_BUCKET', bucket],
      ['S3_ACCESS_KEY', accessKey],
      ['S3_SECRET_KEY', secretKey],
    ] as const) {
      if (!value) problems.push(`${name} is required when RECORDING_STORAGE is s3`);
    }
    s3 = {
      endpoint: endpoint ?? '',
      bucket: bucket ?? '',
      accessKey: accessKey ?? '',
      secretKey: secretKey ?? '',
      region: str('S3_REGION') ?? 'us-east-1',
      prefix: (str('S3_PREFIX') ?? 'recordings/').replace(/^\/+/, ''),
    };
  }
  const autoTypes = (str('RECORDING_AUTO_ROOM_TYPES') ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  for (const t of autoTypes) {
    if (!['individual', 'group', 'webinar', 'broadcast'].includes(t)) problems.push(`RECORDING_AUTO_ROOM_TYPES: unknown room type ${t}`);
  }
  const mode = str('RECORDING_DEFAULT_MODE') ?? 'tracks';
  if (mode !== 'tracks' && mode !== 'composite') problems.push('RECORDING_DEFAULT_MODE must be tracks or composite');
  return {
    ffmpegPath: str('FFMPEG_PATH'),
    ffprobePath: str('FFPROBE_PATH'),
    dir: path.resolve(str('RECORDINGS_DIR') ?? path.join(dataDir, 'recordings')),
    storage: storage === 's3' ? 's3' : 'local',
    s3,
    retentionDays: int('RECORDING_RETENTION_DAYS', 30, 0, 36_500),
    cleanupIntervalSeconds: int('RECORDING_CLEANUP_INTERVAL_SECONDS', 3600, 1, 7 * 86400),
    downloadUrlTtlSeconds: int('RECORDING_DOWNLOAD_URL_TTL_SECONDS', 3600, 10, 7 * 86400),
    autoTypes,
    minFreeMb: int('RECORDING_MIN_FREE_MB', 500, 0, 10_000_000),
    defaultMode: mode === 'composite' ? 'composite' : 'tracks',
  };
}

// ---- Several processes per node ----
function processesConfig(
  config: Config,
  problems: string[],
  int: (name: string, fallback: number, min: number, max: number) => number,
  str: (name: string) => string | null,
): ProcessesConfig {
  const count = int('NODE_PROCESSES', 1, 1, 64);
  // Set by the primary in each worker's environment (not by operators).
  const rawIndex = str('SWITCHBOARD_PROCESS_INDEX');
  const index = rawIndex === null ? null : int('SWITCHBOARD_PROCESS_INDEX', 0, 0, 63);
  const nodeId = str('SWITCHBOARD_PROCESS_NODE_ID') ?? config.nodeId;
  const internalPortBase = int('NODE_INTERNAL_PORT_BASE', config.port === 0 ? 0 : config.port + 1, 0, 65535);
  if (count > 1) {
    // The processes of a node are cluster members of each other: the same rule as cluster mode.
    if (!config.redisUrl) problems.push('NODE_PROCESSES > 1 needs Redis (the processes of a node form a cluster): set REDIS_URL');
    if (!config.databaseUrl)
      problems.push(
        "NODE_PROCESSES > 1 needs a PostgreSQL database shared by the processes: set DATABASE_URL (PGlite is one process's own)",
      );
    if (index === null && internalPortBase > 0 && internalPortBase + count - 1 > 65535)
      problems.push('NODE_INTERNAL_PORT_BASE + NODE_PROCESSES - 1 must be at most 65535');
    if (index === null && internalPortBase > 0 && config.port >= internalPortBase && config.port < internalPortBase + count) {
      problems.push(
        `the internal ports ${internalPortBase}-${internalPortBase + count - 1} (NODE_INTERNAL_PORT_BASE) must not include PORT ${config.port}`,
      );
    }
    if (index === null && !/^[A-Za-z0-9_.:-]{1,60}$/.test(nodeId))
      problems.push('NODE_ID may have at most 60 characters with NODE_PROCESSES > 1 (processes are <NODE_ID>-p<i>)');
  }
  if (index !== null && index >= count) problems.push('SWITCHBOARD_PROCESS_INDEX must be below NODE_PROCESSES');
  return { count, internalPortBase, index, nodeId };
}
