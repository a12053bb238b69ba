import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTestApp, type TestApp } from '../../support/app.js';
import { dialects } from '../../support/db.js';
import { ADMIN_ENV, ADMIN_PASSWORD, ADMIN_USER, AUTH } from '../admin/helpers.js';
import { capturingLogger, uniqueIp } from './helpers.js';
import { TEST_REDIS_URL, redisAnswers } from '../../support/redis.js';

// A pass-through spy on the constant-time primitive: a limited sign-in must not even be compared.
const spy = vi.hoisted(() => ({ timingSafeEqual: undefined as unknown as ReturnType<typeof vi.fn> }));
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  spy.timingSafeEqual = vi.fn(actual.timingSafeEqual);
  return { ...actual, default: { ...actual, timingSafeEqual: spy.timingSafeEqual }, timingSafeEqual: spy.timingSafeEqual };
});

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
const WRONG = basic(ADMIN_USER, 'a guess');
const LIMITED = 'Too many failed sign-ins have come from your connection.';

describe.each(dialects)('failed sign-ins limited per client address on %s', (dialect) => {
  let clock = Date.now();
  const capture = capturingLogger('info');
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect, ADMIN_ENV, { now: () => new Date(clock), logger: capture.logger });
  });
  afterAll(async () => {
    await t?.close();
  });
  beforeEach(() => {
    spy.timingSafeEqual.mockClear();
  });

  /** GET /admin from `ip` (the loopback proxy's X-Forwarded-For, as behind ngrok) with this Authorization, if any. */
  const admin = (ip: string, auth?: string, url = '/admin') => {
    const r = request(t.app).get(url).set('X-Forwarded-For', ip);
    return auth ? r.set('Authorization', auth) : r;
  };

  it('when an address has failed 10 times in a minute, then its next sign-in is 429 with Retry-After even with the right password, and other addresses are not affected', async () => {
    const ip = uniqueIp();
    for (let i = 1; i <= 10; i++) {
      const res = await admin(ip, WRONG);
      expect(res.status, `failure ${i}`).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Basic realm="Tikiti admin", charset="UTF-8"');
    }
    for (const auth of [AUTH, WRONG, undefined]) {
      const res = await admin(ip, auth);
      expect(res.status).toBe(429);
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(60);
      expect(res.headers['www-authenticate']).toBeUndefined();
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.text).toContain(LIMITED);
      expect(res.text).not.toMatch(/Signed in|Revenue|<table/);
    }
    // The admin API answers the same in JSON.
    const api = await request(t.app).post('/admin/api/movies').set('X-Forwarded-For', ip).set('Authorization', AUTH)
      .send({ title: 'x', showTime: '2031-01-01T20:00:00Z', price: 5, maximumTickets: 5 });
    expect(api.status).toBe(429);
    expect(api.body).toEqual({ error: { code: 'TOO_MANY_SIGN_INS', message: expect.stringContaining(LIMITED) } });
    expect(Number(api.headers['retry-after'])).toBeGreaterThan(0);

    const other = uniqueIp();
    expect((await admin(other, AUTH)).status).toBe(200);
    expect((await admin(other, WRONG)).status).toBe(401);
  });

  it('when an address is limited, then what it sends is not even compared (a guess then learns nothing); before that, every try is', async () => {
    const ip = uniqueIp();
    await admin(ip, WRONG);
    expect(spy.timingSafeEqual).toHaveBeenCalledTimes(2);
    for (let i = 0; i < 9; i++) await admin(ip, WRONG);
    spy.timingSafeEqual.mockClear();
    expect((await admin(ip, AUTH)).status).toBe(429);
    expect((await admin(ip, WRONG)).status).toBe(429);
    expect(spy.timingSafeEqual).not.toHaveBeenCalled();
  });

  it('when the right credentials are sent, then they are never counted, nor is a request without credentials: only wrong ones are', async () => {
    const ip = uniqueIp();
    for (let i = 0; i < 30; i++) expect((await admin(ip, AUTH)).status).toBe(200);
    // A browser's first request carries no credentials: it asks for the prompt, it does not guess.
    for (let i = 0; i < 30; i++) expect((await admin(ip)).status).toBe(401);
    for (let i = 0; i < 9; i++) expect((await admin(ip, WRONG)).status).toBe(401);
    expect((await admin(ip, AUTH)).status).toBe(200);
    expect((await admin(ip, WRONG)).status).toBe(401);
    expect((await admin(ip, AUTH)).status).toBe(429);
  });

  it('when the window has passed on the app\'s clock, then the address may sign in again, and counts afresh', async () => {
    const ip = uniqueIp();
    for (let i = 0; i < 10; i++) await admin(ip, WRONG);
    expect((await admin(ip, AUTH)).status).toBe(429);
    clock += 50_000;
    const later = await admin(ip, AUTH);
    expect(later.status).toBe(429);
    expect(Number(later.headers['retry-after'])).toBeLessThanOrEqual(10);
    clock += 10_001;
    expect((await admin(ip, AUTH)).status).toBe(200);
    for (let i = 0; i < 10; i++) expect((await admin(ip, WRONG)).status).toBe(401);
    expect((await admin(ip, WRONG)).status).toBe(429);
  });

  it('when sign-ins fail or are limited, then a warning names the address, and no line holds the password or the Authorization header', async () => {
    const ip = uniqueIp();
    const secret = 'typed-password-Zq81';
    for (let i = 0; i < 11; i++) await admin(ip, basic(ADMIN_USER, secret));
    await admin(ip, AUTH);
    const mine = capture.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.ip === ip);
    const failed = mine.filter((e) => e.event === 'auth.failed');
    expect(failed).toHaveLength(10);
    expect(failed.every((e) => e.level === 40 && e.realm === 'Tikiti admin')).toBe(true);
    expect(failed.at(-1)).toMatchObject({ failures: 10 });
    expect(mine.filter((e) => e.event === 'auth.limited')).toHaveLength(2);
    const text = capture.text();
    for (const leak of [secret, ADMIN_PASSWORD, Buffer.from(`${ADMIN_USER}:${secret}`).toString('base64'), AUTH.slice(6)]) expect(text).not.toContain(leak);
  });
});

