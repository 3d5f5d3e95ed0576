// Runs the real server entry point (dist/server/main.js) as a child process,
// for tests that kill or signal it.

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { API_KEY, API_SECRET } from './server.js';
import { testKeys } from './keys.js';

const MAIN = fileURLToPath(new URL('../../server/main.js', import.meta.url));

export interface SpawnOptions {
  /** The log message that says the server listens (a multi-process node's primary logs its own). */
  ready?: string;
  /**
   * Readiness by polling this URL (any HTTP answer) instead of waiting for the
   * listening message: for a node started with LOG_LEVEL=warn, which does not
   * log it. The env must then set PORT.
   */
  readyUrl?: string;
  /** Keep only the last this many characters of the output (a long-running node). */
  maxOutputChars?: number;
}

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
}

export async function spawnServer(env: Record<string, string>, opts: SpawnOptions = {}): Promise<ServerProcess> {
  const ready = new RegExp(`"url":"(http:\\/\\/[^"]+)".*"msg":"${opts.ready ?? 'switchboard listening'}"`);
  const keys = testKeys();
  const child = spawn(process.execPath, [MAIN], {
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      NODE_ID: 'test-node',
      JWT_PUBLIC_KEY_FILE: keys.publicKeyFile,
      JWT_PRIVATE_KEY_FILE: keys.privateKeyFile,
      API_KEY,
      API_SECRET,
      LOG_LEVEL: 'info',
      RTC_WORKERS: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const append = (d: Buffer) => {
    output += d;
    if (opts.maxOutputChars !== undefined && output.length > opts.maxOutputChars * 2) output = output.slice(-opts.maxOutputChars);
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL'); // a node that did not start must not outlive the test (cluster)
      reject(new Error(`server did not start:\n${output}`));
    }, 30_000);
    const check = () => {
      const match = ready.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    if (opts.readyUrl) {
      const readyUrl = opts.readyUrl;
      const poll = async () => {
        while (child.exitCode === null && child.signalCode === null) {
          const answered = await fetch(readyUrl, { signal: AbortSignal.timeout(2000) }).then(
            () => true,
            () => false,
          );
          if (answered) {
            clearTimeout(timer);
            resolve(new URL(readyUrl).origin);
            return;
          }
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      void poll();
    } else {
      child.stdout.on('data', check);
    }
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${output}`));
    });
  });
  return { child, url, output: () => output, exited };
}
