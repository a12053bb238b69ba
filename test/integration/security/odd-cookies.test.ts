import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../../support/db.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import { buildMovie, buildTicket } from '../../support/builders.js';
import { ADMIN_ENV, AUTH, tokenIn } from '../admin/helpers.js';
import { refFrom, ticketByRef, uniquePhone } from '../bookings/helpers.js';

// cookie-parser turns a cookie written `j:…` into the JSON it spells: an object or an array where every reader of
// cookies expects text. Such a cookie is never set by Tikiti, so it is treated as absent, on every kind of page.

/** Hand-made cookies: JSON objects and arrays in our own cookies' names, URL-encoded too, and in a stranger's. */
const ODD = [
  'tikiti.sid=j:{"a":1}',
  'tikiti.csrf=j:[1,2]',
  'tikiti.sid=j:[1]; tikiti.csrf=j:{"x":{"y":1}}',
  'tikiti.csrf=j:"a string in JSON"',
  `tikiti.csrf=${encodeURIComponent('j:["encoded"]')}`,
  'tikiti.sid=j:null; tikiti.csrf=j:123',
  'theme=j:{"dark":true}; tikiti.sid=j:{}',
];

const FORBIDDEN = 'This form has expired or was not sent from our site.';

describe.each(dialects)('cookies in JSON form on %s', (dialect) => {
  let s: TestServer;
  let movieId: number;
  let ticket: { ref: string; ticketId: number };
  beforeAll(async () => {
    s = await startTestServer(dialect, { ...ADMIN_ENV, RATE_LIMIT_BOOKINGS_PER_IP: '1000', RATE_LIMIT_PUSHES_PER_PHONE: '1000' });
    movieId = await buildMovie(s.database.db);
    ticket = await buildTicket(s.database.db, { movieId, paymentStatus: 'Failed', holdsTickets: 0 });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('when each kind of page is asked for with them, then it answers as without them (never 500) and hands out a fresh browser id', async () => {
    const pages: Array<[string, boolean, number]> = [
      ['/', false, 200], [`/movies/${movieId}`, false, 200], [`/tickets/${ticket.ref}`, false, 200], [`/tickets/${ticket.ref}/status`, false, 200],
      ['/api/movies', false, 200], ['/admin', true, 200], ['/admin/tickets', true, 200], [`/admin/tickets/${ticket.ticketId}`, true, 200],
      ['/admin/movies/new', true, 200], ['/no-such-page', false, 404],
    ];
    for (const cookie of ODD) {
      for (const [url, admin, status] of pages) {
        let r = request(s.app).get(url).set('Cookie', cookie);
        if (admin) r = r.set('Authorization', AUTH);
        const res = await r;
        expect(res.status, `${url} with ${cookie}`).toBe(status);
        if (status !== 200 || url.endsWith('/status') || url.startsWith('/api/')) continue;
        // A page with a form gets a new, plain browser id: the odd one was not taken for it.
        const set = (res.headers['set-cookie'] as unknown as string[] | undefined) ?? [];
        if (cookie.includes('tikiti.sid=')) expect(set.some((c) => /^tikiti\.sid=[A-Za-z0-9_-]{20,}/.test(c)), `${url} with ${cookie}`).toBe(true);
      }
    }
  });

  it('when a form is posted with them in place of the real cookies, then 403 asking to reload (the cookie is absent), and nothing is booked', async () => {
    const page = await request(s.app).get(`/movies/${movieId}`);
    const token = tokenIn(page.text);
    const phone = uniquePhone();
    for (const cookie of ODD) {
      const res = await request(s.app).post('/bookings').set('Cookie', cookie).type('form')
        .send({ _csrf: token, movieId: String(movieId), customerName: 'Odd Cookie', phoneNumber: phone.typed, quantity: '1' });
      expect(res.status, cookie).toBe(403);
      expect(res.text, cookie).toContain(FORBIDDEN);
      const retry = await request(s.app).post(`/tickets/${ticket.ref}/retry`).set('Cookie', cookie).type('form').send({ _csrf: token });
      expect(retry.status, cookie).toBe(403);
      const admin = await request(s.app).post('/admin/movies').set('Authorization', AUTH).set('Cookie', cookie).type('form')
        .send({ _csrf: token, title: 'Odd', showTime: '2031-01-01T20:00', price: '20', maximumTickets: '10' });
      expect(admin.status, cookie).toBe(403);
    }
    // The real CSRF cookie's value, spelled as JSON: cookie-parser would hand over the very value, but a `j:` cookie
    // is not one Tikiti set, so it is absent too and the form is refused.
    const agent = request.agent(s.app);
    const own = await agent.get(`/movies/${movieId}`);
    const real = ((own.headers['set-cookie'] as unknown as string[]) ?? []).map((c) => c.split(';')[0]!);
    const sid = real.find((c) => c.startsWith('tikiti.sid='))!;
    const csrf = real.find((c) => c.startsWith('tikiti.csrf='))!.slice('tikiti.csrf='.length);
    const spelled = await request(s.app).post('/bookings').set('Cookie', `${sid}; tikiti.csrf=j:${JSON.stringify(decodeURIComponent(csrf))}`).type('form')
      .send({ _csrf: tokenIn(own.text), movieId: String(movieId), customerName: 'Odd Cookie', phoneNumber: phone.typed, quantity: '1' });
    expect(spelled.status).toBe(403);
    const n = await s.database.db.selectFrom('ticket').select('ticketId').where('customerName', '=', 'Odd Cookie').execute();
    expect(n).toEqual([]);
  });

  it('when such a cookie rides along with the real ones, then the booking goes through (303) and the ticket page opens', async () => {
    const agent = request.agent(s.app);
    const page = await agent.get(`/movies/${movieId}`).set('Cookie', 'theme=j:{"dark":true}');
    const real = ((page.headers['set-cookie'] as unknown as string[]) ?? []).map((c) => c.split(';')[0]!);
    const cookie = [...real, 'theme=j:{"dark":true}', 'prefs=j:[1,2,3]'].join('; ');
    const res = await request(s.app).post('/bookings').set('Cookie', cookie).type('form')
      .send({ _csrf: tokenIn(page.text), movieId: String(movieId), customerName: 'Odd Cookie Alongside', phoneNumber: '0708374149', quantity: '1' });
    expect(res.status).toBe(303);
    const ref = refFrom(res.headers.location);
    expect((await ticketByRef(s.database.db, ref)).customerName).toBe('Odd Cookie Alongside');
    expect((await request(s.app).get(`/tickets/${ref}`).set('Cookie', cookie)).status).toBe(200);
  });
});
