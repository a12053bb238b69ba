import type { Options, Store } from 'express-rate-limit';
import type { Logger } from '../logger.js';
import { LazyRedisStore, type LazyRedis } from './rate-limit-store.js';

/** Failed sign-ins one client address may make in a window, across every Basic-auth area. */
export const LOGIN_FAILURES_ALLOWED = 10;
export const LOGIN_WINDOW_SECONDS = 60;

/**
 * Failed sign-ins per client address, for every area behind Basic auth (/admin, and /door once it exists): one
 * limiter per app, so guesses at the door and at the admin add up. Only failures are counted; a correct login never
 * waits. Once an address is over the limit its sign-ins are refused unseen until the window passes (basic-auth.ts).
 * Counts are shared through Redis when REDIS_URL is set, like the booking limits; while Redis is unreachable they are
 * kept in this instance's memory instead (the limit then holds per instance), and the error is logged.
 */
export interface LoginLimiter {
  /** Seconds until this address may try again; 0 when it may try now. */
  blockedFor(address: string): Promise<number>;
  /** Counts a failed sign-in from this address: how many it has made in the window so far. */
  failed(address: string): Promise<number>;
}

interface Count {
  count: number;
  resetAt: number;
}

/** A fixed window per address in memory, on the app's clock (so tests move time instead of waiting). */
class MemoryCounts {
  private readonly counts = new Map<string, Count>();
  constructor(private readonly windowMs: number, private readonly now: () => Date) {}

  get(key: string): Count | undefined {
    const c = this.counts.get(key);
    if (c && c.resetAt <= this.now().getTime()) {
      this.counts.delete(key);
      return undefined;
    }
    return c;
  }

  increment(key: string): Count {
    const now = this.now().getTime();
    if (this.counts.size > 10_000) for (const [k, c] of this.counts) if (c.resetAt <= now) this.counts.delete(k);
    const c = this.get(key) ?? { count: 0, resetAt: now + this.windowMs };
    c.count++;
    this.counts.set(key, c);
    return c;
  }
}

export function createLoginLimiter(opts: {
  logger: Logger;
  now: () => Date;
  /** The app's Redis client when REDIS_URL is set. */
  redis?: LazyRedis;
  prefix?: string;
  limit?: number;
  windowSeconds?: number;
}): LoginLimiter {
  const limit = opts.limit ?? LOGIN_FAILURES_ALLOWED;
  const windowMs = (opts.windowSeconds ?? LOGIN_WINDOW_SECONDS) * 1000;
  const memory = new MemoryCounts(windowMs, opts.now);
  let shared: Store | undefined;
  if (opts.redis) {
    shared = new LazyRedisStore(opts.redis.sendCommand, opts.prefix ?? 'tikiti:rl:logins:');
    void shared.init?.({ windowMs } as Options);
  }
  let lastError = '';
  const fellBack = (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    if (message !== lastError) opts.logger.error({ err }, 'sign-in limits: Redis unreachable; counting in this instance meanwhile');
    lastError = message;
  };
  const seconds = (resetAt: number) => Math.max(1, Math.ceil((resetAt - opts.now().getTime()) / 1000));

  return {
    async blockedFor(address) {
      let c: Count | undefined;
      if (shared) {
        try {
          const info = await shared.get?.(address);
          c = info ? { count: info.totalHits, resetAt: info.resetTime?.getTime() ?? opts.now().getTime() + windowMs } : undefined;
        } catch (err) {
          fellBack(err);
        }
      }
      c ??= memory.get(address);
      return c && c.count >= limit ? seconds(c.resetAt) : 0;
    },
    async failed(address) {
      if (shared) {
        try {
          const info = await shared.increment(address);
          lastError = '';
          return info.totalHits;
        } catch (err) {
          fellBack(err);
        }
      }
      return memory.increment(address).count;
    },
  };
}
