#!/usr/bin/env node
// verify-worker.mjs: end-to-end check of a mediasoup-worker binary with a real
// WebRTC peer (libwebrtc through @roamhq/wrtc), on loopback only.
//
//   1. Worker + Router (opus + VP8) + WebRtcTransport listening on 127.0.0.1.
//   2. A wrtc RTCPeerConnection sends a synthetic VP8 track (RTCVideoSource)
//      and a synthetic Opus track (RTCAudioSource); the mediasoup side of the
//      SDP is hand-translated from the transport parameters. Checks: ICE
//      connected, DTLS 'connected', producers' stats count received packets.
//   3. pipeToRouter (SRTP on) from that router to a router on a second worker;
//      checks the pipe producer receives packets.
//
// Usage (needs root or `unshare -rn`, so that nothing leaves loopback):
//   cd DIR_WITH_MEDIASOUP_AND_WRTC    # npm install mediasoup@3.27.1 @roamhq/wrtc
//   MEDIASOUP_WORKER_BIN=/path/to/mediasoup-worker \
//     unshare -n sh -c 'ip link set lo up; exec node /path/to/verify-worker.mjs'
//
// Modules are resolved from $VERIFY_DEPS_DIR (default: the current directory).
// The worker binary is $MEDIASOUP_WORKER_BIN, else the first argument, else
// mediasoup's own default. Exits 0 when every check passes, 1 otherwise.
// The run refuses to start if a non-loopback interface has an address (libwebrtc
// gathers candidates on every interface); set VERIFY_ALLOW_HOST_NETWORK=1 to
// override that at your own risk.

import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

const depsDir = path.resolve(process.env.VERIFY_DEPS_DIR || process.cwd());
const require = createRequire(path.join(depsDir, 'noop.js'));
const workerBin = process.env.MEDIASOUP_WORKER_BIN || process.argv[2] || undefined;

