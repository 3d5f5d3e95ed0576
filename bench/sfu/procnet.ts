// Kernel-side counters the SFU bench reads from /proc (Linux). Inside the
// bench's private network namespace, /proc/net/* shows only its own sockets.

import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat and /proc/stat (getconf CLK_TCK; 100 on Linux x86-64). */
const HZ = 100;

/** Per socket inode: local port, receive-buffer drops (last column) and bytes queued unread, from /proc/net/udp and udp6. */
export function udpDropsByInode(): Map<number, { port: number; drops: number; rxQueue: number }> {
  const out = new Map<number, { port: number; drops: number; rxQueue: number }>();
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 13) continue;
      const port = parseInt(f[1].split(':')[1], 16);
      out.set(Number(f[9]), { port, drops: Number(f[12]), rxQueue: parseInt(f[4].split(':')[1], 16) });
    }
  }
  return out;
}

/** Socket inodes a process holds open. */
export function socketInodes(pid: number): number[] {
  const inodes: number[] = [];
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return inodes;
  }
  for (const fd of fds) {
    try {
      const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (link.startsWith('socket:[')) inodes.push(Number(link.slice(8, -1)));
    } catch {
      // closed meanwhile
    }
  }
  return inodes;
}

/** UDP sockets and their summed receive-buffer drops, per process. */
export function udpDropsOf(pids: number[]): Map<number, { sockets: number; drops: number }> {
  const byInode = udpDropsByInode();
  const out = new Map<number, { sockets: number; drops: number }>();
  for (const pid of pids) {
    let sockets = 0;
    let drops = 0;
    for (const inode of socketInodes(pid)) {
      const s = byInode.get(inode);
      if (!s) continue;
      sockets++;
      drops += s.drops;
    }
    out.set(pid, { sockets, drops });
  }
  return out;
}

/** The namespace's UDP counters (/proc/net/snmp "Udp:"). */
export function snmpUdp(): Record<string, number> {
  const lines = readFileSync('/proc/net/snmp', 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('Udp:'));
  const out: Record<string, number> = {};
  if (lines.length < 2) return out;
  const names = lines[0].split(/\s+/).slice(1);
  const values = lines[1].split(/\s+/).slice(1);
  names.forEach((n, i) => (out[n] = Number(values[i])));
  return out;
}

/** Whole-machine CPU time (all cores), in ms: busy and total. */
export function machineCpu(): { busyMs: number; totalMs: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice (guest time is inside user)
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busyMs: ((total - idle) * 1000) / HZ, totalMs: (total * 1000) / HZ };
}

/** CPU time (user + system, ms) of a process, from /proc/<pid>/stat; null if gone. */
export function processCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields after "(comm)": state=0 ... utime=11 stime=12
    return ((Number(f[11]) + Number(f[12])) * 1000) / HZ;
  } catch {
    return null;
  }
}
