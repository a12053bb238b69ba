import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { createTestApp, csrfFrom, type TestApp } from '../../support/app.js';
import { dialects } from '../../support/db.js';
import { buildInbox, buildMovie, buildTicket } from '../../support/builders.js';
import { uniqueIp } from '../security/helpers.js';
import { ADMIN_ENV, AUTH, operator } from './helpers.js';

const PAGES = [
  '/admin', '/admin/tickets', '/admin/tickets/totals', '/admin/tickets/1', '/admin/payments.csv', '/admin/callbacks',
  '/admin/callbacks/1', '/admin/refunds', '/admin/movies', '/admin/movies/new', '/admin/movies/1/edit',
];
const ACTIONS = ['/admin/refunds/1', '/admin/movies', '/admin/movies/1', '/admin/callbacks/1/assign'];

describe.each(dialects)('admin access on %s', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect, ADMIN_ENV);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('when a page is asked for without credentials or with wrong ones, then 401 with a Basic challenge and no data', async () => {
    const wrong = `Basic ${Buffer.from('ops:guess').toString('base64')}`;
    for (const url of PAGES) {
      const res = await request(t.app).get(url);
      expect(res.status, url).toBe(401);
      expect(res.headers['www-authenticate'], url).toMatch(/^Basic realm="Tikiti admin"/);
      expect(res.text, url).toBe('Authentication required.');
      // From addresses of their own: the failures limit has tests of its own (security/login-limits.test.ts).
      const bad = await request(t.app).get(url).set('Authorization', wrong).set('X-Forwarded-For', uniqueIp());
      expect(bad.status, url).toBe(401);
    }
    // With a valid CSRF token from a public page, the action still needs the operator's credentials.
    const visitor = request.agent(t.app);
    const _csrf = await csrfFrom(visitor, `/movies/${await buildMovie(t.database.db)}`);
    for (const url of ACTIONS) {
      const res = await visitor.post(url).type('form').send({ _csrf, title: 'x' });
      expect(res.status, url).toBe(401);
      expect(res.headers['www-authenticate'], url).toMatch(/^Basic /);
    }
  });

  it('when an action is posted without its CSRF token, then 403 and nothing changes', async () => {
    const movie = await buildMovie(t.database.db, { title: 'CSRF Movie', maximumTickets: 50 });
    const tk = await buildTicket(t.database.db, { movieId: movie, paymentStatus: 'Paid', needsRefund: 1, holdsTickets: 0 });
    const cb = await buildInbox(t.database.db, { outcome: 'unmatched' });
    const agent = operator(t.app);
    await agent.get('/admin/refunds').expect(200); // cookies set, token not sent
    const attempts: Array<[string, Record<string, string>]> = [
      [`/admin/refunds/${tk.ticketId}`, { note: 'x' }],
      [`/admin/movies/${movie}`, { title: 'Renamed', showTime: '2031-01-01T20:00', price: '20', maximumTickets: '60' }],
      ['/admin/movies', { title: 'Forged', showTime: '2031-01-01T20:00', price: '20', maximumTickets: '60' }],
      [`/admin/callbacks/${cb}/assign`, { ticket: String(tk.ticketId) }],
    ];
    for (const [url, body] of attempts) {
      const res = await agent.post(url).type('form').send(body);
      expect(res.status, url).toBe(403);
      expect(res.text, url).toContain('This form has expired');
      const forged = await agent.post(url).type('form').send({ ...body, _csrf: 'forged-token' });
      expect(forged.status, url).toBe(403);
    }
    const ticket = await t.database.db.selectFrom('ticket').select('refundedAt').where('ticketId', '=', tk.ticketId).executeTakeFirstOrThrow();
    expect(ticket.refundedAt).toBeNull();
    const m = await t.database.db.selectFrom('movie').select(['title', 'maximumTickets']).where('movieId', '=', movie).executeTakeFirstOrThrow();
    expect(m).toEqual({ title: 'CSRF Movie', maximumTickets: 50 });
    expect(await t.database.db.selectFrom('movie').select('movieId').where('title', '=', 'Forged').execute()).toEqual([]);
    const inbox = await t.database.db.selectFrom('callbackinbox').select('outcome').where('callbackId', '=', cb).executeTakeFirstOrThrow();
    expect(inbox.outcome).toBe('unmatched');
    expect(await t.database.db.selectFrom('auditlog').select('auditId').where('ticketId', '=', tk.ticketId).execute()).toEqual([]);
  });

  it('when a signed-in operator opens any page, then it is not cached, not indexed, and loads only our own assets', async () => {
    for (const url of ['/admin', '/admin/tickets', '/admin/callbacks', '/admin/refunds', '/admin/movies', '/admin/movies/new']) {
      const res = await request(t.app).get(url).set('Authorization', AUTH).expect(200);
      expect(res.headers['cache-control'], url).toBe('no-store');
      expect(res.headers['x-robots-tag'], url).toMatch(/noindex/);
      expect(res.headers['content-security-policy'], url).toMatch(/script-src 'self'/);
      expect(res.text, url).not.toMatch(/<script>|<style|style="| on[a-z]+="/);
      const external = [...res.text.matchAll(/(?:src|href)="(https?:)?\/\/[^"]*"/g)].map((m) => m[0]);
      expect(external, url).toEqual([]);
      expect(res.text, url).toContain('Signed in as <strong>ops</strong>');
    }
  });
});

describe('admin switched off', () => {
  it('when ADMIN_USER and ADMIN_PASSWORD are unset, then every admin page and action is 404, even with credentials', async () => {
    const t = await createTestApp('sqlite');
    try {
      for (const url of PAGES) {
        const res = await request(t.app).get(url).set('Authorization', AUTH);
        expect(res.status, url).toBe(404);
        expect(res.headers['www-authenticate'], url).toBeUndefined();
      }
      const visitor = request.agent(t.app);
      const _csrf = await csrfFrom(visitor, `/movies/${await buildMovie(t.database.db)}`);
      for (const url of ACTIONS) {
        expect((await visitor.post(url).set('Authorization', AUTH).type('form').send({ _csrf })).status, url).toBe(404);
      }
    } finally {
      await t.close();
    }
  });
});
