// Client mistakes mediasoup would report only as plain errors (or not at all),
// answered with the error code the client deserves.

import type { RtpParameters, SctpStreamParameters } from 'mediasoup/types';
import { AppError } from '../server/kernel/errors.js';
import type { TransportEntry } from './mediaPeer.js';

/**
 * Runs a mediasoup call made with client input. mediasoup rejects bad client
 * parameters with TypeError/UnsupportedError (the client's fault:
 * invalid_payload), wrong states with InvalidStateError (conflict), unknown
 * ids with NotFoundError (not_found). Anything else is unexpected: it goes to
 * `onUnexpected` (the worker gets a health check) and on as internal_error.
 */
export async function clientCall<T>(what: string, fn: () => Promise<T>, onUnexpected?: (err: unknown) => void): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof AppError) throw err;
    const name = (err as Error)?.name;
    // The flatbuffers builder throws TypeErrors too, but those say the worker's
    // request builder is broken (see workerPool.ts), not that the input was bad.
    const builderBroken = String((err as Error)?.message).startsWith('FlatBuffers:');
    if (!builderBroken && (err instanceof TypeError || name === 'UnsupportedError' || name === 'TypeError')) {
      throw new AppError('invalid_payload', `${what}: ${(err as Error).message}`);
    }
    if (name === 'InvalidStateError') throw new AppError('conflict', `${what}: ${(err as Error).message}`);
    if (name === 'NotFoundError') throw new AppError('not_found', `${what}: ${(err as Error).message}`);
    onUnexpected?.(err);
    throw err;
  }
}

/**
 * Takes the transport-unique ids of new RTP parameters (mid; SSRCs of
 * encodings and RTX; RIDs when there is no mid), refusing ones another
 * producer on the transport holds. Returns what gives them back.
 */
export function claimRtpIds(entry: TransportEntry, rtp: RtpParameters): () => void {
  const ssrcs = new Set<number>();
  for (const e of rtp.encodings ?? []) {
    if (e.ssrc) ssrcs.add(e.ssrc);
    if (e.rtx?.ssrc) ssrcs.add(e.rtx.ssrc);
  }
  const rids = rtp.mid ? [] : (rtp.encodings ?? []).flatMap((e) => (e.rid ? [e.rid] : []));
  if (rtp.mid !== undefined && entry.mids.has(rtp.mid)) {
    throw new AppError('conflict', `mid ${rtp.mid} is already used on this transport`, 'rtp_parameters.mid');
  }
  for (const ssrc of ssrcs) {
    if (entry.ssrcs.has(ssrc)) throw new AppError('conflict', `SSRC ${ssrc} is already used on this transport`, 'rtp_parameters.encodings');
  }
  for (const rid of rids) {
    if (entry.rids.has(rid))
      throw new AppError('conflict', `RID ${rid} is already used on this transport (give a mid)`, 'rtp_parameters.encodings');
  }
  if (rtp.mid !== undefined) entry.mids.add(rtp.mid);
  for (const ssrc of ssrcs) entry.ssrcs.add(ssrc);
  for (const rid of rids) entry.rids.add(rid);
  return () => {
    if (rtp.mid !== undefined) entry.mids.delete(rtp.mid);
    for (const ssrc of ssrcs) entry.ssrcs.delete(ssrc);
    for (const rid of rids) entry.rids.delete(rid);
  };
}

/** Checks a send transport can carry data channels and takes the SCTP stream id; returns what gives it back. */
export function claimStreamId(entry: TransportEntry, params: SctpStreamParameters): () => void {
  if (entry.direction !== 'send') throw new AppError('invalid_payload', 'produce-data needs a send transport', 'transport_id');
  if (!entry.transport.sctpParameters) {
    throw new AppError('invalid_payload', 'this transport has no data channels: create it with sctp: true', 'transport_id');
  }
  const { streamId, maxPacketLifeTime, maxRetransmits } = params;
  if (maxPacketLifeTime !== undefined && maxRetransmits !== undefined) {
    throw new AppError('invalid_payload', 'give maxPacketLifeTime or maxRetransmits, not both', 'sctp_stream_parameters');
  }
  if (entry.streamIds.has(streamId)) {
    throw new AppError('conflict', `SCTP stream ${streamId} is already used on this transport`, 'sctp_stream_parameters.streamId');
  }
  entry.streamIds.add(streamId);
  return () => entry.streamIds.delete(streamId);
}
