// A small seeded fuzzer for the wire protocol and the REST API. Messages are
// built from the catalog (a valid example for every client message type,
// then mutated), so a type added to `clientSchemas` without an example here
// does not compile. Every run prints its seed; FUZZ_SEED replays one,
// FUZZ_SECONDS sets how long each fuzz file runs (default 20).

import { clientSchemas, type ClientType } from '../../signaling/protocol/protocol.js';
import { textProblem } from '../../signaling/protocol/schema.js';

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  int(n: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
}

/** mulberry32: tiny, fast, good enough to fuzz with, and the same on every machine. */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const r: Rng = {
    next,
    int: (n) => Math.floor(next() * n),
    chance: (p) => next() < p,
    pick: (items) => items[Math.floor(next() * items.length)],
  };
  return r;
}

/** FUZZ_SEED, or a fresh one; print it so a failing run can be replayed. */
export function fuzzSeed(): number {
  const fixed = process.env['FUZZ_SEED'];
  if (fixed !== undefined && fixed !== '') return Number(fixed) >>> 0;
  return (Date.now() ^ (process.pid << 16)) >>> 0;
}

export function fuzzMillis(defaultSeconds = 20): number {
  return Number(process.env['FUZZ_SECONDS'] ?? defaultSeconds) * 1000;
}

// ---- values ----------------------------------------------------------------

// Placeholders replaced in the serialized text: values JSON.stringify cannot
// make (1e999 parses to Infinity) or that would overflow our own stringify
// (nesting thousands deep).
const RAW = '\u0001RAW:';
const RAW_END = '\u0001';
export const raw = (text: string): string => `${RAW}${text}${RAW_END}`;

export function deepText(r: Rng): string {
  const depth = r.pick([33, 100, 2_000, 10_000]); // 10 000 objects deep is 50 KB: under MAX_MESSAGE_BYTES
  if (r.chance(0.5)) return '['.repeat(depth) + ']'.repeat(depth);
  return '{"a":'.repeat(depth) + '0' + '}'.repeat(depth);
}

/** Strings a client should not be able to hurt us with. */
export function nastyString(r: Rng): string {
  return r.pick([
    '',
    ' ',
    'a\u0000b',
    '\u0000',
    'x\uD800',
    '\uDC00',
    '\uDBFF\uDBFF',
    '😀',
    'é'.repeat(200),
    'x'.repeat(70_000 / 8),
    '../../etc/passwd',
    '%00',
    '%ED%A0%80',
    "'; DROP TABLE rooms; --",
    '${jndi:x}',
    '<script>',
    '\r\n',
    '\\',
    '"',
    'PA_' + 'f'.repeat(61),
    '00000000-0000-0000-0000-000000000000',
    '-'.repeat(36),
    '9'.repeat(30),
    'constructor',
    '__proto__',
  ]);
}

export function nastyNumber(r: Rng): unknown {
  return r.pick<unknown>([
    0,
    -1,
    -0.5,
    1.5,
    2 ** 31,
    -(2 ** 31),
    2 ** 53 + 2,
    1e308,
    -1e308,
    5e-324,
    raw('1e999'),
    raw('-1e999'),
    raw('1e-999'),
    raw('123456789012345678901234567890'),
    raw('-0'),
  ]);
}

export function nastyValue(r: Rng, depth = 0): unknown {
  switch (r.int(depth > 2 ? 4 : 7)) {
    case 0:
      return nastyString(r);
    case 1:
      return nastyNumber(r);
    case 2:
      return r.pick<unknown>([null, true, false]);
    case 3:
      return raw(deepText(r));
    case 4:
      return [nastyValue(r, depth + 1), nastyValue(r, depth + 1)];
    case 5:
      return { [nastyString(r)]: nastyValue(r, depth + 1) };
    default:
      return { ['__proto__']: nastyValue(r, depth + 1), constructor: 'x', toString: 1 };
  }
}

// ---- messages --------------------------------------------------------------

/** What a fuzzing client has seen, so examples can name real objects. */
export interface FuzzWorld {
  room: string;
  participants: string[];
  users: string[];
  transports: string[];
  producers: string[];
  consumers: string[];
  dataProducers: string[];
  chatMessages: string[];
  calls: string[];
  routerCaps: unknown;
}

