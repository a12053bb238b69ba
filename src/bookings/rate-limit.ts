import type { Request, Response } from 'express';
import { rateLimit, type ClientRateLimitInfo, type IncrementResponse, type Options, type RateLimitRequestHandler, type Store } from 'express-rate-limit';
import { RedisStore } from 'rate-limit-redis';
import { createClient } from 'redis';
import type { Config } from '../config.js';
import type { Logger } from '../core/logger.js';

/**
 * The two abuse limits on bookings:
 * - bookings per client address on POST /bookings (a 422 does not count: a typo costs nothing);
 * - STK pushes per phone, keyed on the normalized number a route puts in `res.locals.pushPhone` after validation, so
 *   nobody can spam someone's phone with PIN prompts ("STK push bombing"). Only answers below 400 count: a sold-out
 *   409 sent no push.
 * Counts live in memory by default, or in Redis when REDIS_URL is set so several instances share them. If Redis is
 * unreachable the request goes through and the error is logged: a rate-limit store must not take bookings down.
 */
export interface RateLimits {
  bookingsPerIp: RateLimitRequestHandler;
  pushesPerPhone: RateLimitRequestHandler;
  /** 'memory' or 'redis'. */
  store: 'memory' | 'redis';
  /** Closes the Redis connection, if one was opened. */
  close(): Promise<void>;
}

export interface RateLimitOptions {
  logger: Logger;
  /** Key prefix in Redis; tests use a unique one. */
  prefix?: string;
  /** Renders the 429 answer (Retry-After is already set). Default: a plain text message. */
  onLimited?: (req: Request, res: Response, which: 'bookingsPerIp' | 'pushesPerPhone', retryAfterSeconds: number) => void;
}

/** The normalized phone a route sets before `pushesPerPhone` runs. */
export const PUSH_PHONE_LOCAL = 'pushPhone';

export const LIMIT_MESSAGES = {
  bookingsPerIp: 'Too many bookings have come from your connection in a short time. Please wait a few minutes and try again.',
  pushesPerPhone:
    'Too many M-Pesa payment prompts have been sent to this phone in a short time. To protect it, please wait a few minutes before trying again.',
} as const;

/** Builds both limiters, one fresh set per app (tests get their own counts with each app). */
export function createRateLimits(config: Readonly<Pick<Config, 'rateLimit' | 'redisUrl'>>, opts: RateLimitOptions): RateLimits {
  const windowMs = config.rateLimit.windowSeconds * 1000;
  const prefix = opts.prefix ?? 'tikiti:rl:';
  const redis = config.redisUrl ? lazyRedis(config.redisUrl, opts.logger) : undefined;
  const erlLogger = {
    error: (err: unknown, msg?: string) => opts.logger.error({ err }, msg ?? 'rate limiter error'),
    warn: (err: unknown, msg?: string) => opts.logger.warn({ err }, msg ?? 'rate limiter warning'),
  };

  const common = (which: 'bookingsPerIp' | 'pushesPerPhone'): Partial<Options> => ({
    windowMs,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    passOnStoreError: true,
    logger: erlLogger as unknown as Options['logger'],
    store: redis ? new LazyRedisStore(redis.sendCommand, `${prefix}${which}:`) : undefined,
    handler: (req, res) => {
      const retryAfter = Number(res.getHeader('Retry-After')) || config.rateLimit.windowSeconds;
      opts.logger.warn({ limit: which, path: req.path }, 'rate limit reached');
      res.status(429);
      if (opts.onLimited) opts.onLimited(req, res, which, retryAfter);
      else res.type('text/plain').send(LIMIT_MESSAGES[which]);
    },
  });

  const bookingsPerIp = rateLimit({
    ...common('bookingsPerIp'),
    limit: config.rateLimit.bookingsPerIp,
    // The default key is the client address (an IPv6 /56), read through TRUST_PROXY.
    skipFailedRequests: true,
    requestWasSuccessful: (_req, res) => res.statusCode !== 422,
  });

  const pushesPerPhone = rateLimit({
    ...common('pushesPerPhone'),
    limit: config.rateLimit.pushesPerPhone,
    keyGenerator: (_req, res) => {
      const phone: unknown = res.locals[PUSH_PHONE_LOCAL];
      if (typeof phone !== 'string' || !phone) throw new Error('pushesPerPhone needs res.locals.pushPhone');
      return phone;
    },
    skipFailedRequests: true,
  });

  return {
    bookingsPerIp,
    pushesPerPhone,
    store: redis ? 'redis' : 'memory',
    close: async () => {
      await redis?.close();
    },
  };
}

