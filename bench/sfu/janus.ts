// The --baseline janus anchor: Debian's Janus (1.1.2, scripts/setup.sh
// installs it) started by the bench with a generated minimal config in a temp
// dir: the VideoRoom plugin only, the plain HTTP transport (and the admin
// API, for ingress counters) on 127.0.0.1, no NAT helpers, ICE on a veth pair
// inside the bench's private namespace. The publisher (publisher.ts, janus mode) is
// the same synthetic libwebrtc sender over WebRTC (ICE + DTLS-SRTP); the
// receivers are VideoRoom RTP forwarders with SRTP into the bench's sink
// sockets, since the cheap subscribers of the other two sides are plain
// transports too. That is not Janus's WebRTC subscriber path: a forwarder
// only rewrites SSRC/PT, encrypts and sends (no per-receiver RTCP, NACK
// buffer or congestion control), so it is the cheapest path Janus has, not
// the same work as a mediasoup consumer. See bench/README.md, "Anchors".

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import type { Consumer, PlainTransport } from 'mediasoup/types';
import type { PlainSubscriberOptions } from '../../sfu/plainSubscribers.js';
import { freePort } from '../../test/support/net.js';
import { isolated } from '../shared/netns.js';
import { sleep } from './common.js';
import { processCpuMs } from './procnet.js';
import type { PublisherCounters, PublisherStats, UpRequest } from './publisher.js';
import { Publisher } from './publisherClient.js';

const JANUS_BIN = process.env['JANUS_BIN'] ?? '/usr/bin/janus';
const JANUS_LIB = process.env['JANUS_LIB'] ?? '/usr/lib/x86_64-linux-gnu/janus';

type Json = Record<string, unknown>;

/** The interface Janus gathers ICE candidates on (see iceInterface). */
const ICE_IF = 'sbjanus0';

/**
 * Janus gathers no ICE candidates on a loopback interface (it skips
 * IFF_LOOPBACK ones), and the bench's private namespace has only `lo`: give
 * it a veth pair there, both ends inside the namespace (10.213.0.1/32 on one
 * end; traffic to a local address still goes through the local table, so
 * nothing can leave). Refused outside a loopback-only namespace.
 */
function iceInterface(): void {
  if (networkInterfaces()[ICE_IF]) return;
  if (!isolated()) throw new Error("--baseline janus adds a veth pair for Janus ICE only inside the bench's own network namespace");
  execFileSync('sh', [
    '-c',
    `ip link add ${ICE_IF} type veth peer name sbjanus1 && ip addr add 10.213.0.1/32 dev ${ICE_IF} && ip link set ${ICE_IF} up && ip link set sbjanus1 up`,
  ]);
}

/** The .so files of a Janus module folder, but `keep`. */
function others(folder: string, keep: string): string {
  try {
    return readdirSync(path.join(JANUS_LIB, folder))
      .filter((f) => f.endsWith('.so') && !f.includes(keep))
      .join(',');
  } catch {
    return '';
  }
}

export class JanusServer {
  /** The last few KiB of Janus's own output (stdout + stderr), for error messages. */
  tail = '';

  private constructor(
    readonly child: ChildProcess,
    readonly dir: string,
    readonly url: string,
  ) {}

  get pid(): number {
    return this.child.pid!;
  }

  /** The admin API (handle_info: what Janus received from the publisher). */
  adminUrl = '';
  adminSecret = '';