export function emptyWorld(room: string): FuzzWorld {
  return {
    room,
    participants: [],
    users: [],
    transports: [],
    producers: [],
    consumers: [],
    dataProducers: [],
    chatMessages: [],
    calls: [],
    routerCaps: null,
  };
}

const NO_CALL = '00000000-0000-4000-8000-000000000000';
const any = (r: Rng, items: string[], fallback: string) => (items.length > 0 && r.chance(0.8) ? r.pick(items) : fallback);

const OPUS_RTP = (r: Rng) => ({
  mid: String(r.int(10)),
  codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, parameters: {}, rtcpFeedback: [] }],
  headerExtensions: [],
  encodings: [{ ssrc: 1000 + r.int(1e6) }],
  rtcp: { cname: 'fuzz', reducedSize: true },
});
const VP8_RTP = (r: Rng) => ({
  mid: String(r.int(10)),
  codecs: [{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, parameters: {}, rtcpFeedback: [] }],
  headerExtensions: [],
  encodings: [{ ssrc: 2000 + r.int(1e6) }],
  rtcp: { cname: 'fuzz', reducedSize: true },
});
const DTLS = () => ({
  role: 'client',
  fingerprints: [
    {
      algorithm: 'sha-256',
      value: Array.from({ length: 32 }, (_, i) => ((i * 7) % 256).toString(16).padStart(2, '0').toUpperCase()).join(':'),
    },
  ],
});

