// One ffmpeg child, spawned through fluent-ffmpeg, reading an SDP file over
// RTP. The caller shapes the output (copy into Matroska, transcode to HLS...).
// We keep the tail of stderr, tell an asked-for stop from a crash, and can
// wait until ffmpeg has bound its UDP ports (only then is it worth sending
// keyframes).

import { EventEmitter } from 'node:events';
import { accessSync, constants, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import ffmpeg, { type FfmpegCommand } from 'fluent-ffmpeg';

export interface FfmpegExit {
  /** Exit code (null when killed by a signal). */
  code: number | null;
  signal: string | null;
  /** True when we asked it to stop (graceful SIGINT or our own kill). */
  requested: boolean;
  /** Last lines of stderr, for logs and failure reasons. */
  stderrTail: string[];
  /** A one-line reason when it was not a requested stop. */
  reason: string | null;
}

export interface FfmpegProcessEvents {
  /** ffmpeg started (pid known). */
  spawn: [number];
  /** A line of stderr (progress lines included). */
  stderr: [string];
  exit: [FfmpegExit];
}

export interface FfmpegProcessOptions {
  /** Path of the SDP file describing the RTP input. */
  sdpPath: string;
  ffmpegPath?: string;
  /** Adds outputs and their options to the command (the input is set up already). */
  output: (command: FfmpegCommand) => void;
  /** Extra input options, after the RTP ones. */
  inputOptions?: string[];
  stderrLines?: number;
}

const TAIL = 40;

/** What went wrong, from the last lines ffmpeg wrote: the line naming the error. */
function reasonFrom(tail: readonly string[], code: number | null, signal: string | null): string {
  const telling = [...tail]
    .reverse()
    .find((l) => /error|failed|invalid|no space|denied|could not|cannot|unable|not found/i.test(l) && !/^\s*(frame|size)=/.test(l));
  const how = signal ? `killed by ${signal}` : `exited with code ${code}`;
  return telling ? `ffmpeg ${how}: ${telling.trim()}` : `ffmpeg ${how}`;
}

export class FfmpegProcess extends EventEmitter<FfmpegProcessEvents> {
  private readonly command: FfmpegCommand;
  private readonly tail: string[] = [];
  private stopRequested = false;
  private exitInfo: FfmpegExit | null = null;
  private readonly exited: Promise<FfmpegExit>;
  pid: number | null = null;

  constructor(private readonly opts: FfmpegProcessOptions) {
    super();
    // fluent-ffmpeg's own ring of output lines stays small: a recording runs for hours.
    const command = ffmpeg(opts.sdpPath, { stdoutLines: opts.stderrLines ?? TAIL });
    command.inputFormat('sdp').inputOptions([
      '-protocol_whitelist',
      'file,udp,rtp',
      // Depacketizer: rebuild timestamps where a stream has none yet; wait a little for reordered packets.
      '-fflags',
      '+genpts',
      '-reorder_queue_size',
      '512',
      // Time to see a keyframe on every video track before writing starts.
      '-analyzeduration',
      '5000000',
      '-probesize',
      '10000000',
      ...(opts.inputOptions ?? []),
    ]);
    opts.output(command);
    this.command = command;
    this.exited = new Promise((resolve) => {
      const finish = (code: number | null, signal: string | null) => {
        if (this.exitInfo) return;
        const requested = this.stopRequested;
        const clean = code === 0 || (requested && (code === 255 || signal === 'SIGINT' || signal === 'SIGKILL'));
        this.exitInfo = { code, signal, requested, stderrTail: [...this.tail], reason: clean ? null : reasonFrom(this.tail, code, signal) };
        this.emit('exit', this.exitInfo);
        resolve(this.exitInfo);
      };
      command.on('start', () => {
        const proc = (
          command as unknown as {
            ffmpegProc?: { pid?: number; once(e: 'exit', cb: (code: number | null, signal: string | null) => void): void };
          }
        ).ffmpegProc;
        this.pid = proc?.pid ?? null;
        // The child's own exit is the truth; fluent-ffmpeg's error/end only paraphrase it.
        proc?.once('exit', (code, signal) => setImmediate(() => finish(code, signal)));
        if (this.stopRequested)
          command.kill('SIGKILL'); // stopped before it started
        else if (this.pid) this.emit('spawn', this.pid);
      });
      command.on('stderr', (line: string) => {
        this.tail.push(line);
        if (this.tail.length > (opts.stderrLines ?? TAIL)) this.tail.shift();
        this.emit('stderr', line);
      });
      // Spawn failures (binary missing) come only through 'error'.
      command.on('error', (err: Error) => {
        if (this.pid === null) {
          this.tail.push(err.message);
          finish(null, null);
        }
      });
      command.on('end', () => {});
    });
  }

  /**
   * Starts ffmpeg. A missing binary throws here: fluent-ffmpeg 2.1.3 crashes
   * the process on a failed spawn (its error path reads an undefined ring).
   */
  run(): this {
    // fluent-ffmpeg keeps one ffmpeg path per process (a module-level cache): set it every time.
    this.command.setFfmpegPath(resolveBinary(this.opts.ffmpegPath ?? process.env['FFMPEG_PATH'] ?? 'ffmpeg'));
    this.command.run();
    return this;
  }

  get exit(): FfmpegExit | null {
    return this.exitInfo;
  }

  get stderrTail(): string[] {
    return [...this.tail];
  }

  waitExit(): Promise<FfmpegExit> {
    return this.exited;
  }

  /**
   * Waits until ffmpeg holds a UDP socket on each port (read from /proc: this
   * process's sockets by inode), or it exits, or the time is up. Returns
   * whether it listens.
   */
  async waitListening(ports: readonly number[], timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.exitInfo && Date.now() < deadline) {
      if (this.pid !== null && listensOn(this.pid, ports)) return true;
      await new Promise((r) => setTimeout(r, 20));
    }
    return false;
  }

  /**
   * Graceful stop: SIGINT makes ffmpeg flush and finalize the file (cues,
   * duration); after `graceMs` it is killed. ffmpeg acts on SIGINT between
   * packets only: when its RTP input is silent it ends when its demuxer gives
   * up on the silence, 10 s after the last packet (a constant of ffmpeg's
   * RTP/SDP reader; a second signal would abort the trailer too). Hence the
   * grace of 15 s; RtpPipeline.stop ends the input with RTCP BYE first.
   */
  async stop(graceMs = 15_000): Promise<FfmpegExit> {
    if (this.exitInfo) return this.exitInfo;
    this.stopRequested = true;
    if (this.pid !== null) this.command.kill('SIGINT');
    const timer = setTimeout(() => {
      if (this.pid !== null) this.command.kill('SIGKILL');
    }, graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  /** The caller is about to end the input itself (RTCP BYE): the exit that follows counts as requested. */
  expectExit(): void {
    this.stopRequested = true;
  }

  /** Immediate kill (shutdown paths); counts as requested. */
  kill(): void {
    if (this.exitInfo) return;
    this.stopRequested = true;
    if (this.pid !== null) this.command.kill('SIGKILL');
  }

  get sdpPath(): string {
    return this.opts.sdpPath;
  }
}

/** Whether process `pid` has UDP sockets bound on all these ports (Linux /proc). */
export function listensOn(pid: number, ports: readonly number[]): boolean {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirFds(pid)) {
      const m = /^socket:\[(\d+)\]$/.exec(fd);
      if (m) inodes.add(m[1]);
    }
  } catch {
    return false;
  }
  const bound = new Set<number>();
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || !inodes.has(f[9])) continue;
      bound.add(parseInt(f[1].split(':')[1], 16));
    }
  }
  return ports.every((p) => bound.has(p));
}

function readdirFds(pid: number): string[] {
  const out: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      out.push(readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/** The executable `name` resolves to (a path, or a name looked up in PATH); throws when there is none. */
export function resolveBinary(name: string): string {
  const candidates = name.includes('/')
    ? [name]
    : (process.env['PATH'] ?? '')
        .split(':')
        .filter(Boolean)
        .map((d) => path.join(d, name));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // next
    }
  }
  throw new Error(`ffmpeg binary not found or not executable: ${name} (set FFMPEG_PATH)`);
}
