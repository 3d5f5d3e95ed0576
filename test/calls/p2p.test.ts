// A 1:1 call's media goes peer-to-peer: two real libwebrtc peers (@roamhq/wrtc)
// ring, answer, and negotiate through the hub's relay (offer, answer and ICE
// candidates addressed to the other participant). Video frames are decoded,
// the selected candidate pair is host to host, and the SFU never had the
// room (no media room, no transport).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import wrtc from '@roamhq/wrtc';
import type { SignalingClient } from '../../clients/node/signalingClient.js';
import { eventually } from '../support/net.js';
import { newPeer, selectedPair, statsOf, videoSender, type Peer } from '../support/peers.js';
import { startServer } from '../support/server.js';

// As in clients/node/mediaBot.ts: leave before wrtc's finalizers run at teardown.
process.once('beforeExit', (code) => process.exit(process.exitCode ?? code));

/** Wires a peer's signaling to the hub's relay: its candidates go `to` the other participant, the other's come in. Returns a stop. */
function overRelay(peer: Peer, client: SignalingClient, to: string): () => void {
  let stopped = false;
  peer.pc.onicecandidate = (e) => {
    if (e.candidate && !stopped) {
      client.send('ice-candidate', {
        to,
        candidate: e.candidate.candidate,
        sdpMid: e.candidate.sdpMid,
        sdpMLineIndex: e.candidate.sdpMLineIndex,
      });
    }
  };
  void (async () => {
    while (!stopped && !client.closeInfo) {
      const c = await client.next('ice-candidate', undefined, 500).catch(() => null);
      if (c?.candidate) {
        await peer.pc
          .addIceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null })
          .catch(() => undefined);
      }
    }
  })();
  return () => {
    stopped = true;
  };
}

test('a direct call: ring, accept, then video peer-to-peer through the relay, never through the SFU', async () => {
  const srv = await startServer({ sfuWorkers: 1 });
  const senders: Array<{ stop(): void }> = [];
  const stops: Array<() => void> = [];
  const peers: Peer[] = [];
  try {
    const alice = await srv.connect();
    const bob = await srv.connect();
    await alice.request('auth', { token: await srv.mint({ userId: 'alice' }) });
    await bob.request('auth', { token: await srv.mint({ userId: 'bob' }) });
    const invite = await alice.request('call-invite', { to: ['bob'], media: 'video' });
    const ring = await bob.next('call-incoming');
    const joined = await bob.request('call-accept', { call_id: ring.call_id });
    await alice.next('call-accepted');
    const aliceId = invite.participant_id!;
    const bobId = joined.participant_id;

    const a = newPeer([], 'all');
    const b = newPeer([], 'all');
    peers.push(a, b);
    stops.push(overRelay(a, alice, bobId), overRelay(b, bob, aliceId));
    senders.push(videoSender(a.pc), videoSender(b.pc));
    let framesAtBob = 0;
    let framesAtAlice = 0;
    const sink = (track: MediaStreamTrack, count: () => void) => {
      const s = new wrtc.nonstandard.RTCVideoSink(track);
      s.onframe = count;
      senders.push(s);
    };
    b.pc.ontrack = (e) => sink(e.track, () => framesAtBob++);
    a.pc.ontrack = (e) => sink(e.track, () => framesAtAlice++);

    // The caller offers; the callee answers; both through the hub.
    await a.pc.setLocalDescription(await a.pc.createOffer());
    await alice.request('offer', { to: bobId, sdp: a.pc.localDescription!.sdp });
    const offer = await bob.next('offer');
    assert.is(offer.from, aliceId);
    await b.pc.setRemoteDescription({ type: 'offer', sdp: offer.sdp });
    await b.pc.setLocalDescription(await b.pc.createAnswer());
    await bob.request('answer', { to: aliceId, sdp: b.pc.localDescription!.sdp });
    const answer = await alice.next('answer');
    await a.pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });

    await eventually(() => a.pc.connectionState === 'connected' && b.pc.connectionState === 'connected', 15_000, 'both peers connected');
    await eventually(() => framesAtBob >= 10 && framesAtAlice >= 10, 15_000, 'video frames decoded both ways');
    for (const p of [a, b]) {
      const pair = await selectedPair(p.pc);
      assert.equal([pair.local, pair.remote], ['host', 'host'], 'a direct host-to-host path');
      const inbound = (await statsOf(p.pc)).find((s) => s['type'] === 'inbound-rtp' && s['kind'] === 'video');
      assert.ok(inbound && Number(inbound['framesDecoded']) > 0, 'inbound video decoded');
    }
    // The SFU never had this room: no media room, no worker transport for it.
    assert.is(srv.app.rooms.getRoom(invite.room)?.media ?? null, null);

    await bob.request('leave', {});
    assert.equal(await alice.next('call-ended'), { call_id: invite.call_id, reason: 'completed' });
    await Promise.all([alice.close(), bob.close()]);
  } finally {
    for (const stop of stops) stop();
    for (const s of senders) s.stop();
    for (const p of peers) p.pc.close();
    await srv.stop();
  }
});

test.run();