/** A valid payload for every client message type (valid in shape; the target may not exist). */
export const EXAMPLES = {
  auth: () => ({ token: 'not-a-token' }),
  join: (_r, w) => ({ room: w.room, display_name: 'Fuzz', capabilities: { codecs: ['opus'] } }),
  leave: () => ({}),
  offer: (r, w) => ({ to: any(r, w.participants, 'PA_none'), sdp: 'v=0' }),
  answer: (r, w) => ({ to: any(r, w.participants, 'PA_none'), sdp: 'v=0' }),
  'ice-candidate': (r, w) => ({ to: any(r, w.participants, 'PA_none'), candidate: '', sdpMid: '0', sdpMLineIndex: 0 }),
  mute: (r) => ({ track: r.pick(['audio', 'video']) }),
  unmute: (r) => ({ track: r.pick(['audio', 'video']) }),
  hold: () => ({}),
  unhold: () => ({}),
  deafen: () => ({}),
  undeafen: () => ({}),
  react: (r) => ({ reaction: r.pick(['heart', 'like', 'fire', 'clap', 'laugh', 'wow', 'sad', 'angry', 'poop']) }),
  dtmf: (r, w) => ({ tones: '12#', ...(r.chance(0.5) ? { to: any(r, w.participants, 'PA_none') } : {}), duration: 100, gap: 70 }),
  'end-call': () => ({}),
  ping: (r) => ({ t: r.int(1e9) }),
  'sfu-capabilities': () => ({}),
  'create-transport': (r) => ({ direction: r.pick(['send', 'recv']), sctp: r.chance(0.5), force_tcp: r.chance(0.2) }),
  'connect-transport': (r, w) => ({ transport_id: any(r, w.transports, 'tr-none'), dtls_parameters: DTLS() }),
  'restart-ice': (r, w) => ({ transport_id: any(r, w.transports, 'tr-none') }),
  produce: (r, w) => {
    const audio = r.chance(0.5);
    return {
      transport_id: any(r, w.transports, 'tr-none'),
      kind: audio ? 'audio' : 'video',
      rtp_parameters: audio ? OPUS_RTP(r) : VP8_RTP(r),
      source: audio ? r.pick(['mic', 'screen-audio']) : r.pick(['camera', 'screen']),
      paused: r.chance(0.3),
    };
  },
  'pause-producer': (r, w) => ({ producer_id: any(r, w.producers, 'pr-none') }),
  'resume-producer': (r, w) => ({ producer_id: any(r, w.producers, 'pr-none') }),
  'close-producer': (r, w) => ({ producer_id: any(r, w.producers, 'pr-none') }),
  consume: (r, w) => ({
    transport_id: any(r, w.transports, 'tr-none'),
    producer_id: any(r, w.producers, 'pr-none'),
    rtp_capabilities: (w.routerCaps as Record<string, unknown> | null) ?? { codecs: [], headerExtensions: [] },
  }),
  'pause-consumer': (r, w) => ({ consumer_id: any(r, w.consumers, 'co-none') }),
  'resume-consumer': (r, w) => ({ consumer_id: any(r, w.consumers, 'co-none') }),
  'set-consumer-layers': (r, w) => ({ consumer_id: any(r, w.consumers, 'co-none'), spatial_layer: r.int(4), temporal_layer: r.int(4) }),
  'produce-data': (r, w) => ({
    transport_id: any(r, w.transports, 'tr-none'),
    sctp_stream_parameters: { streamId: r.int(1024), ordered: true },
    label: 'chat',
    protocol: '',
  }),
  'consume-data': (r, w) => ({ transport_id: any(r, w.transports, 'tr-none'), data_producer_id: any(r, w.dataProducers, 'dp-none') }),
  'close-data-producer': (r, w) => ({ data_producer_id: any(r, w.dataProducers, 'dp-none') }),
  'get-stats': (r, w) =>
    r.pick([
      { transport_id: any(r, w.transports, 'tr-none') },
      { producer_id: any(r, w.producers, 'pr-none') },
      { consumer_id: any(r, w.consumers, 'co-none') },
    ]),
  'set-role': (r, w) => ({ participant_id: any(r, w.participants, 'PA_none'), role: r.pick(['host', 'moderator', 'speaker', 'viewer']) }),
  'raise-hand': () => ({}),
  'lower-hand': (r, w) => (r.chance(0.5) ? {} : { user_id: any(r, w.users, 'nobody') }),
  'acknowledge-hand': (r, w) => ({ user_id: any(r, w.users, 'nobody'), promote: r.chance(0.5) }),
  'mute-participant': (r, w) => ({ participant_id: any(r, w.participants, 'PA_none'), track: r.pick(['audio', 'video']) }),
  'mute-all': (r) => ({ track: r.pick(['audio', 'video']) }),
  kick: (r, w) => ({ participant_id: any(r, w.participants, 'PA_none'), reason: 'fuzz' }),
  'lock-room': () => ({}),
  'unlock-room': () => ({}),
  // No lobby: a join waiting for admission has no reply until someone decides.
  'update-room': (r) => ({
    max_participants: 2 + r.int(50),
    empty_timeout: r.int(600),
    recording_allowed: r.chance(0.5),
    metadata: { topic: 'fuzz', n: r.int(10) },
  }),
  admit: (r, w) => ({ user_id: any(r, w.users, 'nobody') }),
  deny: (r, w) => ({ user_id: any(r, w.users, 'nobody'), reason: 'fuzz' }),
  'send-data': (r, w) => ({
    topic: 'fuzz',
    data: { n: r.int(100), s: 'hello' },
    ...(r.chance(0.3) ? { to: any(r, w.participants, 'PA_none') } : {}),
  }),
  'whiteboard-draw': (r) => ({ stroke: { points: [r.int(100), r.int(100), r.int(100), r.int(100)], color: '#f00' } }),
  'whiteboard-clear': () => ({}),
  'start-recording': (r) => (r.chance(0.5) ? {} : { mode: r.pick(['tracks', 'composite']) }),
  'stop-recording': () => ({}),
  'list-recordings': (r) => (r.chance(0.5) ? {} : { limit: 1 + r.int(100) }),
  'live-start': (r) => ({ layout: r.pick(['speaker', 'active-speaker', 'grid']) }),
  'live-stop': () => ({}),
  'live-show': (r, w) => ({ participant_id: any(r, w.participants, 'PA_none') }),
  'live-watch': (_r, w) => ({ room: w.room }),
  'live-unwatch': () => ({}),
  'live-chat': () => ({ text: 'hello from the fuzzer' }),
  'live-chat-delete': (r, w) => ({ message_id: any(r, w.chatMessages, '1') }),
  'live-chat-pin': (r, w) => ({ message_id: any(r, w.chatMessages, '1') }),
  'live-chat-unpin': () => ({}),
  'live-react': (r) => ({ reaction: r.pick(['heart', 'like', 'fire', 'clap', 'laugh', 'wow', 'sad', 'angry']) }),
  'call-invite': (r, w) => ({
    to: [any(r, w.users, 'nobody-online')],
    media: r.pick(['audio', 'video']),
    ...(r.chance(0.3) ? { call_id: any(r, w.calls, NO_CALL) } : {}),
  }),
  'call-accept': (r, w) => ({ call_id: any(r, w.calls, NO_CALL) }),
  'call-decline': (r, w) => ({ call_id: any(r, w.calls, NO_CALL), reason: r.pick(['declined', 'busy']) }),
  'call-cancel': (r, w) => ({ call_id: any(r, w.calls, NO_CALL) }),
} satisfies Record<ClientType, (r: Rng, w: FuzzWorld) => unknown>;

