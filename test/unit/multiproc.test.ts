// Several processes per node: the config rules, what each
// worker process gets, and how the primary reads a request head to route it.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SignJWT, generateKeyPair } from 'jose';
import { ConfigError, loadConfig } from '../../server/kernel/config.js';
import { localFirst } from '../../server/edges/cluster/nodeSelector.js';
import type { NodeInfo } from '../../server/edges/cluster/nodeRegistry.js';
import { planWorkers, splitRtcWorkers, workerExecArgv } from '../../server/edges/cluster/processPlan.js';
import {
  headEnd,
  homeProcess,
  isRequestLine,
  parseHead,
  routingRoom,
  unverifiedRoomClaim,
} from '../../server/edges/cluster/processRouting.js';

const CLUSTER = { REDIS_URL: 'redis://127.0.0.1:6379', DATABASE_URL: 'postgres://u@127.0.0.1/db' };

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    assert.instance(err, ConfigError);
    return (err as ConfigError).problems;
  }
}

test('NODE_PROCESSES defaults to 1 (one process, least-loaded) and > 1 needs Redis and PostgreSQL', () => {
  const one = loadConfig({});
  assert.is(one.processes.count, 1);
  assert.is(one.processes.index, null);
  assert.is(one.cluster.selector, 'least-loaded');
  const p = problems({ NODE_PROCESSES: '2' });
  assert.ok(
    p.some((x) => /NODE_PROCESSES > 1 needs Redis/.test(x)),
    p.join('; '),
  );
  assert.ok(
    p.some((x) => /NODE_PROCESSES > 1 needs a PostgreSQL/.test(x)),
    p.join('; '),
  );
  assert.ok(problems({ NODE_PROCESSES: '0' }).some((x) => /NODE_PROCESSES must be an integer/.test(x)));
  assert.ok(
    problems({ ...CLUSTER, NODE_PROCESSES: '2', PORT: '9000', NODE_INTERNAL_PORT_BASE: '8999' }).some((x) =>
      /must not include PORT 9000/.test(x),
    ),
  );
  const two = loadConfig({ ...CLUSTER, NODE_PROCESSES: '2', PORT: '9000' });
  assert.is(two.cluster.selector, 'local-first');
  assert.is(two.processes.internalPortBase, 9001);
});

test('each worker: its own NODE_ID, internal port, public URL, RTC ports and share of RTC workers', () => {
  const env = {
    ...CLUSTER,
    NODE_PROCESSES: '3',
    NODE_ID: 'n1',
    PORT: '8080',
    RTC_WORKERS: '4',
    RTC_PORT: '40000',
    NODE_PUBLIC_URL: 'http://10.0.0.11:8080',
    A: 'b',
  };
  const plans = planWorkers(loadConfig(env), env, []);
  assert.equal(
    plans.map((p) => p.nodeId),
    ['n1-p0', 'n1-p1', 'n1-p2'],
  );
  assert.equal(
    plans.map((p) => p.env['PORT']),
    ['8081', '8082', '8083'],
  );
  assert.equal(
    plans.map((p) => p.env['NODE_PUBLIC_URL']),
    ['http://10.0.0.11:8081', 'http://10.0.0.11:8082', 'http://10.0.0.11:8083'],
  );
  assert.equal(
    plans.map((p) => p.rtcWorkers),
    [2, 1, 1],
  );
  assert.equal(
    plans.map((p) => p.env['RTC_PORT']),
    ['40000', '40002', '40003'],
  );
  assert.equal(
    plans.map((p) => p.env['SWITCHBOARD_PROCESS_INDEX']),
    ['0', '1', '2'],
  );
  assert.is(plans[0].env['A'], 'b');
  // A worker's own config: it is process i of node n1, and not a primary.
  const worker = loadConfig(plans[1].env);
  assert.equal(worker.processes, { count: 3, internalPortBase: 8083, index: 1, nodeId: 'n1' });
  assert.is(worker.nodeId, 'n1-p1');
  assert.is(worker.sfu.workers, 1);
  assert.equal(splitRtcWorkers(0, 2), [0, 0]);
  assert.equal(splitRtcWorkers(1, 2), [1, 1]);
  assert.equal(workerExecArgv(['--inspect=127.0.0.1:9300', '--max-semi-space-size=64'], 1), [
    '--inspect=127.0.0.1:9302',
    '--max-semi-space-size=64',
  ]);
});

test('request heads: routing room from ?room=, else the token claim; garbage and other requests have none', async () => {
  const raw = Buffer.from('GET /ws?room=standup HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nrest');
  const end = headEnd(raw);
  assert.is(raw.subarray(end).toString(), 'rest');
  const head = parseHead(raw.subarray(0, end - 4))!;
  assert.is(head.method, 'GET');
  assert.is(routingRoom(head), 'standup');
  assert.is(headEnd(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n')), -1);
  assert.is(parseHead(Buffer.from('\x16\x03\x01garbage')), null);
  assert.not.ok(isRequestLine(Buffer.from('\x16\x03\x01\x02')));
  assert.ok(isRequestLine(Buffer.from('POST /calls HTTP/1.1')));
  const rest = parseHead(Buffer.from('GET /ws?room=a HTTP/1.1\r\nHost: x'))!;
  assert.is(routingRoom(rest), null, 'not an upgrade');
  const other = parseHead(Buffer.from('GET /live?room=a HTTP/1.1\r\nUpgrade: websocket'))!;
  assert.is(routingRoom(other), null, 'not /ws');

  const { privateKey } = await generateKeyPair('RS256');
  const jwt = await new SignJWT({ room: 'board' }).setProtectedHeader({ alg: 'RS256' }).setSubject('u').sign(privateKey);
  assert.is(unverifiedRoomClaim(jwt), 'board');
  assert.is(unverifiedRoomClaim('not.a.jwt'), null);
  const byToken = parseHead(Buffer.from(`GET /ws?token=${jwt} HTTP/1.1\r\nUpgrade: websocket`))!;
  assert.is(routingRoom(byToken), 'board');
  const both = parseHead(Buffer.from(`GET /ws?room=hint&token=${jwt} HTTP/1.1\r\nupgrade: WebSocket`))!;
  assert.is(routingRoom(both), 'hint');
  // Stable and spread: the same room always maps to the same process, and rooms use every process.
  assert.is(homeProcess('standup', 4), homeProcess('standup', 4));
  assert.equal(new Set(Array.from({ length: 50 }, (_, i) => homeProcess(`r${i}`, 4))).size, 4);
});

test("local-first: the room's home process, else the asking process, else the least loaded; never a full or draining one", () => {
  const node = (id: string, participants = 0): NodeInfo => ({
    id,
    signalingUrl: '',
    rtcAddress: null,
    capacity: { participants: 100 },
    load: { cpu: 0, rooms: 0, participants, consumers: 0 },
    draining: false,
    startedAt: 0,
    updatedAt: 0,
  });
  const select = localFirst('n-p0', (room) => (room === 'r1' ? 'n-p1' : 'n-p0'));
  const all = [node('n-p0', 50), node('n-p1', 60), node('other', 1)];
  assert.is(select(all, 'r1')!.id, 'n-p1');
  assert.is(select(all, 'r0')!.id, 'n-p0');
  assert.is(select([node('n-p0', 50), node('other', 1)], 'r1')!.id, 'n-p0', 'home gone: the asking process');
  assert.is(select([node('other', 1), node('x', 5)], 'r1')!.id, 'other', 'neither: least loaded');
  assert.is(localFirst('a', null)([node('b'), node('a', 99)], 'r')!.id, 'a');
});

test.run();
