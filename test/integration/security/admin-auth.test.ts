import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../support/app.js';
import { dialects } from '../../support/db.js';
import { ADMIN_ENV, ADMIN_PASSWORD, ADMIN_USER, AUTH } from '../admin/helpers.js';
import { uniqueIp } from './helpers.js';

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
const URLS = ['/admin', '/admin/', '/admin/tickets', '/admin/callbacks', '/admin/movies/new', '/admin/payments.csv', '/ADMIN', '/admin/no-such-page'];

describe.each(dialects)('admin sign-in on %s', (dialect) => {
  let off: TestApp;
  let on: TestApp;
  beforeAll(async () => {
    off = await createTestApp(dialect);
    on = await createTestApp(dialect, ADMIN_ENV);
  });
  afterAll(async () => {
    await off?.close();
    await on?.close();
  });

  it('when ADMIN_USER and ADMIN_PASSWORD are unset, then every admin URL is 404 with no login prompt, even with credentials', async () => {
    expect(off.config.admin).toBeUndefined();
    for (const url of URLS) {
      for (const auth of [undefined, AUTH, basic('', '')]) {
        let r = request(off.app).get(url);
        if (auth) r = r.set('Authorization', auth);
        const res = await r;
        expect(res.status, url).toBe(404);
        expect(res.headers['www-authenticate'], url).toBeUndefined();
      }
    }
    const api = await request(off.app).post('/admin/api/movies').set('Authorization', AUTH).send({ title: 'x' });
    expect(api.status).toBe(404);
  });

  it('when credentials are missing or wrong, then 401 with a Basic challenge and nothing of the page', async () => {
    const wrong = [undefined, basic(ADMIN_USER, 'guess'), basic('admin', ADMIN_PASSWORD), basic(ADMIN_USER, `${ADMIN_PASSWORD} `),
      basic(ADMIN_USER, ADMIN_PASSWORD.slice(0, -1)), basic(ADMIN_USER.toUpperCase(), ADMIN_PASSWORD), `Bearer ${ADMIN_PASSWORD}`, 'Basic', 'Basic ???'];
    for (const url of URLS) {
      for (const auth of wrong) {
        // Each guess from an address of its own: this is about the answer, not the limit on failures (login-limits.test.ts).
        let r = request(on.app).get(url).set('X-Forwarded-For', uniqueIp());
        if (auth) r = r.set('Authorization', auth);
        const res = await r;
        expect(res.status, `${url} ${auth}`).toBe(401);
        expect(res.headers['www-authenticate'], url).toBe('Basic realm="Tikiti admin", charset="UTF-8"');
        expect(res.text, url).not.toMatch(/<table|Revenue|Callback inbox|Signed in/);
      }
    }
    const api = await request(on.app).post('/admin/api/movies').send({ title: 'x', showTime: '2031-01-01T20:00:00+03:00', price: 10, maximumTickets: 5 });
    expect(api.status).toBe(401);
  });

  it('when the right credentials are sent, then the dashboard opens (and the realm is Tikiti admin)', async () => {
    const res = await request(on.app).get('/admin').set('Authorization', AUTH);
    expect(res.status).toBe(200);
    expect(res.text).toContain(`Signed in as <strong>${ADMIN_USER}</strong>`);
  });
});
