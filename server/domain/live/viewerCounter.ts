// Who watches a stream. A viewer is one distinct key: `u:<user_id>` for a
// WebSocket watcher and for an HLS player whose signed URL names that user
// (so one person chatting and playing counts once), `v:<id>` for a player of
// a public stream that sends ?viewer=<id>, `ip:<address>` for one that does
// not. A player counts as present for `timeoutMs` after its last request.

export class ViewerCounter {
  private readonly sockets = new Map<string, number>(); // key -> open watch connections
  private readonly players = new Map<string, number>(); // key -> last request (ms)
  private readonly seen = new Set<string>();
  peak = 0;

  constructor(private readonly timeoutMs: number) {}

  /** A WebSocket watcher came (a second connection of the same user counts once). */
  watcherJoined(key: string): void {
    this.sockets.set(key, (this.sockets.get(key) ?? 0) + 1);
    this.seen.add(key);
  }

  watcherLeft(key: string): void {
    const n = (this.sockets.get(key) ?? 0) - 1;
    if (n > 0) this.sockets.set(key, n);
    else this.sockets.delete(key);
  }

  /** An HLS request (playlist or segment) of this viewer. */
  playerSeen(key: string, now = Date.now()): void {
    this.players.set(key, now);
    this.seen.add(key);
  }

  /** Distinct viewers present now; updates the peak and forgets players that went quiet. */
  current(now = Date.now()): number {
    for (const [key, at] of this.players) if (now - at > this.timeoutMs) this.players.delete(key);
    let n = this.sockets.size;
    for (const key of this.players.keys()) if (!this.sockets.has(key)) n++;
    if (n > this.peak) this.peak = n;
    return n;
  }

  get total(): number {
    return this.seen.size;
  }
}
