// Is the other side of a cascade still there? Owner and hosting node ask each
// other on a timer; a node is given up after `misses` failed checks in a row.
// Failures while Redis itself is away do not count (the pipes are direct UDP
// and keep flowing), and a node is never checked twice at once, so a slow
// machine does not pile up checks that then all count as misses.

export class LivenessChecks {
  private readonly misses = new Map<string, number>();
  private readonly inFlight = new Set<string>();

  constructor(private readonly opts: { misses: number; busHealthy?: () => boolean }) {}

  /**
   * Runs `probe` against `node` unless a check of it is running. `urgent`
   * (the cluster reported the node dead): after a failure, check again at
   * once. A dead node's channel fails at once every time, so it is given up
   * within milliseconds; a live but slow one still gets `misses` timeouts.
   */
  check(node: string, probe: () => Promise<void>, gone: () => void, urgent = false): void {
    if (this.inFlight.has(node)) return;
    this.inFlight.add(node);
    probe().then(
      () => {
        this.inFlight.delete(node);
        this.misses.delete(node);
      },
      () => {
        this.inFlight.delete(node);
        if (this.opts.busHealthy?.() === false) return;
        const misses = (this.misses.get(node) ?? 0) + 1;
        this.misses.set(node, misses);
        if (misses >= this.opts.misses) {
          this.misses.delete(node);
          gone();
        } else if (urgent) {
          this.check(node, probe, gone, true);
        }
      },
    );
  }
}
