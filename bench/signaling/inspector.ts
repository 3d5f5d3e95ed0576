// Forces a full garbage collection in the server through its inspector
// (node --inspect=127.0.0.1:PORT), so RSS before and after the connections are
// compared without garbage left from startup (PGlite's initialisation leaves
// hundreds of MiB of external buffers that only a major GC releases).

import { WebSocket } from 'ws';

export interface InspectorSession {
  collectGarbage(): Promise<boolean>;
  /** V8 heap used, bytes (null on failure). Works at the open-files limit, unlike /metrics. */
  heapUsed(): Promise<number | null>;
  close(): void;
}

export async function openInspector(port: number): Promise<InspectorSession | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/json/list`, { signal: AbortSignal.timeout(5000) });
    const targets = (await res.json()) as Array<{ webSocketDebuggerUrl?: string }>;
    const url = targets[0]?.webSocketDebuggerUrl;
    if (!url) return null;
    const ws = new WebSocket(url, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    let nextId = 1;
    const pending = new Map<number, (result: Record<string, unknown> | null) => void>();
    ws.on('message', (data) => {
      try {
        const msg = JSON.parse(data.toString()) as { id?: number; error?: unknown; result?: Record<string, unknown> };
        if (msg.id !== undefined) {
          pending.get(msg.id)?.(msg.error ? null : (msg.result ?? {}));
          pending.delete(msg.id);
        }
      } catch {
        // not for us
      }
    });
    ws.on('error', () => {});
    ws.on('close', () => {
      for (const done of pending.values()) done(null);
      pending.clear();
    });
    const call = (method: string): Promise<Record<string, unknown> | null> => {
      if (ws.readyState !== WebSocket.OPEN) return Promise.resolve(null);
      const id = nextId++;
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          resolve(null);
        }, 60_000);
        pending.set(id, (result) => {
          clearTimeout(timer);
          resolve(result);
        });
        ws.send(JSON.stringify({ id, method }));
      });
    };
    return {
      async collectGarbage() {
        return (await call('HeapProfiler.collectGarbage')) !== null;
      },
      async heapUsed() {
        const r = await call('Runtime.getHeapUsage');
        return typeof r?.['usedSize'] === 'number' ? r['usedSize'] : null;
      },
      close() {
        ws.close();
      },
    };
  } catch {
    return null;
  }
}
