import express from 'express';
import request from 'supertest';
import { beforeEach, describe, expect, it, vi } from 'vitest';

// Pass-through spy on the one constant-time primitive: the tests below fail if a comparison stops going through it.
const spy = vi.hoisted(() => ({ timingSafeEqual: undefined as unknown as ReturnType<typeof vi.fn> }));
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  spy.timingSafeEqual = vi.fn(actual.timingSafeEqual);
  return { ...actual, default: { ...actual, timingSafeEqual: spy.timingSafeEqual }, timingSafeEqual: spy.timingSafeEqual };
});

const { basicAuth, safeEqual } = await import('../../../src/core/http/basic-auth.js');
const { createLoginLimiter } = await import('../../../src/core/http/login-limiter.js');
const { silentLogger } = await import('../../../src/core/logger.js');

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`, 'utf8').toString('base64')}`;

function app(credentials?: { user: string; password: string }) {
  const a = express();
  // A limit these tests never reach: the sign-in limit has tests of its own.
  const limiter = createLoginLimiter({ logger: silentLogger, now: () => new Date(), limit: 1000 });
  a.use('/admin', basicAuth({ accounts: credentials ? [credentials] : [], realm: 'Tikiti admin', limiter }), (_req, res) => {
    res.send(`hello ${String(res.locals.adminUser)}`);
  });
  a.use((err: { status?: number }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(err.status ?? 500).send('error');
  });
  return a;
}

describe('constant-time secret comparison', () => {
  beforeEach(() => {
    spy.timingSafeEqual.mockClear();
  });

  it('when two secrets are compared, then the answer is right for equal, different, prefix, longer, empty and unicode values', () => {
    expect(safeEqual('s3cret-value', 's3cret-value')).toBe(true);
    expect(safeEqual('s3cret-value', 's3cret-valuf')).toBe(false);
    expect(safeEqual('s3cret', 's3cret-value')).toBe(false);
    expect(safeEqual('s3cret-value-and-more', 's3cret-value')).toBe(false);
    expect(safeEqual('', 's3cret')).toBe(false);
    expect(safeEqual('', '')).toBe(true);
    expect(safeEqual('päss•wörd', 'päss•wörd')).toBe(true);
    expect(safeEqual('päss•wörd', 'pass•word')).toBe(false);
  });

  it('when secrets of different lengths are compared, then the comparison still goes through timingSafeEqual on equal-length digests', () => {
    safeEqual('a', 'a much longer secret than the first one');
    expect(spy.timingSafeEqual).toHaveBeenCalledTimes(1);
    const [x, y] = spy.timingSafeEqual.mock.calls[0]! as [Buffer, Buffer];
    expect(x.length).toBe(y.length);
    expect(x.length).toBe(32);
  });

  it('when a Basic login has the wrong user, then the password is compared all the same (timing does not say which part was wrong)', async () => {
    const a = app({ user: 'ops', password: 'correct horse' });
    await request(a).get('/admin').set('Authorization', basic('nobody', 'correct horse')).expect(401);
    expect(spy.timingSafeEqual).toHaveBeenCalledTimes(2);
    spy.timingSafeEqual.mockClear();
    await request(a).get('/admin').set('Authorization', basic('ops', 'wrong')).expect(401);
    expect(spy.timingSafeEqual).toHaveBeenCalledTimes(2);
    spy.timingSafeEqual.mockClear();
    await request(a).get('/admin').set('Authorization', basic('ops', 'correct horse')).expect(200, 'hello ops');
    expect(spy.timingSafeEqual).toHaveBeenCalledTimes(2);
  });

  it('when the password holds a colon or unicode, then it still signs in; near misses do not', async () => {
    const a = app({ user: 'ops', password: 'pa:ss wörd•42' });
    await request(a).get('/admin').set('Authorization', basic('ops', 'pa:ss wörd•42')).expect(200);
    for (const header of [basic('ops', 'pa:ss wörd•4'), basic('ops', 'pa:ss wörd•421'), basic('ops', 'pa'), basic('Ops', 'pa:ss wörd•42'),
      `Bearer ${Buffer.from('ops:pa:ss wörd•42').toString('base64')}`, 'Basic', 'Basic !!!!', 'Basic b3Bz', '']) {
      const res = await request(a).get('/admin').set('Authorization', header);
      expect(res.status, header).toBe(401);
      expect(res.headers['www-authenticate'], header).toMatch(/^Basic realm="Tikiti admin"/);
    }
  });

  it('when no credentials are configured, then the area answers 404 without a login prompt, whatever is sent', async () => {
    const a = app(undefined);
    for (const header of ['', basic('ops', 'anything'), basic('', '')]) {
      const res = await request(a).get('/admin').set('Authorization', header);
      expect(res.status).toBe(404);
      expect(res.headers['www-authenticate']).toBeUndefined();
    }
  });
});
