// `node dist/server/cli/cluster.js [--url http://node:8080] [--json]` prints the
// cluster: every live node with its address, state, load and rooms
// (GET /api/v1/cluster on any node). `... drain [node]` drains a node (this
// one by default). API_KEY/API_SECRET from the environment, else the
// development credentials in DATA_DIR.

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

interface NodeView {
  id: string;
  signalingUrl: string;
  rtcAddress: string | null;
  capacity: { participants: number };
  load: { cpu: number; rooms: number; participants: number; consumers: number };
  draining: boolean;
  alive_ms: number;
  updatedAt: number;
  room_names: string[];
}

function credentials(): { key: string; secret: string } {
  const key = process.env['API_KEY'];
  const secret = process.env['API_SECRET'];
  if (key && secret) return { key, secret };
  const file = path.join(path.resolve(process.env['DATA_DIR'] ?? './data'), 'keys', 'api-credentials.json');
  if (!existsSync(file)) throw new Error(`set API_KEY and API_SECRET (no development credentials in ${file})`);
  const dev = JSON.parse(readFileSync(file, 'utf8')) as { api_key: string; api_secret: string };
  return { key: dev.api_key, secret: dev.api_secret };
}

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  return `${Math.round(s / 3600)}h`;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { url: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  const base = values.url ?? process.env['SWITCHBOARD_URL'] ?? `http://127.0.0.1:${process.env['PORT'] ?? 8080}`;
  const { key, secret } = credentials();
  const authorization = `Basic ${Buffer.from(`${key}:${secret}`).toString('base64')}`;

  if (positionals[0] === 'drain') {
    const res = await fetch(`${base}/api/v1/cluster/drain`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/json' },
      body: JSON.stringify(positionals[1] ? { node: positionals[1] } : {}),
    });
    const body = (await res.json()) as { node?: string; error?: { message: string } };
    if (!res.ok) throw new Error(body.error?.message ?? `HTTP ${res.status}`);
    process.stdout.write(`draining ${body.node}\n`);
    return;
  }
  if (positionals.length > 0) throw new Error(`unknown command ${positionals[0]} (commands: drain [node])`);

  const res = await fetch(`${base}/api/v1/cluster`, { headers: { authorization } });
  const body = (await res.json()) as { node_id: string; rooms: number; nodes: NodeView[]; error?: { message: string } };
  if (!res.ok) throw new Error(body.error?.message ?? `HTTP ${res.status}`);
  if (values.json) {
    process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
    return;
  }
  const rows = [['NODE', 'STATE', 'URL', 'RTC', 'ROOMS', 'PARTICIPANTS', 'CONSUMERS', 'CPU', 'CAPACITY', 'UP', 'ROOM NAMES']];
  for (const n of body.nodes) {
    const names = n.room_names.slice(0, 5).join(',') + (n.room_names.length > 5 ? `,+${n.room_names.length - 5}` : '');
    rows.push([
      n.id + (n.id === body.node_id ? '*' : ''),
      n.draining ? 'draining' : 'ready',
      n.signalingUrl,
      n.rtcAddress ?? '-',
      String(n.load.rooms),
      String(n.load.participants),
      String(n.load.consumers),
      n.load.cpu.toFixed(2),
      String(n.capacity.participants),
      duration(n.alive_ms),
      names || '-',
    ]);
  }
  process.stdout.write(`${table(rows)}\n\n${body.nodes.length} node(s), ${body.rooms} room(s); * = the node that answered\n`);
}

main().catch((err) => {
  process.stderr.write(`cluster: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
