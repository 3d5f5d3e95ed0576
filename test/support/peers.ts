// Real libwebrtc peers (@roamhq/wrtc) for call tests: a peer connection that
// records its candidates, in-process negotiation, a synthetic video source,
// and what getStats says about the path in use.

import * as assert from 'uvu/assert';
import wrtc from '@roamhq/wrtc';
import type { IceServer } from '../../signaling/protocol/protocol.js';

export interface Peer {
  pc: RTCPeerConnection;
  candidates: RTCIceCandidate[];
  states: string[];
  gathered: Promise<void>;
}

/** A peer restricted to relayed (TURN) candidates. */
export function relayPeer(iceServers: IceServer[]): Peer {
  return newPeer(iceServers, 'relay');
}

export function newPeer(iceServers: IceServer[], iceTransportPolicy: RTCIceTransportPolicy): Peer {
  const pc = new wrtc.RTCPeerConnection({ iceServers, iceTransportPolicy });
  const peer: Peer = { pc, candidates: [], states: [], gathered: Promise.resolve() };
  peer.gathered = new Promise((resolve) => {
    pc.onicecandidate = (e) => {
      if (e.candidate) peer.candidates.push(e.candidate);
      else resolve();
    };
  });
  pc.onconnectionstatechange = () => peer.states.push(pc.connectionState);
  return peer;
}

/** Offer/answer and trickled candidates between two in-process peers (the signaling path is not under test here). */
export async function negotiate(a: Peer, b: Peer): Promise<void> {
  a.pc.addEventListener('icecandidate', (e) => void (e.candidate && b.pc.addIceCandidate(e.candidate).catch(() => {})));
  b.pc.addEventListener('icecandidate', (e) => void (e.candidate && a.pc.addIceCandidate(e.candidate).catch(() => {})));
  await a.pc.setLocalDescription(await a.pc.createOffer());
  await b.pc.setRemoteDescription(a.pc.localDescription!);
  await b.pc.setLocalDescription(await b.pc.createAnswer());
  await a.pc.setRemoteDescription(b.pc.localDescription!);
}

/** Sends synthetic I420 frames (a moving gray ramp) on a wrtc video track until stopped. */
export function videoSender(pc: RTCPeerConnection): { stop(): void } {
  const source = new wrtc.nonstandard.RTCVideoSource();
  const track = source.createTrack();
  pc.addTrack(track, new wrtc.MediaStream([track]));
  const width = 320;
  const height = 240;
  let n = 0;
  const timer = setInterval(() => {
    const data = new Uint8Array(width * height * 1.5);
    for (let i = 0; i < width * height; i++) data[i] = (i + n * 4) & 0xff;
    data.fill(128, width * height);
    source.onFrame({ width, height, data });
    n++;
  }, 33);
  return {
    stop() {
      clearInterval(timer);
      track.stop();
    },
  };
}

/** Every report of pc.getStats() as plain records. */
export async function statsOf(pc: RTCPeerConnection): Promise<Array<Record<string, unknown>>> {
  const out: Array<Record<string, unknown>> = [];
  (await pc.getStats()).forEach((s: Record<string, unknown>) => out.push(s));
  return out;
}

/** The selected candidate pair's local and remote candidate types. */
export async function selectedPair(pc: RTCPeerConnection): Promise<{ local: string; remote: string; protocol: string }> {
  const stats = await statsOf(pc);
  const byId = new Map(stats.map((s) => [s['id'] as string, s]));
  const transport = stats.find((s) => s['type'] === 'transport' && s['selectedCandidatePairId']);
  const pair =
    (transport && byId.get(transport['selectedCandidatePairId'] as string)) ??
    stats.find((s) => s['type'] === 'candidate-pair' && s['nominated'] && s['state'] === 'succeeded');
  assert.ok(pair, 'a selected candidate pair');
  const local = byId.get(pair['localCandidateId'] as string)!;
  const remote = byId.get(pair['remoteCandidateId'] as string)!;
  return { local: local['candidateType'] as string, remote: remote['candidateType'] as string, protocol: local['protocol'] as string };
}
