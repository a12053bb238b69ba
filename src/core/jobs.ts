import { loggableError } from './db/transaction.js';
import type { Logger } from './logger.js';

/** A background job the server starts after it listens and stops first on shutdown (reconciler, senders). */
export interface BackgroundJob {
  name: string;
  start(): void;
  stop(): Promise<void>;
}

export interface PeriodicJobOptions<T> {
  /** One pass of the job. */
  run: () => Promise<T>;
  /** What the timer calls: the owner's own runOnce, so that a timed run and a run asked for are the same call. */
  timed: () => Promise<unknown>;
  /** The first run, this long after start (soon: what fell due while the process was down). */
  firstMs: number;
  /** The next run, this long after the previous one ended. */
  everyMs: () => number;
  logger: Logger;
  /** The log event and message when a timed run fails (the timer never throws). */
  event: string;
  failure: string;
}

/**
 * The timer every periodic job shares (the reconcilers, inbox retention): runs never overlap within an instance (a
 * runOnce() during a run gets that run's result), the next run is scheduled when one ends, the timer does not keep
 * the process alive, and stop() waits for the run under way.
 */
export class PeriodicJob<T> {
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<T> | undefined;
  private stopped = false;

  constructor(private readonly opts: PeriodicJobOptions<T>) {}

  /** True once stop() was called: a long run checks it between steps and ends early. */
  get stopping(): boolean {
    return this.stopped;
  }

  start(): void {
    if (this.timer || this.stopped) return;
    this.schedule(this.opts.firstMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.current?.catch(() => undefined);
  }

  runOnce(): Promise<T> {
    this.current ??= this.opts.run().finally(() => {
      this.current = undefined;
    });
    return this.current;
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.opts.timed()
        .catch((err: unknown) => this.opts.logger.error({ event: this.opts.event, err: loggableError(err) }, this.opts.failure))
        .finally(() => {
          if (!this.stopped) this.schedule(this.opts.everyMs());
        });
    }, ms);
    this.timer.unref();
  }
}
