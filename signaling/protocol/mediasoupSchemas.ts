// Schemas of the mediasoup objects clients send (rtp_parameters,
// rtp_capabilities, dtls_parameters, sctp_stream_parameters). mediasoup's own
// checks only look at types, and its flatbuffers serializers trust the rest:
// a fractional maxBitrate, for one, throws inside BigInt() half-way through a
// request and leaves the worker's shared request builder unusable. So every
// number that lands in an integer slot of a worker request is checked to be
// an integer in that slot's range here, strings and arrays are bounded, and
// enums are closed. Unknown fields are dropped, as everywhere in the catalog.
// The types these schemas declare are assignable to mediasoup's own.

import { array, boolean, either, integer, number, object, oneOf, optional, record, string } from './schema.js';

const UINT32_MAX = 4_294_967_295;
const INT32_MIN = -2_147_483_648;
const INT32_MAX = 2_147_483_647;

/** Header extension URIs mediasoup 3.27 serializes (any other makes its serializer throw). */
export const RTP_HEADER_EXTENSION_URIS = [
  'urn:ietf:params:rtp-hdrext:sdes:mid',
  'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
  'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id',
  'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
  'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
  'urn:ietf:params:rtp-hdrext:ssrc-audio-level',
  'https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension',
  'urn:3gpp:video-orientation',
  'http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time',
  'urn:ietf:params:rtp-hdrext:toffset',
  'http://www.webrtc.org/experiments/rtp-hdrext/playout-delay',
  'urn:mediasoup:params:rtp-hdrext:packet-id',
] as const;
export const DTLS_ROLES = ['auto', 'client', 'server'] as const;
export const FINGERPRINT_ALGORITHMS = ['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512'] as const;
const MEDIA_KINDS = ['audio', 'video'] as const;
const EXTENSION_DIRECTIONS = ['sendrecv', 'sendonly', 'recvonly', 'inactive'] as const;

const SSRC = integer({ min: 0, max: UINT32_MAX });
const PAYLOAD_TYPE = integer({ min: 0, max: 127 });
const CLOCK_RATE = integer({ min: 1, max: 1_000_000 });
const CHANNELS = integer({ min: 1, max: 255 });
const HEADER_EXTENSION_ID = integer({ min: 1, max: 255 });
const MIME_TYPE = string({
  min: 7,
  max: 64,
  pattern: /^(audio|video)\/[A-Za-z0-9._+-]+$/i,
  hint: 'must be audio/<codec> or video/<codec>',
});
const TOKEN = (max: number) => string({ min: 1, max, pattern: /^[A-Za-z0-9_.+-]+$/, hint: 'may contain only letters, digits and _ . + -' });

/**
 * Codec (fmtp) and header extension parameters: mediasoup writes an integer
 * as a 32-bit integer and any other number as a double, so integers must fit
 * in int32; strings are bounded; nothing else is accepted (as in mediasoup).
 */
const PARAMETER_VALUE = either(
  string({ max: 256 }),
  either(integer({ min: INT32_MIN, max: INT32_MAX }), number({ min: -1e9, max: 1e9 }), 'a number'),
  'a string of at most 256 characters or a number (integers within 32 bits)',
);
const PARAMETERS = record(TOKEN(64), PARAMETER_VALUE, { maxKeys: 32 });

const RTCP_FEEDBACK = object({ type: TOKEN(32), parameter: optional(string({ max: 32 })) });

export const rtpCodecParameters = object({
  mimeType: MIME_TYPE,
  payloadType: PAYLOAD_TYPE,
  clockRate: CLOCK_RATE,
  channels: optional(CHANNELS),
  parameters: optional(PARAMETERS),
  rtcpFeedback: optional(array(RTCP_FEEDBACK, { max: 16 })),
});

export const rtpEncodingParameters = object({
  ssrc: optional(SSRC),
  rid: optional(TOKEN(32)),
  codecPayloadType: optional(PAYLOAD_TYPE),
  rtx: optional(object({ ssrc: SSRC })),
  dtx: optional(boolean()),
  scalabilityMode: optional(
    string({ min: 1, max: 32, pattern: /^[A-Za-z0-9_]+$/, hint: 'is a scalability mode such as L1T3 or L3T3_KEY' }),
  ),
  // A 64-bit unsigned integer in the worker request (BigInt in mediasoup): integers only.
  maxBitrate: optional(integer({ min: 0, max: 100_000_000_000 })),
});

/** What `produce` carries: a producer's RTP parameters as mediasoup-client gives them. */
export const rtpParameters = object({
  mid: optional(string({ min: 1, max: 64 })),
  codecs: array(rtpCodecParameters, { min: 1, max: 16 }),
  headerExtensions: optional(
    array(
      object({
        uri: oneOf(RTP_HEADER_EXTENSION_URIS),
        id: HEADER_EXTENSION_ID,
        encrypt: optional(boolean()),
        parameters: optional(PARAMETERS),
      }),
      { max: 16 },
    ),
  ),
  encodings: optional(array(rtpEncodingParameters, { max: 8 })),
  rtcp: optional(object({ cname: optional(string({ max: 256 })), reducedSize: optional(boolean()) })),
  msid: optional(string({ max: 256 })),
});

/** What `consume` carries: the receiving device's RTP capabilities. */
export const rtpCapabilities = object({
  codecs: optional(
    array(
      object({
        kind: oneOf(MEDIA_KINDS),
        mimeType: MIME_TYPE,
        preferredPayloadType: PAYLOAD_TYPE,
        clockRate: CLOCK_RATE,
        channels: optional(CHANNELS),
        parameters: optional(PARAMETERS),
        rtcpFeedback: optional(array(RTCP_FEEDBACK, { max: 16 })),
      }),
      { max: 64 },
    ),
  ),
  headerExtensions: optional(
    array(
      object({
        kind: oneOf(MEDIA_KINDS),
        // A device's capabilities come from the router's, so only mediasoup's URIs appear.
        uri: oneOf(RTP_HEADER_EXTENSION_URIS),
        preferredId: HEADER_EXTENSION_ID,
        preferredEncrypt: optional(boolean()),
        direction: optional(oneOf(EXTENSION_DIRECTIONS)),
      }),
      { max: 64 },
    ),
  ),
});

/** What `connect-transport` carries. */
export const dtlsParameters = object({
  role: optional(oneOf(DTLS_ROLES)),
  fingerprints: array(
    object({
      algorithm: oneOf(FINGERPRINT_ALGORITHMS),
      // Colon-separated hex bytes: sha-512 is 64 bytes, 191 characters.
      value: string({ min: 2, max: 191, pattern: /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2})*$/, hint: 'must be hex bytes separated by colons' }),
    }),
    { min: 1, max: 8 },
  ),
});

/** What `produce-data` carries. Stream ids and the reliability limits are 16-bit in the worker. */
export const sctpStreamParameters = object({
  streamId: integer({ min: 0, max: 65_534 }),
  ordered: optional(boolean()),
  maxPacketLifeTime: optional(integer({ min: 0, max: 65_535 })),
  maxRetransmits: optional(integer({ min: 0, max: 65_535 })),
});
