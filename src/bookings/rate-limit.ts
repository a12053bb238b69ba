import type { Request, Response } from 'express';
import { rateLimit, type Options, type RateLimitRequestHandler } from 'express-rate-limit';
import type { Config } from '../config.js';
import { LazyRedisStore, lazyRedis, type LazyRedis } from '../core/http/rate-limit-store.js';
import type { Logger } from '../core/logger.js';

/**
 * The abuse limits on bookings and tickets (find-my-ticket's failed lookups per client address are the third):
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
  /** Failed find-my-ticket lookups per client address: guessing codes for a phone number (or numbers for a code). */
  ticketLookupsPerIp: RateLimitRequestHandler;
  /** 'memory' or 'redis'. */
  store: 'memory' | 'redis';
  /** Closes the Redis connection, if it opened one of its own. */
  close(): Promise<void>;
}

export interface RateLimitOptions {
  logger: Logger;
  /** Key prefix in Redis; tests use a unique one. */
  prefix?: string;
  /** The app's Redis client (REDIS_URL), shared with the sign-in limits; closed by its owner. Default: one of its own. */
  redis?: LazyRedis;
  /** Renders the 429 answer (Retry-After is already set). Default: a plain text message. */
  onLimited?: (req: Request, res: Response, which: LimitName, retryAfterSeconds: number) => void;
}

export type LimitName = 'bookingsPerIp' | 'pushesPerPhone' | 'ticketLookupsPerIp';

/**
 * Failed find-my-ticket lookups a client address may make per window. A code has 40 random bits, so this many guesses
 * per window find nothing; a customer who mistypes a few times is not locked out.
 */
export const TICKET_LOOKUPS_PER_WINDOW = 10;

/** The normalized phone a route sets before `pushesPerPhone` runs. */
export const PUSH_PHONE_LOCAL = 'pushPhone';

export const LIMIT_MESSAGES = {
  bookingsPerIp: 'Too many bookings have come from your connection in a short time. Please wait a few minutes and try again.',
  pushesPerPhone:
    'Too many M-Pesa payment prompts have been sent to this phone in a short time. To protect it, please wait a few minutes before trying again.',
  ticketLookupsPerIp: 'Too many ticket searches that found nothing have come from your connection. Please wait a few minutes and try again.',
} as const;

/** Builds both limiters, one fresh set per app (tests get their own counts with each app). */
export function createRateLimits(config: Readonly<Pick<Config, 'rateLimit' | 'redisUrl'>>, opts: RateLimitOptions): RateLimits {
  const windowMs = config.rateLimit.windowSeconds * 1000;
  const prefix = opts.prefix ?? 'tikiti:rl:';
  const own = !opts.redis && config.redisUrl ? lazyRedis(config.redisUrl, opts.logger) : undefined;
  const redis = config.redisUrl ? opts.redis ?? own : undefined;
  const erlLogger = {
    error: (err: unknown, msg?: string) => opts.logger.error({ err }, msg ?? 'rate limiter error'),
    warn: (err: unknown, msg?: string) => opts.logger.warn({ err }, msg ?? 'rate limiter warning'),
  };

  const common = (which: LimitName): Partial<Options> => ({
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

  // Only misses count (a 303 to the ticket is a success): the one who knows their code is never slowed.
  const ticketLookupsPerIp = rateLimit({
    ...common('ticketLookupsPerIp'),
    limit: TICKET_LOOKUPS_PER_WINDOW,
    skipSuccessfulRequests: true,
  });

  return {
    bookingsPerIp,
    pushesPerPhone,
    ticketLookupsPerIp,
    store: redis ? 'redis' : 'memory',
    close: async () => {
      await own?.close();
    },
  };
}

/** Marks a request's normalized phone for `pushesPerPhone`. */
export function setPushPhone(res: Response, phone: string): void {
  res.locals[PUSH_PHONE_LOCAL] = phone;
}

