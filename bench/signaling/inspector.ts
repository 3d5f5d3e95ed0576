// Forces a full garbage collection in the server through its inspector
// (node --inspect=127.0.0.1:PORT), so RSS before and after the connections are
// compared without garbage left from startup (PGlite's initialisation leaves
// hundreds of MiB of external buffers that only a major GC releases).

import { WebSocket } from 'ws';

export interface InspectorSession {
  collectGarbage(): Promise<boolean>;
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
    const pending = new Map<number, (ok: boolean) => void>();
    ws.on('message', (data) => {
      try {
        const msg = JSON.parse(data.toString()) as { id?: number; error?: unknown };
        if (msg.id !== undefined) {
          pending.get(msg.id)?.(!msg.error);
          pending.delete(msg.id);
        }
      } catch {
        // not for us
      }
    });
    ws.on('error', () => {});
    ws.on('close', () => {
      for (const done of pending.values()) done(false);
      pending.clear();
    });
    return {
      collectGarbage() {
        if (ws.readyState !== WebSocket.OPEN) return Promise.resolve(false);
        const id = nextId++;
        return new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => {
            pending.delete(id);
            resolve(false);
          }, 60_000);
          pending.set(id, (ok) => {
            clearTimeout(timer);
            resolve(ok);
          });
          ws.send(JSON.stringify({ id, method: 'HeapProfiler.collectGarbage' }));
        });
      },
      close() {
        ws.close();
      },
    };
  } catch {
    return null;
  }
}
