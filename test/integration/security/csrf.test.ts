import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csrfFrom } from '../../support/app.js';
import { dialects } from '../../support/db.js';
import { buildInbox, buildMovie, buildTicket } from '../../support/builders.js';
import { MANUAL_SIMULATOR, SUBSCRIBER_BUSY, answerNextPush, promptsTo } from '../../support/daraja-edge.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import { countRows, refFrom, ticketByRef, uniquePhone } from '../bookings/helpers.js';
import { ADMIN_ENV, AUTH, tokenIn } from '../admin/helpers.js';
import { insertPendingTicket, successCallback, ticketRow } from '../payments/helpers.js';
import { postForms } from './helpers.js';

const TOKEN = 'csrfsuite_0123456789abcdef0123456789abcdef';
const FRIENDLY = 'This form has expired or was not sent from our site.';

/** A 403 for a forged form: an HTML page a customer can read, no stack, no internals. */
function expectFriendly403(res: { status: number; text: string; headers: Record<string, string> }) {
  expect(res.status).toBe(403);
  expect(res.headers['content-type']).toMatch(/^text\/html/);
  expect(res.text).toContain(FRIENDLY);
  expect(res.text).toContain('href="/"');
  expect(res.text).not.toMatch(/at \S+ \(|node_modules|csrf-csrf|ForbiddenError|invalid csrf token|Error:/i);
}

function bookingForm(movieId: number, extra: Record<string, string> = {}) {
  return { movieId: String(movieId), customerName: 'Achieng Otieno', phoneNumber: uniquePhone().typed, quantity: '1', ...extra };
}

describe.each(dialects)('CSRF protection on %s', (dialect) => {
  let t: TestServer;
  beforeAll(async () => {
    // Accepted bookings push to the built-in simulator over HTTP (manual mode: left Pending).
    t = await startTestServer(dialect, { ...MANUAL_SIMULATOR, ...ADMIN_ENV, MPESA_CALLBACK_TOKEN: TOKEN, RATE_LIMIT_BOOKINGS_PER_IP: '1000' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('when the booking form is posted with the token of its own page, then it is accepted (303): booked and pushed', async () => {
    const movieId = await buildMovie(t.database.db);
    const agent = request.agent(t.app);
    const _csrf = await csrfFrom(agent, `/movies/${movieId}`);
    const form = bookingForm(movieId);
    const res = await agent.post('/bookings').type('form').send({ _csrf, ...form });
    expect(res.status).toBe(303);
    const ticket = await ticketByRef(t.database.db, refFrom(res.headers.location));
    expect(ticket).toMatchObject({ movieId, customerName: form.customerName, paymentStatus: 'Pending', holdsTickets: 1 });
    const pushes = await t.database.db.selectFrom('pushrequest').selectAll().where('ticketId', '=', ticket.ticketId).execute();
    expect(pushes).toMatchObject([{ status: 'Accepted', phoneNumber: ticket.phoneNumber }]);
    expect(promptsTo(t, ticket.phoneNumber)).toMatchObject([{ checkoutRequestId: pushes[0]!.checkoutRequestId }]);
  });

  it('when the booking form is posted without a token, with a wrong one, or with an empty cookie jar, then 403 with a friendly page and nothing is booked or pushed', async () => {
    const movieId = await buildMovie(t.database.db);
    const pushesBefore = await countRows(t.database.db, 'pushrequest');
    const promptsBefore = promptsTo(t).length;
    const agent = request.agent(t.app);
    const real = await csrfFrom(agent, `/movies/${movieId}`);
    const attempts = [
      agent.post('/bookings').type('form').send(bookingForm(movieId)),
      agent.post('/bookings').type('form').send({ _csrf: 'x'.repeat(real.length), ...bookingForm(movieId) }),
      agent.post('/bookings').type('form').send({ _csrf: `${real.slice(0, -2)}AA`, ...bookingForm(movieId) }),
      // A cross-site form: no cookies at all, a token copied from somewhere.
      request(t.app).post('/bookings').type('form').send({ _csrf: real, ...bookingForm(movieId) }),
      // JSON instead of a form changes nothing.
      agent.post('/bookings').type('json').send(bookingForm(movieId)),
    ];
    for (const res of await Promise.all(attempts)) expectFriendly403(res);
    expect(await countRows(t.database.db, 'ticket', movieId)).toBe(0);
    expect(await countRows(t.database.db, 'pushrequest')).toBe(pushesBefore);
    expect(promptsTo(t)).toHaveLength(promptsBefore);
  });

  it("when a token is posted with another browser's cookies, then 403: a token works only with the cookies it was issued with", async () => {
    const movieId = await buildMovie(t.database.db);
    const alice = request.agent(t.app);
    const mallory = request.agent(t.app);
    const aliceToken = await csrfFrom(alice, `/movies/${movieId}`);
    await csrfFrom(mallory, `/movies/${movieId}`); // Mallory has cookies of her own
    expectFriendly403(await mallory.post('/bookings').type('form').send({ _csrf: aliceToken, ...bookingForm(movieId) }));

    // Mallory also plants Alice's CSRF cookie next to her own browser id: still refused, the token is tied to the id.
    const page = await request(t.app).get(`/movies/${movieId}`);
    const cookies = (page.headers['set-cookie'] as unknown as string[]).map((c) => c.split(';')[0]!);
    const csrfCookie = cookies.find((c) => c.startsWith('tikiti.csrf='))!;
    const token = tokenIn(page.text);
    const res = await request(t.app)
      .post('/bookings')
      .set('Cookie', [csrfCookie, `tikiti.sid=${'A'.repeat(24)}`].join('; '))
      .type('form')
      .send({ _csrf: token, ...bookingForm(movieId) });
    expectFriendly403(res);
    // With the cookies it was issued with, the same token is accepted.
    const ok = await request(t.app).post('/bookings').set('Cookie', cookies.join('; ')).type('form').send({ _csrf: token, ...bookingForm(movieId) });
    expect(ok.status).toBe(303);
    expect(await countRows(t.database.db, 'ticket', movieId)).toBe(1);
  });

  it('when the retry form of a Failed ticket is posted without a token, then 403 and no new push', async () => {
    const movieId = await buildMovie(t.database.db);
    const agent = request.agent(t.app);
    const _csrf = await csrfFrom(agent, `/movies/${movieId}`);
    // Daraja refuses the booking's push (the phone was busy), so the ticket is Failed with a retry form.
    answerNextPush(t, 500, SUBSCRIBER_BUSY);
    const ref = refFrom((await agent.post('/bookings').type('form').send({ _csrf, ...bookingForm(movieId) })).headers.location);
    const page = await agent.get(`/tickets/${ref}`);
    expect(postForms(page.text)).toEqual([{ action: `/tickets/${ref}/retry`, hasToken: true }]);
    const { ticketId, phoneNumber } = await ticketByRef(t.database.db, ref);
    const pushesOf = async () => (await t.database.db.selectFrom('pushrequest').select('status').where('ticketId', '=', ticketId).execute()).map((p) => p.status);
    expect(await pushesOf()).toEqual(['Refused']);
    expectFriendly403(await agent.post(`/tickets/${ref}/retry`).type('form').send({}));
    expectFriendly403(await request(t.app).post(`/tickets/${ref}/retry`).type('form').send({ _csrf }));
    expect(await pushesOf()).toEqual(['Refused']);
    expect(promptsTo(t, phoneNumber)).toEqual([]);
    expect(await ticketByRef(t.database.db, ref)).toMatchObject({ paymentStatus: 'Failed' });
    // The page's own token works.
    expect((await agent.post(`/tickets/${ref}/retry`).type('form').send({ _csrf: tokenIn(page.text) })).status).toBe(303);
    expect(await pushesOf()).toEqual(['Refused', 'Accepted']);
    expect(promptsTo(t, phoneNumber)).toHaveLength(1);
  });

  it('when an admin form is posted with valid Basic credentials but no token, then 403 and nothing changes', async () => {
    const movieId = await buildMovie(t.database.db, { title: 'Unchanged title' });
    const tk = await buildTicket(t.database.db, { movieId, paymentStatus: 'Paid', needsRefund: 1, holdsTickets: 0 });
    const cb = await buildInbox(t.database.db, { outcome: 'unmatched' });
    const admin = request.agent(t.app);
    const form = await admin.get('/admin/movies/new').set('Authorization', AUTH);
    expect(form.status).toBe(200);
    const posts: Array<[string, Record<string, string>]> = [
      ['/admin/movies', { title: 'Forged movie', showTime: '2031-01-01T20:00', price: '20', maximumTickets: '10' }],
      [`/admin/movies/${movieId}`, { title: 'Forged title', showTime: '2031-01-01T20:00', price: '20', maximumTickets: '10' }],
      [`/admin/refunds/${tk.ticketId}`, { note: 'forged' }],
      [`/admin/callbacks/${cb}/assign`, { ticket: String(tk.ticketId) }],
    ];
    for (const [url, body] of posts) expectFriendly403(await admin.post(url).set('Authorization', AUTH).type('form').send(body));
    const m = await t.database.db.selectFrom('movie').select('title').where('movieId', '=', movieId).executeTakeFirstOrThrow();
    expect(m.title).toBe('Unchanged title');
    expect(await t.database.db.selectFrom('movie').select('movieId').where('title', '=', 'Forged movie').execute()).toEqual([]);
    const ticket = await t.database.db.selectFrom('ticket').select('refundedAt').where('ticketId', '=', tk.ticketId).executeTakeFirstOrThrow();
    expect(ticket.refundedAt).toBeNull();
    // The token on the admin page itself is accepted.
    const created = await admin
      .post('/admin/movies')
      .set('Authorization', AUTH)
      .type('form')
      .send({ _csrf: tokenIn(form.text), title: 'Real movie', showTime: '2031-01-01T20:00', price: '20', maximumTickets: '10' });
    expect(created.status).toBe(303);
  });

  it('when every page with a form is rendered, then each POST form carries a CSRF token', async () => {
    const movieId = await buildMovie(t.database.db);
    const tk = await buildTicket(t.database.db, { movieId, paymentStatus: 'Failed' });
    const refund = await buildTicket(t.database.db, { movieId, paymentStatus: 'Paid', needsRefund: 1, holdsTickets: 0 });
    const cb = await buildInbox(t.database.db, { outcome: 'unmatched' });
    const pages: Array<[string, boolean]> = [
      [`/movies/${movieId}`, false], [`/tickets/${tk.ref}`, false], ['/admin/movies/new', true], [`/admin/movies/${movieId}/edit`, true],
      ['/admin/refunds', true], [`/admin/callbacks/${cb}`, true], [`/admin/tickets/${refund.ticketId}`, true], ['/admin', true],
      ['/admin/movies', true], ['/admin/tickets', true], ['/admin/callbacks', true],
    ];
    let seen = 0;
    for (const [url, admin] of pages) {
      let r = request(t.app).get(url);
      if (admin) r = r.set('Authorization', AUTH);
      const res = await r;
      expect(res.status, url).toBe(200);
      const forms = postForms(res.text);
      seen += forms.length;
      for (const f of forms) expect(f.hasToken, `${url} → ${f.action}`).toBe(true);
    }
    expect(seen).toBeGreaterThanOrEqual(6);
  });

  it('when Safaricom posts the callback with no CSRF token or cookie, then it is processed: the callback is exempt and guarded by its path token', async () => {
    const tk = await insertPendingTicket(t.database.db);
    const body = successCallback({ checkoutRequestId: tk.checkoutRequestId!, amount: tk.totalAmount, phone: tk.phone });
    const res = await request(t.app).post(`/api/payments/callback/${TOKEN}`).set('Content-Type', 'application/json').send(JSON.stringify(body));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ResultCode: 0, ResultDesc: 'Success' });
    expect(await ticketRow(t.database.db, tk.ticketId)).toMatchObject({ paymentStatus: 'Paid' });
  });

  it('when the JSON admin API is called with Basic auth and no CSRF token, then 201; a cross-site form to it (not JSON) is refused and creates nothing', async () => {
    const movie = { title: `API movie ${Date.now()}`, showTime: '2031-02-01T18:00:00+03:00', price: 300, maximumTickets: 40 };
    const ok = await request(t.app).post('/admin/api/movies').set('Authorization', AUTH).send(movie);
    expect(ok.status).toBe(201);
    expect(ok.body.movieId).toBeGreaterThan(0);

    // A browser that remembers the operator's Basic credentials can be made to post a form (urlencoded or
    // text/plain) cross-site, but never application/json without a CORS preflight, which we never allow.
    const title = `Forged API movie ${Date.now()}`;
    for (const type of ['form', 'text']) {
      const res = await request(t.app)
        .post('/admin/api/movies')
        .set('Authorization', AUTH)
        .type(type)
        .send(type === 'form' ? { ...movie, title } : JSON.stringify({ ...movie, title }));
      expect(res.status, type).toBe(415);
      expect(res.headers['access-control-allow-origin'], type).toBeUndefined();
    }
    expect(await t.database.db.selectFrom('movie').select('movieId').where('title', '=', title).execute()).toEqual([]);
    const preflight = await request(t.app).options('/admin/api/movies').set('Origin', 'https://evil.example').set('Access-Control-Request-Method', 'POST');
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
  });
});
