/**
 * Group commit: items added while a write is being prepared or is in flight are written together, in one statement
 * and one commit, and each add() settles only when the write holding its item has committed (or failed). A write
 * starts at the next turn of the event loop after the first item arrives (setImmediate: callbacks that arrived
 * together are written together, and a lone one waits for nothing); while `maxInFlight` writes are running, items
 * gather for the next one, up to `maxBatch` per write. Under load the batches grow by themselves; at a trickle each
 * item is written alone at once.
 */
export class GroupCommit<T> {
  private queue: Array<{ item: T; resolve: () => void; reject: (err: unknown) => void }> = [];
  private inFlight = 0;
  private scheduled = false;
  private readonly idleWaiters: Array<() => void> = [];

  constructor(
    /** Writes the items; resolving with an array rejects the items whose entry is an error (undefined: committed). */
    private readonly write: (items: T[]) => Promise<void | ReadonlyArray<unknown>>,
    private readonly opts: { maxBatch: number; maxInFlight: number },
  ) {}

  /** Resolves once `item` is committed; rejects with the write's error. */
  add(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves when nothing is queued or being written (shutdown, tests). */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.scheduled || this.queue.length === 0 || this.inFlight >= this.opts.maxInFlight) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.queue.length === 0 || this.inFlight >= this.opts.maxInFlight) return;
    const batch = this.queue.splice(0, this.opts.maxBatch);
    this.inFlight++;
    let written: Promise<void | ReadonlyArray<unknown>>;
    try {
      written = this.write(batch.map((b) => b.item));
    } catch (err) {
      written = Promise.reject(err);
    }
    written.then(
      (errors) => {
        batch.forEach((b, i) => {
          const e = errors?.[i];
          if (e === undefined) b.resolve();
          else b.reject(e);
        });
      },
      (err: unknown) => { for (const b of batch) b.reject(err); },
    ).finally(() => {
      this.inFlight--;
      if (this.queue.length > 0) this.schedule();
      else if (this.inFlight === 0) for (const w of this.idleWaiters.splice(0)) w();
    });
    if (this.queue.length > 0) this.schedule();
  }
}
