// A uvu suite for tests with real WebRTC peers (MediaBot) against one
// in-process server: the server starts once, and every test's bots are closed
// after it (errors from a bot already gone are ignored).

import { suite, type Test } from 'uvu';
import type { MediaBot } from '../../clients/node/mediaBot.js';
import { startServer, type TestServer } from './server.js';

export interface BotCtx {
  srv: TestServer;
  bots: MediaBot[];
}

/** A suite on a server with `sfuWorkers` mediasoup workers (default 1); tests push their bots to ctx.bots. */
export function mediaBotSuite(name: string, sfuWorkers = 1): Test<BotCtx> {
  const test = suite<BotCtx>(name, {} as BotCtx);
  test.before(async (ctx) => {
    ctx.srv = await startServer({ sfuWorkers });
  });
  test.after(async (ctx) => ctx.srv.stop());
  test.before.each((ctx) => {
    ctx.bots = [];
  });
  test.after.each(async (ctx) => {
    for (const b of ctx.bots) await b.close().catch(() => {});
  });
  return test;
}
