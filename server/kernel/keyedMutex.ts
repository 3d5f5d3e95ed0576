/**
 * Runs async tasks one at a time per key (e.g. per room), so that a join and a
 * leave of the same room never interleave their awaits. Keys are forgotten
 * when their queue drains, so memory follows the number of busy keys.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(task, task);
    const tail = result.catch(() => {}); // the caller gets the task's error through `result`; the chain goes on
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  get busyKeys(): number {
    return this.tails.size;
  }
}
