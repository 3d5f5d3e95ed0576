// Peer-to-peer calls never touch the SFU, so "viewers listen/watch only" is
// enforced on the SDP they relay. The SDPs here come from real libwebrtc
// peer connections (@roamhq/wrtc), the same ones a client would send.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import wrtc from '@roamhq/wrtc';
import { sendingMedia } from '../../server/domain/rooms/sdpDirections.js';
import { sleep } from '../support/net.js';
import { startServer, type TestServer } from '../support/server.js';

// As in clients/node/mediaBot.ts: leave before wrtc's finalizers run at teardown.
process.once('beforeExit', (code) => process.exit(process.exitCode ?? code));

const test = suite<{ srv: TestServer }>('p2p media rules', {} as { srv: TestServer });
test.before(async (ctx) => {
  ctx.srv = await startServer();
});
test.after(async (ctx) => ctx.srv.stop());

/** A real offer: sending an audio track (and a camera) or only receiving. */
async function realOffer(mode: 'send' | 'recvonly'): Promise<string> {
  const pc = new wrtc.RTCPeerConnection();
  const tracks: MediaStreamTrack[] = [];
  try {
    if (mode === 'send') {
      const audio = new wrtc.nonstandard.RTCAudioSource().createTrack();
      const video = new wrtc.nonstandard.RTCVideoSource().createTrack();
      tracks.push(audio, video);
      pc.addTrack(audio, new wrtc.MediaStream([audio]));
      pc.addTrack(video, new wrtc.MediaStream([video]));
    } else {
      pc.addTransceiver('audio', { direction: 'recvonly' });
      pc.addTransceiver('video', { direction: 'recvonly' });
    }
    const offer = await pc.createOffer();
    return offer.sdp!;
  } finally {
    for (const t of tracks) t.stop(); // a live source track keeps the process alive
    pc.close();
  }
}

test('sendingMedia reads section, session-level and default directions', async () => {
  const send = await realOffer('send');
  const recv = await realOffer('recvonly');
  assert.equal(sendingMedia(send), ['audio', 'video']);
  assert.equal(sendingMedia(recv), []);
  assert.equal(sendingMedia('v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n'), ['audio'], 'no attribute means sendrecv');
  assert.equal(sendingMedia('v=0\r\na=recvonly\r\nm=audio 9 RTP/AVP 0\r\n'), [], 'session-level attribute applies');
  assert.equal(sendingMedia('v=0\r\nm=audio 0 RTP/AVP 0\r\na=sendrecv\r\n'), [], 'port 0 is a rejected section');
  assert.equal(sendingMedia('v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n'), [], 'data channels are not media');
});

test('a viewer may not offer or answer media it would send; receiving-only SDP is relayed', async ({ srv }) => {
  const viewer = await srv.joined('v', 'p2p-rules', { role: 'viewer' });
  const speaker = await srv.joined('s', 'p2p-rules', { role: 'speaker' });
  const sending = await realOffer('send');
  for (const type of ['offer', 'answer'] as const) {
    const err = await viewer.client.request(type, { to: speaker.id, sdp: sending }).then(
      () => null,
      (e: { code: string; field?: string }) => e,
    );
    assert.is(err?.code, 'forbidden', `${type} with sendrecv media`);
    assert.is(err?.field, 'sdp');
  }
  await sleep(100);
  assert.is(speaker.client.unread('offer').length + speaker.client.unread('answer').length, 0, 'nothing reached the speaker');

  const receiving = await realOffer('recvonly');
  await viewer.client.request('offer', { to: speaker.id, sdp: receiving });
  assert.is((await speaker.client.next('offer')).sdp, receiving);
  // Speakers send media peer to peer as before.
  await speaker.client.request('offer', { to: viewer.id, sdp: sending });
  assert.is((await viewer.client.next('offer')).from, speaker.id);
  for (const p of [viewer, speaker]) await p.client.close();
});

test('a viewer promoted to speaker may send at once', async ({ srv }) => {
  const host = await srv.joined('h', 'p2p-promote', { role: 'host' });
  const viewer = await srv.joined('v2', 'p2p-promote', { role: 'viewer' });
  const sending = await realOffer('send');
  await viewer.client.request('offer', { to: host.id, sdp: sending }).then(
    () => assert.unreachable('viewer offered media'),
    () => {},
  );
  await host.client.request('set-role', { participant_id: viewer.id, role: 'speaker' });
  await viewer.client.request('offer', { to: host.id, sdp: sending });
  assert.is((await host.client.next('offer')).from, viewer.id);
  for (const p of [host, viewer]) await p.client.close();
});

test.run();