  static async start(opts: { log: (msg: string) => void }): Promise<JanusServer> {
    if (!existsSync(JANUS_BIN)) throw new Error(`${JANUS_BIN} missing: apt-get install -y janus (scripts/setup.sh does), or set JANUS_BIN`);
    iceInterface();
    const dir = mkdtempSync(path.join(tmpdir(), 'sfu-bench-janus-'));
    const port = await freePort();
    const adminPort = await freePort();
    const adminSecret = randomBytes(12).toString('hex');
    writeFileSync(
      path.join(dir, 'janus.jcfg'),
      `general: {
  configs_folder = "${dir}"
  plugins_folder = "${JANUS_LIB}/plugins"
  transports_folder = "${JANUS_LIB}/transports"
  events_folder = "${JANUS_LIB}/events"
  loggers_folder = "${JANUS_LIB}/loggers"
  debug_level = 3
  log_to_stdout = true
  session_timeout = 0
  admin_secret = "${adminSecret}"
  protected_folders = []
}
certificates: {
}
media: {
  rtp_port_range = "20000-60000"
}
nat: {
  nice_debug = false
  ice_enforce_list = "${ICE_IF}"
  ignore_mdns = true
}
plugins: {
  disable = "${others('plugins', 'videoroom')}"
}
transports: {
  disable = "${others('transports', 'libjanus_http')}"
}
loggers: {
  disable = "${others('loggers', '-none-')}"
}
events: {
  broadcast = false
  disable = "${others('events', '-none-')}"
}
`,
    );
    writeFileSync(path.join(dir, 'janus.plugin.videoroom.jcfg'), 'general: {\n}\n');
    writeFileSync(
      path.join(dir, 'janus.transport.http.jcfg'),
      `general: {
  json = "plain"
  base_path = "/janus"
  http = true
  port = ${port}
  ip = "127.0.0.1"
  https = false
}
admin: {
  admin_base_path = "/admin"
  admin_http = true
  admin_port = ${adminPort}
  admin_ip = "127.0.0.1"
}
`,
    );
    const child = spawn(JANUS_BIN, ['-C', path.join(dir, 'janus.jcfg'), '-F', dir, '-o'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const server = new JanusServer(child, dir, `http://127.0.0.1:${port}/janus`);
    server.adminUrl = `http://127.0.0.1:${adminPort}/admin`;
    server.adminSecret = adminSecret;
    const keep = (b: Buffer) => {
      server.tail = (server.tail + b.toString()).slice(-8000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`janus exited (${child.exitCode}): ${server.tail}`);
      try {
        const r = await fetch(`${server.url}/info`);
        if (r.ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        child.kill();
        throw new Error(`janus did not answer on ${server.url} within 15 s: ${server.tail}`);
      }
      await sleep(200);
    }
    opts.log(`janus baseline: pid ${child.pid}, ${server.url}, config in ${dir}`);
    return server;
  }

  /** CPU time of the Janus process (all its threads), from /proc/<pid>/stat. */
  usage(): Array<{ index: number; pid: number; cpu_ms: number; rss_kb: number }> {
    return [{ index: 0, pid: this.pid, cpu_ms: processCpuMs(this.pid) ?? 0, rss_kb: 0 }];
  }

  /** Admin API handle_info of one handle (what its PeerConnection received and sent). */
  async handleInfo(session: number, handle: number): Promise<Json> {
    const r = await post(`${this.adminUrl}/${session}/${handle}`, { janus: 'handle_info', admin_secret: this.adminSecret });
    return (r['info'] as Json | undefined) ?? {};
  }

  async session(): Promise<JanusSession> {
    const r = await post(this.url, { janus: 'create' });
    return new JanusSession(this.url, Number((r['data'] as Json)['id']));
  }

  stop(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function post(url: string, body: Json): Promise<Json> {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, transaction: randomBytes(6).toString('hex') }),
  });
  const json = (await r.json()) as Json;
  if (json['janus'] === 'error') throw new Error(`janus: ${JSON.stringify(json['error'])}`);
  return json;
}

/** A Janus session with one VideoRoom handle; asynchronous replies come from the long poll. */
export class JanusSession {
  handle = 0;
  private closed = false;
  private readonly waiting = new Map<string, (event: Json) => void>();

  constructor(
    private readonly url: string,
    readonly id: number,
  ) {
    void this.poll();
  }