describe('failed sign-ins while Redis is unreachable', () => {
  it('when REDIS_URL points at nothing, then failures are still limited, counted by this instance, and the error is logged', async () => {
    const capture = capturingLogger('info');
    const t = await createTestApp('sqlite', { ...ADMIN_ENV, REDIS_URL: 'redis://127.0.0.1:1' }, { logger: capture.logger });
    try {
      const ip = uniqueIp();
      for (let i = 0; i < 10; i++) expect((await request(t.app).get('/admin').set('X-Forwarded-For', ip).set('Authorization', WRONG)).status).toBe(401);
      expect((await request(t.app).get('/admin').set('X-Forwarded-For', ip).set('Authorization', AUTH)).status).toBe(429);
      expect((await request(t.app).get('/admin').set('X-Forwarded-For', uniqueIp()).set('Authorization', AUTH)).status).toBe(200);
      expect(capture.text()).toContain('sign-in limits: Redis unreachable');
    } finally {
      await t.close();
    }
  });
});

// Runs where a Redis answers (TEST_REDIS_URL, or the usual local port), like the booking limits' Redis tests.
const REDIS_URL = TEST_REDIS_URL;
const hasRedis = await redisAnswers(REDIS_URL);

describe.skipIf(!hasRedis)('failed sign-ins counted through Redis', () => {
  const prefix = `tikiti:test:${randomBytes(6).toString('hex')}:`;
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    a = await createTestApp('sqlite', { ...ADMIN_ENV, REDIS_URL }, { rateLimitPrefix: prefix });
    b = await createTestApp('sqlite', { ...ADMIN_ENV, REDIS_URL }, { rateLimitPrefix: prefix });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    const c = createClient({ url: REDIS_URL });
    await c.connect();
    for await (const keys of c.scanIterator({ MATCH: `${prefix}*`, COUNT: 100 })) if (keys.length) await c.del(keys);
    await c.close();
  });

  it('when REDIS_URL is set, then failures at two instances add up for one address', async () => {
    const ip = uniqueIp();
    const at = (app: TestApp, auth: string) => request(app.app).get('/admin').set('X-Forwarded-For', ip).set('Authorization', auth);
    for (let i = 0; i < 6; i++) expect((await at(a, WRONG)).status).toBe(401);
    for (let i = 0; i < 4; i++) expect((await at(b, WRONG)).status).toBe(401);
    expect((await at(a, AUTH)).status).toBe(429);
    expect((await at(b, AUTH)).status).toBe(429);
    const other = uniqueIp();
    expect((await request(b.app).get('/admin').set('X-Forwarded-For', other).set('Authorization', AUTH)).status).toBe(200);
  });
});
