import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { csrfFrom } from '../../support/app.js';
import { dialects } from '../../support/db.js';
import { buildInbox, buildMovie, buildTicket } from '../../support/builders.js';
import { MANUAL_SIMULATOR } from '../../support/daraja-edge.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import { countRows, refFrom, ticketByRef, uniquePhone } from '../bookings/helpers.js';
import { ADMIN_ENV, AUTH } from '../admin/helpers.js';

/** No stack frame, SQL, driver name or internal path in what a client sees. */
function expectNoInternals(text: string, what: string) {
  expect(text, what).not.toMatch(/\n\s+at \S|node_modules|\/src\/|\.ts:\d+|SQLITE_|syntax error|kysely|better-sqlite3|mysql2|ZodError|TypeError|ReferenceError|PayloadTooLargeError|SyntaxError|URIError|Failed to decode|incorrect header check/i);
  // SQL keywords in capitals (a page may well say "select" in a <select>).
  expect(text, what).not.toMatch(/\bER_[A-Z_]+|SELECT |INSERT INTO|UPDATE `?\w+`? SET|DROP TABLE/);
}

const HOSTILE = `<script>alert("x")</script><img src=x onerror=alert(1)>"'&`;
const ESCAPED = '&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;&#34;&#39;&amp;';

describe.each(dialects)('bad input gets a clear 4xx on %s', (dialect) => {
  let t: TestServer;
  beforeAll(async () => {
    // Bookings that get through push to the built-in simulator over HTTP (accepted, left Pending).
    t = await startTestServer(dialect, { ...MANUAL_SIMULATOR, ...ADMIN_ENV, RATE_LIMIT_BOOKINGS_PER_IP: '100000', RATE_LIMIT_PUSHES_PER_PHONE: '100000' });
  });
  afterAll(async () => {
    await t?.close();
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  /** A browser with cookies and the token of a movie's form. */
  const browser = async (movieId: number) => {
    const agent = request.agent(t.app);
    const _csrf = await csrfFrom(agent, `/movies/${movieId}`);
    const form = (fields: Record<string, string | string[]>) =>
      agent.post('/bookings').type('form').send({ _csrf, movieId: String(movieId), customerName: 'Amina', phoneNumber: uniquePhone().typed, quantity: '1', ...fields });
    return { agent, _csrf, form };
  };

  it('when a form or JSON body is larger than the limit, then 413 with a plain message and nothing stored', async () => {
    const movieId = await buildMovie(t.database.db);
    const { agent, _csrf } = await browser(movieId);
    const big = await agent.post('/bookings').type('form').send({ _csrf, movieId: String(movieId), customerName: 'x'.repeat(20_000), phoneNumber: '0712345678', quantity: '1' });
    expect(big.status).toBe(413);
    expect(big.headers['content-type']).toMatch(/^text\/html/);
    expect(big.text).toContain('The request is too large.');
    expectNoInternals(big.text, 'form 413');

    const many = await agent.post('/bookings').type('form').send(Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`f${i}`, 'x'])));
    expect(many.status).toBe(413);
    expectNoInternals(many.text, 'too many fields');

    const json = await request(t.app).post('/admin/api/movies').set('Authorization', AUTH).send({ title: 'x', description: 'y'.repeat(70_000) });
    expect(json.status).toBe(413);
    expect(json.body).toEqual({ error: { code: 'ENTITY_TOO_LARGE', message: 'The request is too large.' } });
    expect(await countRows(t.database.db, 'ticket', movieId)).toBe(0);
  });

  it('when JSON is malformed, in an unknown charset or encoding, or not JSON at all, then a 4xx JSON error and never a 500', async () => {
    const post = () => request(t.app).post('/admin/api/movies').set('Authorization', AUTH);
    const cases: Array<[string, () => PromiseLike<{ status: number; text: string; body: unknown; headers: Record<string, string> }>, number]> = [
      ['broken JSON', () => post().set('Content-Type', 'application/json').send('{"title": "x",'), 400],
      ['a bare string', () => post().set('Content-Type', 'application/json').send('"x"'), 400],
      ['a bare null', () => post().set('Content-Type', 'application/json').send('null'), 400],
      ['JSON with an unknown charset', () => post().set('Content-Type', 'application/json; charset=klingon').send('{}'), 415],
      ['gzip that is not gzip', () => post().set('Content-Type', 'application/json').set('Content-Encoding', 'gzip').send('not gzip'), 400],
      ['an unknown encoding', () => post().set('Content-Type', 'application/json').set('Content-Encoding', 'snappy').send('{}'), 415],
      ['a form', () => post().type('form').send({ title: 'x' }), 415],
      ['plain text', () => post().set('Content-Type', 'text/plain').send('title=x'), 415],
      ['multipart', () => post().field('title', 'x'), 415],
      ['no body', () => post(), 415],
    ];
    for (const [what, send, status] of cases) {
      const res = await send();
      expect(res.status, what).toBe(status);
      expect(res.headers['content-type'], what).toMatch(/application\/json/);
      expect((res.body as { error?: { message?: string } }).error?.message, what).toMatch(/\w/);
      expectNoInternals(res.text, what);
    }
    // Real gzip is fine (sent with fetch: superagent re-encodes a Buffer body).
    const zipped = gzipSync(JSON.stringify({ title: `Zipped ${Date.now()}`, showTime: '2031-01-01T20:00:00Z', price: 10, maximumTickets: 5 }));
    const server = t.app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const ok = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/admin/api/movies`, {
        method: 'POST', headers: { Authorization: AUTH, 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' }, body: zipped,
      });
      expect(ok.status, await ok.text()).toBe(201);
    } finally {
      server.close();
    }
  });

  it('when the booking form comes as JSON, text or multipart, broken, or with arrays for strings, then 4xx and nothing stored', async () => {
    const movieId = await buildMovie(t.database.db);
    const { agent, _csrf, form } = await browser(movieId);
    const sends = [
      agent.post('/bookings').set('Content-Type', 'text/plain').send('movieId=1'),
      agent.post('/bookings').field('movieId', String(movieId)).field('_csrf', _csrf),
      agent.post('/bookings').set('Content-Type', 'application/json').set('X-CSRF-Token', _csrf).send('{"movieId":'),
      agent.post('/bookings').set('Content-Type', 'application/x-www-form-urlencoded; charset=ebcdic').send(`_csrf=${_csrf}`),
      agent.post('/bookings').set('Content-Type', 'application/json').set('X-CSRF-Token', _csrf)
        .send(JSON.stringify({ movieId: String(movieId), customerName: ['a', 'b'], phoneNumber: { $gt: '' }, quantity: 2 })),
      form({ customerName: ['Amina', 'Achieng'] }),
      form({ 'customerName[]': 'x', customerName: '' }),
      form({ phoneNumber: ['0712345678', '0712345679'] }),
      form({ quantity: ['1', '2'] }),
      form({ movieId: [String(movieId), String(movieId)] }),
    ];
    for (const [i, res] of (await Promise.all(sends)).entries()) {
      expect(res.status, `case ${i}: ${res.status}`).toBeGreaterThanOrEqual(400);
      expect(res.status, `case ${i}`).toBeLessThan(500);
      expectNoInternals(res.text, `case ${i}`);
    }
    expect(await countRows(t.database.db, 'ticket', movieId)).toBe(0);
  });

  it('when the quantity is negative, zero, fractional, exponential, hex, huge or not a number, then 422 with the quantity message and nothing stored', async () => {
    const movieId = await buildMovie(t.database.db);
    const { form } = await browser(movieId);
    for (const quantity of ['-1', '0', '-0', '1.5', '2.0', '1e1', '0x2', '99999999999999999999999', '9007199254740993', 'Infinity', 'NaN', 'two', '', ' ', '1 2', '+1', '١']) {
      const res = await form({ quantity });
      expect(res.status, quantity).toBe(422);
      expect(res.text, quantity).toMatch(/id="quantity-error"/);
      expectNoInternals(res.text, quantity);
    }
    expect(await countRows(t.database.db, 'ticket', movieId)).toBe(0);
    const held = await t.database.db.selectFrom('movie').select('ticketsHeld').where('movieId', '=', movieId).executeTakeFirstOrThrow();
    expect(held.ticketsHeld).toBe(0);
  });

  it('when the phone is very long, has letters, or is someone else\'s country, then 422 with the phone message, quickly', async () => {
    const movieId = await buildMovie(t.database.db);
    const { form } = await browser(movieId);
    for (const phoneNumber of ['0'.repeat(10_000), `07${'1'.repeat(5000)}`, '0712abc678', '+1 415 555 2671', '2547123456789', '254812345678', '07123', '<script>']) {
      const started = Date.now();
      const res = await form({ phoneNumber });
      expect(res.status, phoneNumber.slice(0, 20)).toBe(422);
      expect(res.text).toMatch(/id="phoneNumber-error"/);
      expect(Date.now() - started).toBeLessThan(2000);
      // What was typed comes back bounded, not 10,000 characters of it.
      expect(res.text.length).toBeLessThan(20_000);
    }
  });

  it('when the movie id is SQL, negative, huge or not a number, then 404 or 422 and never a 500', async () => {
    const movieId = await buildMovie(t.database.db);
    // Someone else's ticket, for an injection to damage if it could.
    await buildTicket(t.database.db, { movieId: await buildMovie(t.database.db) });
    const { form } = await browser(movieId);
    const allTickets = () => t.database.db.selectFrom('ticket').selectAll().orderBy('ticketId').execute();
    const ticketsBefore = await allTickets();
    const pushesBefore = await countRows(t.database.db, 'pushrequest');
    for (const id of ["1 OR 1=1", "1'; DROP TABLE ticket; --", '-1', '0', '1e3', '99999999999999999999', '1.5', '', 'NaN']) {
      const res = await form({ movieId: id });
      expect([404, 422], id).toContain(res.status);
      expectNoInternals(res.text, id);
    }
    for (const url of ['/movies/abc', '/movies/-1', '/movies/1.5', '/movies/99999999999999999999', "/movies/1'--", '/movies/%00',
      '/tickets/%00', `/tickets/${'A'.repeat(5000)}`, '/tickets/..%2F..%2Fetc%2Fpasswd', '/tickets/%E0%A4%A', '/tickets/x/status',
      '/tickets/%E0%A4%A/status', '/movies/%E0%A4%A']) {
      const res = await request(t.app).get(url);
      expect(res.status, url).toBeGreaterThanOrEqual(400);
      expect(res.status, url).toBeLessThan(500);
      expectNoInternals(res.text, url);
    }
    // The ticket table is still there (the query would throw), holding exactly what it held: nothing added, changed or removed.
    expect(await allTickets()).toEqual(ticketsBefore);
    expect(await countRows(t.database.db, 'pushrequest')).toBe(pushesBefore);
  });

  it('when the admin gets arrays, junk ids and bad filters in the URL, then 4xx or a filtered page, never a 500', async () => {
    const urls = ['/admin/tickets?status[]=Paid', '/admin/tickets?status=Paid&status=Failed', '/admin/tickets?movieId=1%20OR%201=1',
      '/admin/tickets?from=2025-13-45&to=yesterday', '/admin/tickets?limit=-5', '/admin/tickets?limit=1e9', '/admin/tickets?after=%27%3B--',
      '/admin/tickets?q[]=x&q[]=y', '/admin/tickets/abc', '/admin/tickets/1e99', '/admin/tickets/-1', '/admin/callbacks?outcome=x&outcome=y',
      '/admin/callbacks?before=abc', '/admin/callbacks/abc', '/admin/movies/abc/edit', '/admin/payments.csv?from=garbage',
      '/admin/payments.csv?status[]=Paid', '/admin/tickets/totals?from[]=x', '/admin/refunds?refunded[]=1', '/admin/movies?saved[]=1'];
    for (const url of urls) {
      const res = await request(t.app).get(url).set('Authorization', AUTH);
      expect(res.status, url).toBeLessThan(500);
      expectNoInternals(res.text, url);
    }
    const agent = request.agent(t.app);
    const page = await agent.get('/admin/movies/new').set('Authorization', AUTH);
    const _csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;
    for (const [url, body] of [
      ['/admin/movies', { _csrf, title: ['a', 'b'], price: '-5', maximumTickets: '1.5', showTime: 'soon' }],
      ['/admin/movies/abc', { _csrf, title: 'x' }],
      ['/admin/refunds/abc', { _csrf }],
      ['/admin/callbacks/abc/assign', { _csrf, ticket: ['1', '2'] }],
    ] as const) {
      const res = await agent.post(url).set('Authorization', AUTH).type('form').send(body);
      expect(res.status, url).toBeGreaterThanOrEqual(400);
      expect(res.status, url).toBeLessThan(500);
      expectNoInternals(res.text, url);
    }
  });

  it('when the admin API gets prices with cents, negative or huge numbers, arrays or junk, then 422 with a message per field', async () => {
    const send = (body: unknown) => request(t.app).post('/admin/api/movies').set('Authorization', AUTH).set('Content-Type', 'application/json').send(JSON.stringify(body));
    const base = { title: 'API', showTime: '2031-01-01T20:00:00+03:00', price: 100, maximumTickets: 50 };
    for (const body of [
      { ...base, price: 10.5 }, { ...base, price: -1 }, { ...base, price: 1e12 }, { ...base, price: '1e3' }, { ...base, price: [100] },
      { ...base, maximumTickets: 0 }, { ...base, maximumTickets: 2.5 }, { ...base, title: '' }, { ...base, title: 'x'.repeat(1000) },
      { ...base, title: ['a'] }, { ...base, showTime: 'tomorrow' }, { ...base, imageUrl: 'javascript:alert(1)' },
      { ...base, imageUrl: 'http://insecure.example/x.png' }, { ...base, imageUrl: '"><script>' }, [], {},
    ]) {
      const res = await send(body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(422);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expectNoInternals(res.text, JSON.stringify(body).slice(0, 80));
    }
  });

  it('when a name holds HTML or script, then every page that shows it escapes it: form, ticket page, admin lists and detail', async () => {
    const movieId = await buildMovie(t.database.db, { title: `Film ${HOSTILE}` });
    const { form } = await browser(movieId);
    const invalid = await form({ customerName: HOSTILE, phoneNumber: 'bad' });
    expect(invalid.status).toBe(422);
    const booked = await form({ customerName: HOSTILE });
    expect(booked.status).toBe(303);
    const ref = refFrom(booked.headers.location);
    const row = await ticketByRef(t.database.db, ref);
    expect(row.customerName).toBe(HOSTILE); // stored as typed, escaped when shown
    await buildInbox(t.database.db, { outcome: 'unmatched', body: `{"note":"${HOSTILE.replace(/"/g, '\\"')}"}` });

    const pages: Array<[string, boolean]> = [[`/movies/${movieId}`, false], ['/', false], [`/tickets/${ref}`, false], ['/admin', true],
      ['/admin/tickets', true], [`/admin/tickets/${row.ticketId}`, true], ['/admin/movies', true], [`/admin/movies/${movieId}/edit`, true],
      ['/admin/callbacks', true]];
    const texts: Array<[string, string]> = [['422 form', invalid.text]];
    for (const [url, admin] of pages) {
      let r = request(t.app).get(url);
      if (admin) r = r.set('Authorization', AUTH);
      const res = await r;
      expect(res.status, url).toBe(200);
      texts.push([url, res.text]);
    }
    const inbox = await t.database.db.selectFrom('callbackinbox').select('callbackId').orderBy('callbackId', 'desc').limit(1).executeTakeFirstOrThrow();
    texts.push(['callback detail', (await request(t.app).get(`/admin/callbacks/${inbox.callbackId}`).set('Authorization', AUTH)).text]);
    for (const [url, text] of texts) {
      expect(text, url).not.toContain('<script>alert');
      expect(text, url).not.toContain('<img src=x');
      expect(text, url).not.toMatch(/onerror=alert\(1\)>(?!&)/);
    }
    // The name and title are there, escaped (not dropped).
    expect(texts.find(([u]) => u === `/tickets/${ref}`)![1]).toContain(ESCAPED);
    expect(texts.find(([u]) => u === '/admin/tickets')![1]).toContain(ESCAPED);
    expect(texts.find(([u]) => u === '422 form')![1]).toContain(ESCAPED);
    const status = await request(t.app).get(`/tickets/${ref}/status`);
    expect(status.headers['content-type']).toMatch(/application\/json/);
  });

  it('when a name is in another script, has accents or emoji, then it is booked and shown exactly; control characters are refused', async () => {
    const movieId = await buildMovie(t.database.db);
    const { form } = await browser(movieId);
    for (const name of ['Wanjirũ Njoroge', 'Zoë Ñandú-Ōtieno', '李小龍', 'محمد علي', '🎬 Fan 🍿', 'A'.repeat(100)]) {
      const res = await form({ customerName: name });
      expect(res.status, name).toBe(303);
      const ref = refFrom(res.headers.location);
      expect((await ticketByRef(t.database.db, ref)).customerName).toBe(name);
      const page = await request(t.app).get(`/tickets/${ref}`);
      expect(page.text).toContain(name);
    }
    for (const name of ['A\u0000B', 'Line\nbreak', 'Tab\there', 'Bell\u0007', 'A'.repeat(101), '   ']) {
      const res = await form({ customerName: name });
      expect(res.status, JSON.stringify(name)).toBe(422);
      expect(res.text).toMatch(/id="customerName-error"/);
    }
  });

  it('when the database fails with SQL in its message, then the page and the JSON say sorry with a reference, and show no SQL or stack', async () => {
    const err = Object.assign(new Error('SQLITE_ERROR: near "FROM": syntax error in SELECT * FROM movie WHERE secret = 1'), { code: 'SQLITE_ERROR', sql: 'SELECT * FROM movie' });
    vi.spyOn(t.services.movies, 'nowShowing').mockRejectedValue(err);
    const page = await request(t.app).get('/');
    expect(page.status).toBe(500);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.text).toContain('Something went wrong on our side.');
    expect(page.text).toContain(page.headers['x-request-id']);
    expectNoInternals(page.text, 'html 500');
    const json = await request(t.app).get('/api/movies');
    expect(json.status).toBe(500);
    expect(json.body).toEqual({ error: { code: 'INTERNAL', message: 'Something went wrong on our side. Please try again in a moment.' } });
    expectNoInternals(json.text, 'json 500');
  });
});
