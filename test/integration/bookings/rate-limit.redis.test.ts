import { randomBytes } from 'node:crypto';
import express from 'express';
import { createClient } from 'redis';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { createRateLimits, setPushPhone, type RateLimits } from '../../../src/bookings/rate-limit.js';
import { createLogger, silentLogger } from '../../../src/core/logger.js';
import { buildMovie } from '../../support/builders.js';
import { MANUAL_SIMULATOR } from '../../support/daraja-edge.js';
import { startTestServer } from '../../support/server.js';
import { postBooking } from './helpers.js';
import { TEST_REDIS_URL, redisAnswers } from '../../support/redis.js';

// Runs where a Redis answers (TEST_REDIS_URL, or the usual local port); skipped elsewhere (CI has MariaDB only).
const REDIS_URL = TEST_REDIS_URL;

const hasRedis = await redisAnswers(REDIS_URL);

/** One "instance": a tiny app with the real limiters in front of a handler that answers 303 like a booking. */
function instance(limits: RateLimits) {
  const app = express();
  app.set('trust proxy', 'loopback');
  app.post('/bookings', limits.bookingsPerIp, (req, res, next) => {
    setPushPhone(res, String(req.query.phone ?? '254700000000'));
    next();
  }, limits.pushesPerPhone, (_req, res) => {
    res.redirect(303, '/tickets/x');
  });
  return app;
}

describe.skipIf(!hasRedis)('rate limits shared through Redis', () => {
  const prefix = `tikiti:test:${randomBytes(6).toString('hex')}:`;
  const opened: RateLimits[] = [];
  const config = (bookingsPerIp: number, pushesPerPhone: number, redisUrl = REDIS_URL) => ({
    rateLimit: { windowSeconds: 60, bookingsPerIp, pushesPerPhone },
    redisUrl,
  });

  afterAll(async () => {
    for (const l of opened) await l.close();
    const c = createClient({ url: REDIS_URL });
    await c.connect();
    for await (const keys of c.scanIterator({ MATCH: `${prefix}*`, COUNT: 100 })) if (keys.length) await c.del(keys);
    await c.close();
  });

  it('when two instances share REDIS_URL, then a client address is counted across both', async () => {
    const a = createRateLimits(config(3, 100), { logger: silentLogger, prefix });
    const b = createRateLimits(config(3, 100), { logger: silentLogger, prefix });
    opened.push(a, b);
    expect(a.store).toBe('redis');
    const appA = instance(a);
    const appB = instance(b);
    await request(appA).post('/bookings?phone=254711000001').expect(303);
    await request(appB).post('/bookings?phone=254711000002').expect(303);
    await request(appA).post('/bookings?phone=254711000003').expect(303);
    const limited = await request(appB).post('/bookings?phone=254711000004').expect(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    await request(appA).post('/bookings?phone=254711000005').expect(429);
  });

  it('when two instances share REDIS_URL, then pushes to one phone are counted across both', async () => {
    const p2 = `${prefix}p2:`;
    const a = createRateLimits(config(100, 2), { logger: silentLogger, prefix: p2 });
    const b = createRateLimits(config(100, 2), { logger: silentLogger, prefix: p2 });
    opened.push(a, b);
    await request(instance(a)).post('/bookings?phone=254722000001').expect(303);
    await request(instance(b)).post('/bookings?phone=254722000001').expect(303);
    await request(instance(a)).post('/bookings?phone=254722000001').expect(429);
    await request(instance(b)).post('/bookings?phone=254722000002').expect(303);
  });

  it('when Redis cannot be reached, then the app still starts and books (the limit is skipped and the error logged)', async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'error', destination: { write: (s: string) => lines.push(s) } as unknown as NodeJS.WritableStream });
    const limits = createRateLimits(config(1, 1, 'redis://127.0.0.1:1'), { logger, prefix });
    opened.push(limits);
    const started = Date.now();
    await request(instance(limits)).post('/bookings').expect(303);
    await request(instance(limits)).post('/bookings').expect(303);
    expect(Date.now() - started).toBeLessThan(8000);
    expect(lines.join('')).toMatch(/rate/i);
  });

  it('when the whole app runs with REDIS_URL, then bookings go through the Redis store and shutdown closes it', async () => {
    const t = await startTestServer('sqlite', { ...MANUAL_SIMULATOR, REDIS_URL, RATE_LIMIT_BOOKINGS_PER_IP: '1000', RATE_LIMIT_PUSHES_PER_PHONE: '1000' });
    try {
      expect(t.services.rateLimits.store).toBe('redis');
      const movieId = await buildMovie(t.database.db);
      expect((await postBooking(request.agent(t.app), movieId)).status).toBe(303);
    } finally {
      await t.close();
    }
  });
});