const results = [];
function check(name, ok, detail = '') {
  results.push({ name, ok: Boolean(ok) });
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${detail ? `: ${detail}` : ''}`);
}
function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
function waitFor(what, fn, timeoutMs) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const timer = setInterval(async () => {
      try {
        if (await fn()) {
          clearInterval(timer);
          resolve(Date.now() - started);
        } else if (Date.now() - started > timeoutMs) {
          clearInterval(timer);
          reject(new Error(`timeout waiting for ${what}`));
        }
      } catch (error) {
        clearInterval(timer);
        reject(error);
      }
    }, 50);
  });
}

// --- network guard ----------------------------------------------------------
const exposed = Object.entries(os.networkInterfaces())
  .flatMap(([name, addrs]) => (addrs || []).map((a) => ({ name, ...a })))
  .filter((a) => !a.internal);
if (exposed.length > 0 && process.env.VERIFY_ALLOW_HOST_NETWORK !== '1') {
  console.error(
    `refusing to run: non-loopback interfaces present (${exposed.map((a) => `${a.name} ${a.address}`).join(', ')}).\n` +
      `Run inside a private network namespace:\n` +
      `  unshare -n sh -c 'ip link set lo up; exec node ${process.argv[1]}'`,
  );
  process.exit(2);
}

const mediasoup = require('mediasoup');
const wrtc = require('@roamhq/wrtc');
const { RTCPeerConnection } = wrtc;
const { RTCVideoSource, RTCAudioSource } = wrtc.nonstandard;

console.log(`mediasoup ${mediasoup.version} (node ${process.version}), worker binary: ${workerBin || mediasoup.workerBin}`);

const mediaCodecs = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000 },
];

// --- SDP helpers (only what this test needs) --------------------------------
function parseOffer(sdp) {
  const lines = sdp.split(/\r?\n/).filter(Boolean);
  const sections = [];
  let current = null;
  for (const line of lines) {
    if (line.startsWith('m=')) {
      const [kind, , , ...pts] = line.slice(2).split(' ');
      current = { kind, pts: pts.map(Number), rtpmap: {}, fmtp: {}, rtcpFb: {}, extmap: [], ssrcs: [], cname: undefined };
      sections.push(current);
      continue;
    }
    if (!current) continue;
    let m;
    if ((m = line.match(/^a=mid:(.+)$/))) current.mid = m[1];
    else if ((m = line.match(/^a=rtpmap:(\d+) ([^/]+)\/(\d+)(?:\/(\d+))?/)))
      current.rtpmap[m[1]] = { name: m[2], clockRate: Number(m[3]), channels: m[4] ? Number(m[4]) : undefined };
    else if ((m = line.match(/^a=fmtp:(\d+) (.+)$/))) current.fmtp[m[1]] = m[2];
    else if ((m = line.match(/^a=rtcp-fb:(\d+) (.+)$/))) (current.rtcpFb[m[1]] ||= []).push(m[2]);
    else if ((m = line.match(/^a=extmap:(\d+)(?:\/\w+)? (\S+)/))) current.extmap.push({ id: Number(m[1]), uri: m[2] });
    else if ((m = line.match(/^a=ssrc:(\d+) cname:(.+)$/))) {
      const ssrc = Number(m[1]);
      if (!current.ssrcs.includes(ssrc)) current.ssrcs.push(ssrc);
      current.cname = m[2];
    } else if ((m = line.match(/^a=ssrc-group:FID (\d+) (\d+)/))) current.rtxSsrc = Number(m[2]);
  }
  return sections;
}

function fmtpToParameters(fmtp) {
  const parameters = {};
  for (const kv of (fmtp || '').split(';')) {
    const [k, v] = kv.split('=');
    if (!k || v === undefined) continue;
    parameters[k.trim()] = /^\d+$/.test(v) ? Number(v) : v;
  }
  return parameters;
}

// Picks the codec (by name) and the SSRC of one offer section and builds both
// the mediasoup producer rtpParameters and the answer's m-section.
const KEEP_EXTENSIONS = ['urn:ietf:params:rtp-hdrext:sdes:mid', 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time'];
function translateSection(section, codecName, transport) {
  const pt = Object.keys(section.rtpmap).find((p) => section.rtpmap[p].name.toLowerCase() === codecName.toLowerCase());
  if (pt === undefined) throw new Error(`offer has no ${codecName}`);
  const rtpmap = section.rtpmap[pt];
  const ssrc = section.ssrcs.find((s) => s !== section.rtxSsrc);
  const feedback = (section.rtcpFb[pt] || []).filter((fb) => ['nack', 'nack pli', 'ccm fir', 'goog-remb'].includes(fb));
  const exts = section.extmap.filter((e) => KEEP_EXTENSIONS.includes(e.uri));
  const rtpParameters = {
    mid: section.mid,
    codecs: [
      {
        mimeType: `${section.kind}/${rtpmap.name}`,
        payloadType: Number(pt),
        clockRate: rtpmap.clockRate,
        ...(rtpmap.channels ? { channels: rtpmap.channels } : {}),
        parameters: fmtpToParameters(section.fmtp[pt]),
        rtcpFeedback: feedback.map((fb) => {
          const [type, parameter = ''] = fb.split(' ');
          return { type, parameter };
        }),
      },
    ],
    headerExtensions: exts.map((e) => ({ uri: e.uri, id: e.id })),
    encodings: [{ ssrc }],
    rtcp: { cname: section.cname, reducedSize: true },
  };
  const { iceParameters, iceCandidates } = transport;
  const lines = [
    `m=${section.kind} ${iceCandidates[0].port} UDP/TLS/RTP/SAVPF ${pt}`,
    'c=IN IP4 127.0.0.1',
    `a=mid:${section.mid}`,
    `a=ice-ufrag:${iceParameters.usernameFragment}`,
    `a=ice-pwd:${iceParameters.password}`,
    ...iceCandidates.map((c) => `a=candidate:${c.foundation} 1 ${c.protocol} ${c.priority} ${c.address ?? c.ip} ${c.port} typ ${c.type}`),
    'a=end-of-candidates',
    'a=setup:passive', // mediasoup is the DTLS server, the wrtc peer the client
    'a=recvonly',
    'a=rtcp-mux',
    'a=rtcp-rsize',
    `a=rtpmap:${pt} ${rtpmap.name}/${rtpmap.clockRate}${rtpmap.channels ? `/${rtpmap.channels}` : ''}`,
    ...(section.fmtp[pt] ? [`a=fmtp:${pt} ${section.fmtp[pt]}`] : []),
    ...feedback.map((fb) => `a=rtcp-fb:${pt} ${fb}`),
    ...exts.map((e) => `a=extmap:${e.id} ${e.uri}`),
  ];
  return { rtpParameters, lines };
}

function buildAnswer(sections, mediaLines, transport) {
  const fp = transport.dtlsParameters.fingerprints.find((f) => f.algorithm === 'sha-256');
  return [
    'v=0',
    'o=mediasoup 1 1 IN IP4 127.0.0.1',
    's=-',
    't=0 0',
    'a=ice-lite',
    `a=group:BUNDLE ${sections.map((s) => s.mid).join(' ')}`,
    'a=msid-semantic: WMS *',
    `a=fingerprint:sha-256 ${fp.value.toUpperCase()}`,
    ...mediaLines.flat(),
    '',
  ].join('\r\n');
}

// --- the test -----------------------------------------------------------------
const cleanups = [];
let exitCode = 1;
try {
  const worker1 = await mediasoup.createWorker({ logLevel: 'warn', workerBin });
  cleanups.push(() => worker1.close());
  worker1.on('died', (error) => console.error('worker1 died:', error));
  check('worker 1 started', worker1.pid > 0, `pid ${worker1.pid}`);
  const worker2 = await mediasoup.createWorker({ logLevel: 'warn', workerBin });
  cleanups.push(() => worker2.close());
  worker2.on('died', (error) => console.error('worker2 died:', error));
  check('worker 2 started', worker2.pid > 0, `pid ${worker2.pid}`);

  const router1 = await worker1.createRouter({ mediaCodecs });
  const router2 = await worker2.createRouter({ mediaCodecs });

  const transport = await router1.createWebRtcTransport({
    listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }],
  });
  let dtlsState = transport.dtlsState;
  transport.on('dtlsstatechange', (state) => {
    dtlsState = state;
    console.log(`  mediasoup transport dtlsState -> ${state}`);
  });
  transport.on('icestatechange', (state) => console.log(`  mediasoup transport iceState -> ${state}`));

  // The wrtc peer with synthetic media.
  const pc = new RTCPeerConnection({ iceServers: [] });
  cleanups.push(() => pc.close());
  const videoSource = new RTCVideoSource();
  const audioSource = new RTCAudioSource();
  const videoTrack = videoSource.createTrack();
  const audioTrack = audioSource.createTrack();
  cleanups.push(() => {
    videoTrack.stop();
    audioTrack.stop();
  });
  pc.addTransceiver(audioTrack, { direction: 'sendonly' });
  pc.addTransceiver(videoTrack, { direction: 'sendonly' });

  const width = 320;
  const height = 240;
  const frame = new Uint8ClampedArray(width * height * 1.5);
  let frameNo = 0;
  const videoTimer = setInterval(() => {
    // A moving gradient so the encoder has something to encode.
    frameNo++;
    for (let i = 0; i < width * height; i++) frame[i] = (i + frameNo * 4) & 0xff;
    frame.fill(128, width * height);
    videoSource.onFrame({ width, height, data: frame });
  }, 1000 / 15);
  const samples = new Int16Array(480);
  let t = 0;
  const audioTimer = setInterval(() => {
    for (let i = 0; i < samples.length; i++, t++) samples[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * t) / 48000));
    audioSource.onData({ samples, sampleRate: 48000, bitsPerSample: 16, channelCount: 1, numberOfFrames: 480 });
  }, 10);
  cleanups.push(() => {
    clearInterval(videoTimer);
    clearInterval(audioTimer);
  });

  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  const sections = parseOffer(pc.localDescription.sdp);
  const audio = translateSection(
    sections.find((s) => s.kind === 'audio'),
    'opus',
    transport,
  );
  const video = translateSection(
    sections.find((s) => s.kind === 'video'),
    'VP8',
    transport,
  );

  // The wrtc peer's DTLS parameters: it will be the DTLS client.
  const remoteFp = pc.localDescription.sdp.match(/a=fingerprint:(\S+) (\S+)/);
  await transport.connect({
    dtlsParameters: { role: 'client', fingerprints: [{ algorithm: remoteFp[1], value: remoteFp[2] }] },
  });
  const audioProducer = await transport.produce({ kind: 'audio', rtpParameters: audio.rtpParameters });
  const videoProducer = await transport.produce({ kind: 'video', rtpParameters: video.rtpParameters });

  const answer = buildAnswer(
    sections.filter((s) => s.kind === 'audio' || s.kind === 'video'),
    [audio.lines, video.lines],
    transport,
  );
  await pc.setRemoteDescription({ type: 'answer', sdp: answer });

  const tIce = await waitFor('ICE connected', () => ['connected', 'completed'].includes(pc.iceConnectionState), 10000);
  check('ICE connected (wrtc peer)', true, `${tIce} ms`);
  const tDtls = await waitFor("DTLS 'connected'", () => dtlsState === 'connected', 10000);
  check("mediasoup transport dtlsState 'connected'", dtlsState === 'connected', `${tDtls} ms after ICE`);

  // pipeToRouter to the router on the second worker (SRTP, AEAD_AES_256_GCM).
  const { pipeProducer } = await router1.pipeToRouter({
    producerId: videoProducer.id,
    router: router2,
    enableSrtp: true,
  });
  const { pipeProducer: pipeAudioProducer } = await router1.pipeToRouter({
    producerId: audioProducer.id,
    router: router2,
    enableSrtp: true,
  });

  // Let media flow.
  await sleep(4000);

  const sum = (stats, field) => stats.filter((s) => s.type === 'inbound-rtp').reduce((a, s) => a + (s[field] || 0), 0);
  const vStats = await videoProducer.getStats();
  const aStats = await audioProducer.getStats();
  const vPackets = sum(vStats, 'packetCount');
  const aPackets = sum(aStats, 'packetCount');
  check('video producer (VP8) received packets', vPackets > 0, `${vPackets} packets, ${sum(vStats, 'byteCount')} bytes`);
  check('audio producer (opus) received packets', aPackets > 0, `${aPackets} packets, ${sum(aStats, 'byteCount')} bytes`);

  const tStats = (await transport.getStats())[0];
  check(
    'WebRtcTransport counters',
    tStats.rtpBytesReceived > 0,
    `rtpBytesReceived ${tStats.rtpBytesReceived}, recvBitrate ${tStats.recvBitrate}, tuple ${tStats.iceSelectedTuple?.remoteIp}:${tStats.iceSelectedTuple?.remotePort} -> ${tStats.iceSelectedTuple?.localAddress ?? tStats.iceSelectedTuple?.localIp}:${tStats.iceSelectedTuple?.localPort}`,
  );

  const pvStats = await pipeProducer.getStats();
  const paStats = await pipeAudioProducer.getStats();
  const pvPackets = sum(pvStats, 'packetCount');
  const paPackets = sum(paStats, 'packetCount');
  check('pipeToRouter (worker1 -> worker2, SRTP) video packets', pvPackets > 0, `${pvPackets} packets on the pipe producer`);
  check('pipeToRouter (worker1 -> worker2, SRTP) audio packets', paPackets > 0, `${paPackets} packets on the pipe producer`);

  // What the peer negotiated (SRTP suite comes from libwebrtc's side).
  const peerStats = await pc.getStats();
  for (const report of peerStats.values()) {
    if (report.type === 'transport') {
      console.log(
        `  peer transport: dtlsState=${report.dtlsState} srtpCipher=${report.srtpCipher} dtlsCipher=${report.dtlsCipher} tlsVersion=${report.tlsVersion}`,
      );
    }
    if (report.type === 'outbound-rtp') {
      console.log(`  peer outbound-rtp ${report.kind}: packetsSent=${report.packetsSent} bytesSent=${report.bytesSent}`);
    }
  }

  const [usage1, usage2] = await Promise.all([worker1.getResourceUsage(), worker2.getResourceUsage()]);
  console.log(`  worker CPU (user+sys ms): worker1 ${usage1.ru_utime + usage1.ru_stime}, worker2 ${usage2.ru_utime + usage2.ru_stime}`);
  check('workers still alive', !worker1.died && !worker2.died);

  exitCode = results.every((r) => r.ok) ? 0 : 1;
} catch (error) {
  check('no exception', false, error?.stack || String(error));
  exitCode = 1;
} finally {
  for (const fn of cleanups.reverse()) {
    try {
      fn();
    } catch {
      // ignore
    }
  }
}
const passed = results.filter((r) => r.ok).length;
console.log(`${passed} passed, ${results.length - passed} failed`);
// wrtc keeps native threads alive: exit explicitly.
setTimeout(() => process.exit(exitCode), 100);