  private async poll(): Promise<void> {
    while (!this.closed) {
      try {
        const r = await fetch(`${this.url}/${this.id}?maxev=10`);
        const events = (await r.json()) as Json | Json[];
        for (const e of Array.isArray(events) ? events : [events]) {
          const t = e['transaction'];
          if (typeof t === 'string' && this.waiting.has(t) && e['janus'] !== 'ack') {
            this.waiting.get(t)!(e);
            this.waiting.delete(t);
          }
        }
      } catch {
        if (!this.closed) await sleep(100);
      }
    }
  }

  async attach(): Promise<void> {
    const r = await post(`${this.url}/${this.id}`, { janus: 'attach', plugin: 'janus.plugin.videoroom' });
    this.handle = Number((r['data'] as Json)['id']);
  }

  /** A synchronous plugin request (create, rtp_forward...): the plugin's data. */
  async request(body: Json): Promise<Json> {
    const r = await post(`${this.url}/${this.id}/${this.handle}`, { janus: 'message', body });
    const data = ((r['plugindata'] as Json | undefined)?.['data'] ?? {}) as Json;
    if (data['error']) throw new Error(`janus videoroom: ${String(data['error'])}`);
    return data;
  }

  /** An asynchronous plugin request with a JSEP (joinandconfigure): the event that answers it. */
  async message(body: Json, jsep: Json): Promise<Json> {
    const transaction = randomBytes(6).toString('hex');
    const answered = new Promise<Json>((resolve) => this.waiting.set(transaction, resolve));
    const r = await fetch(`${this.url}/${this.id}/${this.handle}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ janus: 'message', body, jsep, transaction }),
    });
    const ack = (await r.json()) as Json;
    if (ack['janus'] === 'error') throw new Error(`janus: ${JSON.stringify(ack['error'])}`);
    const event = await Promise.race([answered, sleep(15_000).then(() => null)]);
    if (!event) throw new Error(`janus: no answer to ${String(body['request'])} within 15 s`);
    const data = ((event['plugindata'] as Json | undefined)?.['data'] ?? {}) as Json;
    if (data['error']) throw new Error(`janus videoroom: ${String(data['error'])}`);
    return event;
  }

  close(): void {
    this.closed = true;
    void post(`${this.url}/${this.id}`, { janus: 'destroy' }).catch(() => {});
  }
}

/** One VideoRoom, its publisher and its RTP forwarders (a PlainTarget for subscribers.ts's addCheap). */
export class JanusRoom {
  readonly routerCount = 1;
  /** Forwarded streams (one per producer per receiver), for addCheap's placement bookkeeping. */
  consumerCount = 0;
  /** kind -> mid of the publisher's stream (what addCheap calls producer ids). */
  producers: Record<string, string> = {};
  pub: Publisher | null = null;
  private publisherId = 0;
  private readonly forwarders: number[] = [];
  private paused = false;

  private constructor(
    readonly janus: JanusServer,
    readonly session: JanusSession,
    readonly room: number,
  ) {}

  static async open(
    janus: JanusServer,
    opts: { video: boolean; width: number; height: number; fps: number; kbps: number; bwe: boolean; tcc: boolean },
  ): Promise<JanusRoom> {
    const session = await janus.session();
    await session.attach();
    const room = randomInt(1, 2 ** 31);
    await session.request({
      request: 'create',
      room,
      publishers: 1,
      audiocodec: 'opus',
      videocodec: 'vp8',
      bitrate: 0,
      fir_freq: 0,
      notify_joining: false,
      audiolevel_ext: false,
      audiolevel_event: false,
      transport_wide_cc_ext: opts.tcc,
    });
    const r = new JanusRoom(janus, session, room);
    await r.publish(opts);
    return r;
  }

  private async publish(opts: { video: boolean; width: number; height: number; fps: number; kbps: number; bwe: boolean }): Promise<void> {
    const pub = Publisher.start();
    this.pub = pub;
    pub.onUp = (req: UpRequest) => this.answer(req);
    await pub.begin({ url: '', token: '', room: '', ...opts, janus: true });
    this.producers = pub.producers;
  }

  private async answer(req: UpRequest): Promise<{ producerId?: string; sdp?: string }> {
    if (req.op !== 'janus-offer') throw new Error(`janus: unexpected ${req.op}`);
    const event = await this.session.message(
      { request: 'joinandconfigure', room: this.room, ptype: 'publisher', display: 'bench', audio: true, video: true },
      { type: 'offer', sdp: req.sdp },
    );
    const data = (event['plugindata'] as Json)['data'] as Json;
    this.publisherId = Number(data['id']);
    return { sdp: String((event['jsep'] as Json)['sdp']) };
  }

  /** Janus has no producer pause for forwarders: the idle side stops and restarts its forwarders' stream by pausing the publisher's sending. */
  async setPaused(paused: boolean): Promise<void> {
    if (this.paused === paused) return;
    this.paused = paused;
    await this.pub?.setSending(!paused);
  }

  /** One RTP forwarder per receiver: every stream of the publisher, SRTP, to ip:port (its own SSRCs). */
  async createPlainSubscriber(mids: string[], opts: PlainSubscriberOptions): Promise<{ transport: PlainTransport; consumers: Consumer[] }> {
    const ssrcs = mids.map(() => randomInt(1, 2 ** 31));
    const data = await this.session.request({
      request: 'rtp_forward',
      room: this.room,
      publisher_id: this.publisherId,
      host: opts.ip,
      host_family: 'ipv4',
      ...(opts.srtp ? { srtp_suite: 80, srtp_crypto: opts.srtp.keyBase64 } : {}),
      streams: mids.map((mid, i) => ({ mid, port: opts.port, ssrc: ssrcs[i] })),
    });
    const streams = ((data['forwarders'] as Json[] | undefined) ?? []).flatMap((f) => (f['streams'] as Json[] | undefined) ?? [f]);
    for (const s of streams) if (typeof s['stream_id'] === 'number') this.forwarders.push(s['stream_id']);
    this.consumerCount += mids.length;
    // addCheap reads the SSRC from rtpParameters and closes "transports" at teardown.
    const transport = { close: () => {} } as unknown as PlainTransport;
    const consumers = ssrcs.map(
      (ssrc) => ({ rtpParameters: { encodings: [{ ssrc }] }, getStats: () => Promise.resolve([]) }) as unknown as Consumer,
    );
    return { transport, consumers };
  }

  /** Per kind: what Janus received from the publisher (admin API handle_info of the publisher's handle) and what the publisher sent. */
  async counters(): Promise<PublisherCounters> {
    const [info, sent] = await Promise.all([
      this.janus.handleInfo(this.session.id, this.session.handle).catch((): Json => ({})),
      this.pub ? this.pub.stats().catch(() => [] as PublisherStats[]) : Promise.resolve([] as PublisherStats[]),
    ]);
    const media = ((info['webrtc'] as Json | undefined)?.['media'] ?? {}) as Record<string, Json>;
    const out: PublisherCounters = {};
    for (const [kind, mid] of Object.entries(this.producers)) {
      const m = Object.values(media).find((x) => x['mid'] === mid);
      const inStats = ((m?.['stats'] as Json | undefined)?.['in'] ?? {}) as Json;
      const rtcp = ((m?.['rtcp'] as Json | undefined)?.['main'] ?? {}) as Json;
      out[kind] = {
        packets: Number(inStats['packets'] ?? 0),
        bytes: Number(inStats['bytes'] ?? 0),
        lost: Number(rtcp['lost'] ?? 0),
        sent: sent.filter((x) => x.kind === kind).reduce((n, x) => n + x.packetsSent, 0),
      };
    }
    return out;
  }

  async close(): Promise<void> {
    await this.pub?.close();
    this.pub = null;
    await this.session.request({ request: 'destroy', room: this.room }).catch(() => {});
    this.session.close();
  }
}