export const CLIENT_TYPES = Object.keys(clientSchemas) as ClientType[];

/** Mutates a JSON-ish value in place somewhere (or replaces it): the result is returned. */
export function mutate(value: unknown, r: Rng, depth = 0): unknown {
  if (typeof value !== 'object' || value === null || depth > 4 || r.chance(0.1)) return nastyValue(r);
  if (Array.isArray(value)) {
    const copy = [...value];
    const op = r.int(3);
    if (op === 0 || copy.length === 0) copy.push(nastyValue(r));
    else if (op === 1) copy.splice(r.int(copy.length), 1);
    else {
      const i = r.int(copy.length);
      copy[i] = mutate(copy[i], r, depth + 1);
    }
    return copy;
  }
  const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  const keys = Object.keys(copy);
  const op = r.int(4);
  if (op === 0 || keys.length === 0)
    copy[r.chance(0.5) ? nastyString(r) : 'extra_field'] = nastyValue(r); // extra field
  else if (op === 1)
    Reflect.deleteProperty(copy, r.pick(keys)); // missing field
  else {
    const key = r.pick(keys);
    copy[key] = mutate(copy[key], r, depth + 1); // wrong type, odd number, NUL, surrogate, deep nesting...
  }
  return copy;
}

/** JSON text with the placeholders expanded. */
export function serialize(value: unknown): string {
  return JSON.stringify(value).replace(/"\\u0001RAW:(.*?)\\u0001"/g, (_m, text: string) => JSON.parse(`"${text}"`) as string);
}

/** A frame that is not a catalog message at all; `id` is used where the frame has a well-formed id. */
export function junkFrame(r: Rng, id: string, maxBytes: number): { frame: string | Buffer; oversize: boolean } {
  const q = JSON.stringify(id);
  switch (r.int(10)) {
    case 0:
      return { frame: Buffer.from(Array.from({ length: 1 + r.int(64) }, () => r.int(256))), oversize: false };
    case 1:
      return { frame: r.pick(['{', '{"type":', 'nul', '[1,2', '"\\ud800', `{"type":"ping","id":${q},"payload":}`, '']), oversize: false };
    case 2:
      return { frame: r.pick(['null', '42', '"str"', '[]', 'true', '[{"type":"ping"}]']), oversize: false };
    case 3:
      return { frame: serialize({ type: nastyString(r), id, payload: {} }), oversize: false };
    case 4:
      return { frame: serialize({ type: 'ping', id: nastyValue(r), payload: {} }), oversize: false };
    case 5:
      return { frame: serialize({ type: r.pick(CLIENT_TYPES), id, payload: nastyValue(r) }), oversize: false };
    case 6:
      return { frame: `{"type":"send-data","id":${q},"payload":{"topic":"t","data":${deepText(r)}}}`, oversize: false };
    case 7:
      return { frame: serialize({ type: 'ping', id, payload: { t: 1 }, type2: 'x', extra: nastyValue(r) }), oversize: false };
    case 8:
      return { frame: `{"type":"ping","id":"first","id":${q},"payload":{"t":1}}`, oversize: false };
    default:
      return r.chance(0.1)
        ? { frame: `{"type":"ping","id":${q},"payload":{"t":1},"pad":"${'x'.repeat(maxBytes + 10)}"}`, oversize: true }
        : { frame: '\u0000\u0001\u0002', oversize: false };
  }
}

/** The id the server will read from a frame (a string of 1-64 well-formed characters), if any. */
export function frameId(frame: string | Buffer): string | null {
  if (typeof frame !== 'string') return null;
  let envelope: unknown;
  try {
    envelope = JSON.parse(frame);
  } catch {
    return null;
  }
  if (typeof envelope !== 'object' || envelope === null || Array.isArray(envelope)) return null;
  const id = (envelope as Record<string, unknown>)['id'];
  if (typeof id !== 'string' || id.length === 0 || id.length > 64 || textProblem(id)) return null;
  return id;
}
