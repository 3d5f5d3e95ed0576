// Entry point: `npm start`. Config from the environment (README), then one node.

import { startApp } from './app.js';
import { ConfigError, loadConfig } from './kernel/config.js';
import { createLogger } from './kernel/logger.js';
import { installProcessGuards } from './kernel/lastResort.js';
import { runPrimary } from './edges/cluster/processFront.js';
import { serveForPrimary } from './edges/cluster/processWorker.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`switchboard: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  // Multiproc: with NODE_PROCESSES > 1 this process is the node's primary; its workers run the code below.
  const worker = config.processes.index !== null;
  if (config.processes.count > 1 && !worker) return runPrimary(config, log);
  // Last resort (docs/reliability.md): until the node is up an uncaught exception just exits 1.
  let fatal: () => void = () => process.exit(1);
  installProcessGuards(log, () => fatal());
  const app = await startApp(config, log);
  if (worker) serveForPrimary(app.server, app.url, log);

  let stopping = false;
  let exitCode = 0;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    // Cluster: SIGTERM drains first (rooms finish or move within DRAIN_TIMEOUT_SECONDS).
    const cluster = signal === 'SIGTERM' ? app.cluster : null;
    const force = setTimeout(() => process.exit(1), 15_000 + (cluster ? config.cluster.drainTimeoutSeconds * 1000 : 0));
    force.unref();
    const drained = cluster
      ? cluster.drain().then(
          () => undefined,
          (err) => log.error({ err }, 'drain failed'),
        )
      : Promise.resolve();
    drained
      .then(() => app.close())
      .then(
        () => process.exit(exitCode),
        (err) => {
          log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // An uncaught exception: clients are told (1001) and recordings finalized as on SIGINT (no cluster
  // drain: it may take minutes with state in doubt), then exit 1 for the supervisor to restart.
  fatal = () => {
    exitCode = 1;
    stop('uncaughtException');
  };
  // Multiproc: a worker whose primary is gone stops (the node's public port went with it).
  if (worker) process.on('disconnect', () => stop('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`switchboard: failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
