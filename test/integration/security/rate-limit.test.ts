import { createClient } from 'redis';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { csrfFrom, type TestApp } from '../../support/app.js';
import { dialects } from '../../support/db.js';
import { buildMovie } from '../../support/builders.js';
import { MANUAL_SIMULATOR } from '../../support/daraja-edge.js';
import { startTestServer } from '../../support/server.js';
import { countRows, uniquePhone } from '../bookings/helpers.js';
import { uniqueIp } from './helpers.js';
import { TEST_REDIS_URL, redisAnswers } from '../../support/redis.js';

const REDIS_URL = TEST_REDIS_URL;

const hasRedis = await redisAnswers(REDIS_URL);

/** A browser (cookies + the token of its form) behind an optional X-Forwarded-For, booking one movie. */
async function browser(t: TestApp, movieId: number) {
  const agent = request.agent(t.app);
  const _csrf = await csrfFrom(agent, `/movies/${movieId}`);
  return (opts: { xff?: string; phone?: string } = {}) => {
    let r = agent.post('/bookings');
    if (opts.xff) r = r.set('X-Forwarded-For', opts.xff);
    return r.type('form').send({
      _csrf, movieId: String(movieId), customerName: 'Rate Limit', phoneNumber: opts.phone ?? uniquePhone().typed, quantity: '1',
    });
  };
}

describe.each(dialects)('abuse limits on %s', (dialect) => {
  const apps: TestApp[] = [];
  // Each app pushes to its built-in simulator over HTTP (accepted, left Pending).
  const app = async (env: Record<string, string>) => {
    const t = await startTestServer(dialect, { ...MANUAL_SIMULATOR, RATE_LIMIT_WINDOW_SECONDS: '600', ...env });
    apps.push(t);
    return t;
  };
  afterEach(async () => {
    for (const t of apps.splice(0)) await t.close();
  });

  it('when one client makes more than RATE_LIMIT_BOOKINGS_PER_IP bookings, then 429 with a clear page and Retry-After, and nothing is booked', async () => {
    const t = await app({ RATE_LIMIT_BOOKINGS_PER_IP: '2', RATE_LIMIT_PUSHES_PER_PHONE: '100' });
    const movieId = await buildMovie(t.database.db);
    const book = await browser(t, movieId);
    expect((await book()).status).toBe(303);
    expect((await book()).status).toBe(303);
    const res = await book();
    expect(res.status).toBe(429);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).toContain('Too many bookings have come from your connection');
    expect(res.text).toContain('Nothing was booked or charged.');
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect(await countRows(t.database.db, 'ticket', movieId)).toBe(2);
  });

  it('when one phone is sent more than RATE_LIMIT_PUSHES_PER_PHONE prompts, even from many addresses, then 429 and no further push (no STK push bombing)', async () => {
    const t = await app({ RATE_LIMIT_BOOKINGS_PER_IP: '100', RATE_LIMIT_PUSHES_PER_PHONE: '2' });
    const movieId = await buildMovie(t.database.db);
    const book = await browser(t, movieId);
    const victim = uniquePhone();
    expect((await book({ phone: victim.typed, xff: uniqueIp() })).status).toBe(303);
    expect((await book({ phone: `+254${victim.stored.slice(3)}`, xff: uniqueIp() })).status).toBe(303);
    const res = await book({ phone: victim.stored, xff: uniqueIp() });
    expect(res.status).toBe(429);
    expect(res.text).toContain('Too many M-Pesa payment prompts have been sent to this phone');
    const pushes = await t.database.db.selectFrom('pushrequest').select('pushRequestId').where('phoneNumber', '=', victim.stored).execute();
    expect(pushes).toHaveLength(2);
  });

  it('when TRUST_PROXY=loopback and a local proxy (ngrok) forwards two customers, then each is counted by its own X-Forwarded-For address', async () => {
    const t = await app({ TRUST_PROXY: 'loopback', RATE_LIMIT_BOOKINGS_PER_IP: '1', RATE_LIMIT_PUSHES_PER_PHONE: '100' });
    const movieId = await buildMovie(t.database.db);
    const book = await browser(t, movieId);
    const alice = uniqueIp();
    const bob = uniqueIp();
    expect((await book({ xff: alice })).status).toBe(303);
    expect((await book({ xff: alice })).status).toBe(429);
    expect((await book({ xff: bob })).status).toBe(303);
  });

  it('when TRUST_PROXY=loopback and a client puts forged addresses in front of the ones the proxy appended, then it is still counted by its real address', async () => {
    const t = await app({ TRUST_PROXY: 'loopback', RATE_LIMIT_BOOKINGS_PER_IP: '1', RATE_LIMIT_PUSHES_PER_PHONE: '100' });
    const movieId = await buildMovie(t.database.db);
    const book = await browser(t, movieId);
    const real = uniqueIp();
    // ngrok appends the address it saw to whatever X-Forwarded-For the client sent.
    expect((await book({ xff: `${uniqueIp()}, ${real}` })).status).toBe(303);
    expect((await book({ xff: `${uniqueIp()}, ${real}` })).status).toBe(429);
    expect((await book({ xff: `${uniqueIp()}, ${uniqueIp()}, ${real}` })).status).toBe(429);
  });

  it('when TRUST_PROXY=false, then X-Forwarded-For is ignored: a client cannot reset its count by forging addresses', async () => {
    const t = await app({ TRUST_PROXY: 'false', RATE_LIMIT_BOOKINGS_PER_IP: '2', RATE_LIMIT_PUSHES_PER_PHONE: '100' });
    const movieId = await buildMovie(t.database.db);
    const book = await browser(t, movieId);
    expect((await book({ xff: uniqueIp() })).status).toBe(303);
    expect((await book({ xff: uniqueIp() })).status).toBe(303);
    expect((await book({ xff: uniqueIp() })).status).toBe(429);
    expect((await book()).status).toBe(429);
  });

  describe.skipIf(!hasRedis)('with REDIS_URL', () => {
    const used: string[] = [];
    afterEach(async () => {
      const c = createClient({ url: REDIS_URL });
      await c.connect();
      for (const part of used.splice(0)) {
        for await (const keys of c.scanIterator({ MATCH: `*${part}*`, COUNT: 100 })) if (keys.length) await c.del(keys);
      }
      await c.close();
    });

    it('when two app instances share REDIS_URL, then bookings per address and pushes per phone are counted across both', async () => {
      const env = { REDIS_URL, TRUST_PROXY: 'loopback', RATE_LIMIT_BOOKINGS_PER_IP: '2', RATE_LIMIT_PUSHES_PER_PHONE: '2' };
      const one = await app(env);
      const two = await app(env);
      expect(one.services.rateLimits.store).toBe('redis');
      const bookOne = await browser(one, await buildMovie(one.database.db));
      const bookTwo = await browser(two, await buildMovie(two.database.db));

      const ip = uniqueIp();
      used.push(ip);
      expect((await bookOne({ xff: ip })).status).toBe(303);
      expect((await bookTwo({ xff: ip })).status).toBe(303);
      expect((await bookOne({ xff: ip })).status).toBe(429);
      expect((await bookTwo({ xff: ip })).status).toBe(429);

      const phone = uniquePhone();
      used.push(phone.stored);
      expect((await bookOne({ xff: uniqueIp(), phone: phone.typed })).status).toBe(303);
      expect((await bookTwo({ xff: uniqueIp(), phone: phone.typed })).status).toBe(303);
      const third = await bookOne({ xff: uniqueIp(), phone: phone.typed });
      expect(third.status).toBe(429);
      expect(third.text).toContain('Too many M-Pesa payment prompts');
    });
  });
});
