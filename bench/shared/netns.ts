// Loopback only: a bench that sends media (or restarts servers on fixed
// ports) runs inside a private network namespace with just `lo`, so nothing
// it does can reach or disturb another interface. Shared by the benches that
// re-execute themselves there.

import { spawn } from 'node:child_process';
import { networkInterfaces } from 'node:os';

/** True when every network interface is a loopback one. */
export function isolated(): boolean {
  return Object.values(networkInterfaces())
    .flat()
    .every((a) => a?.internal);
}

/**
 * Runs `script` with this process's arguments again inside `unshare -n` (as
 * root) and exits with its exit code; stop signals are passed on. `name`
 * prefixes the messages and names the env flag that stops a second attempt.
 */
export function reexecIsolated(name: string, script: string): void {
  const flag = `${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_NETNS`;
  if (process.env[flag] === '1') {
    process.stderr.write(`[${name}] still not isolated inside unshare -n: refusing to run\n`);
    process.exit(2);
  }
  const child = spawn(
    'unshare',
    ['-n', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"', process.execPath, ...process.execArgv, script, ...process.argv.slice(2)],
    {
      stdio: 'inherit',
      env: { ...process.env, [flag]: '1' },
    },
  );
  // unshare and sh exec into node, so the child's pid is the bench's: pass stop signals on.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
  child.on('error', (err) => {
    process.stderr.write(
      `[${name}] cannot enter a private network namespace (${err.message}); run as root, or under: unshare -rn sh -c 'ip link set lo up; exec node ...'\n`,
    );
    process.exit(2);
  });
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
}