type SendCommand = (...args: string[]) => Promise<string | number | boolean | Array<string | number | boolean>>;

/**
 * One node-redis client shared by both limiters, connected on first use (an app that is never booked never
 * connects), failing fast while Redis is down instead of queueing requests behind it.
 */
function lazyRedis(url: string, logger: Logger): { sendCommand: SendCommand; close(): Promise<void> } {
  const client = createClient({
    url,
    disableOfflineQueue: true,
    socket: { connectTimeout: 2000, reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, 5000) },
  });
  let lastError = '';
  client.on('error', (err: Error) => {
    // node-redis emits an error per failed reconnect; log each distinct one once.
    if (err.message !== lastError) logger.error({ err }, 'rate-limit Redis connection error');
    lastError = err.message;
  });
  client.on('ready', () => {
    lastError = '';
  });
  let connecting: Promise<unknown> | undefined;
  let firstWait: Promise<unknown> | undefined;
  let closed = false;

  const sendCommand: SendCommand = async (...args) => {
    if (closed) throw new Error('rate-limit Redis client is closed');
    if (!client.isOpen) {
      connecting ??= client.connect().catch((err: unknown) => {
        connecting = undefined;
        throw err;
      });
    }
    // Only the first use waits (briefly) for the connection; after that a Redis that is down fails at once
    // (disableOfflineQueue) while node-redis reconnects in the background.
    if (connecting) firstWait ??= withTimeout(connecting, 2000, 'connecting to Redis timed out').catch(() => undefined);
    await firstWait;
    return (await client.sendCommand(args)) as Awaited<ReturnType<SendCommand>>;
  };

  return {
    sendCommand,
    async close() {
      if (closed) return;
      closed = true;
      if (!client.isOpen) return;
      if (client.isReady) await client.close().catch(() => client.destroy());
      else client.destroy();
    },
  };
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * rate-limit-redis loads its Lua scripts the moment it is constructed; this builds it on the first request instead,
 * so starting the app never needs Redis and a Redis outage at start cannot crash it.
 */
class LazyRedisStore implements Store {
  readonly localKeys = false;
  private options?: Options;
  private inner?: Promise<RedisStore>;

  constructor(private readonly send: SendCommand, readonly prefix: string) {}

  init(options: Options): void {
    this.options = options;
  }

  private store(): Promise<RedisStore> {
    this.inner ??= this.send('PING').then(
      () => {
        const s = new RedisStore({ sendCommand: this.send, prefix: this.prefix });
        // Failures here are retried by the store itself on the next command.
        s.incrementScriptSha.catch(() => undefined);
        s.getScriptSha.catch(() => undefined);
        if (this.options) s.init(this.options);
        return s;
      },
      (err: unknown) => {
        this.inner = undefined;
        throw err;
      },
    );
    return this.inner;
  }

  async get(key: string): Promise<ClientRateLimitInfo | undefined> {
    return (await this.store()).get(key);
  }

  async increment(key: string): Promise<IncrementResponse> {
    return (await this.store()).increment(key);
  }

  async decrement(key: string): Promise<void> {
    await (await this.store()).decrement(key);
  }

  async resetKey(key: string): Promise<void> {
    await (await this.store()).resetKey(key);
  }
}

/** Marks a request's normalized phone for `pushesPerPhone`. */
export function setPushPhone(res: Response, phone: string): void {
  res.locals[PUSH_PHONE_LOCAL] = phone;
}

