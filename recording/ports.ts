// UDP ports for ffmpeg's RTP inputs. ffmpeg binds the port of each SDP
// m-line and the one above it (for RTCP, even with a=rtcp-mux), so every
// track needs an even/odd pair that is free now. We probe by binding, release
// the probe and hand the pair to ffmpeg; ports handed out stay reserved in
// this process until released, so concurrent recorders never pick the same.
// Another process can still take a port in between: the pipeline notices
// ffmpeg's bind failure and retries with new ports.

import dgram from 'node:dgram';

const reserved = new Set<number>();

function bindOnce(ip: string, port: number): Promise<dgram.Socket | null> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket(ip.includes(':') ? 'udp6' : 'udp4');
    socket.once('error', () => {
      socket.close();
      resolve(null);
    });
    socket.bind({ address: ip, port, exclusive: true }, () => resolve(socket));
  });
}

async function closeAll(sockets: dgram.Socket[]): Promise<void> {
  await Promise.all(sockets.map((s) => new Promise<void>((r) => s.close(() => r()))));
}

/** One even RTP port (and its odd neighbour) free on `ip` and not reserved here. */
async function allocatePair(ip: string): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const probe = await bindOnce(ip, 0);
    if (!probe) break;
    const port = probe.address().port;
    await closeAll([probe]);
    const rtp = port % 2 === 0 ? port : port - 1;
    if (rtp < 1024 || reserved.has(rtp)) continue;
    const held = await Promise.all([bindOnce(ip, rtp), bindOnce(ip, rtp + 1)]);
    const free = held.every(Boolean);
    await closeAll(held.filter((s): s is dgram.Socket => s !== null));
    if (!free) continue;
    reserved.add(rtp);
    return rtp;
  }
  throw new Error(`no free UDP port pair on ${ip}`);
}

/** `count` RTP ports (each with port + 1 free too), reserved until `releaseRtpPorts`. */
export async function allocateRtpPorts(ip: string, count: number): Promise<number[]> {
  const ports: number[] = [];
  try {
    for (let i = 0; i < count; i++) ports.push(await allocatePair(ip));
  } catch (err) {
    releaseRtpPorts(ports);
    throw err;
  }
  return ports;
}

export function releaseRtpPorts(ports: readonly number[]): void {
  for (const p of ports) reserved.delete(p);
}
