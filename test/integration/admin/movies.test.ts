import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../support/app.js';
import { dialects } from '../../support/db.js';
import { buildMovie, buildTicket } from '../../support/builders.js';
import { ADMIN_ENV, auditRows, operator, tokenIn } from './helpers.js';

/** A Nairobi wall-clock 'YYYY-MM-DDTHH:mm' some days ahead, as a datetime-local input sends it. */
function nairobiLocal(daysAhead: number, hh = '20', mm = '30'): string {
  const d = new Date(Date.now() + daysAhead * 86_400_000 + 3 * 3600_000);
  return `${d.toISOString().slice(0, 10)}T${hh}:${mm}`;
}

describe.each(dialects)('admin movies on %s', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect, ADMIN_ENV);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('when a valid movie is added through the form, then it is stored with its Nairobi show time, listed, and audited', async () => {
    const agent = operator(t.app);
    const form = await agent.get('/admin/movies/new').expect(200);
    expect(form.text).toMatch(/<label for="showTime">Show time/);
    const showTime = nairobiLocal(4);
    const res = await agent
      .post('/admin/movies')
      .type('form')
      .send({ _csrf: tokenIn(form.text), title: 'Kati Kati', description: 'Limbo in Nairobi', showTime, price: '300', maximumTickets: '80', imageUrl: '' })
      .expect(303);
    const movieId = Number(/saved=(\d+)/.exec(res.headers.location!)?.[1]);
    const row = await t.database.db.selectFrom('movie').selectAll().where('movieId', '=', movieId).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ title: 'Kati Kati', description: 'Limbo in Nairobi', price: 300, maximumTickets: 80, ticketsHeld: 0, imageUrl: null });
    // 20:30 in Nairobi is 17:30 UTC.
    expect(row.showTime).toBe(`${showTime.slice(0, 10)} 17:30:00.000`);
    const list = await agent.get(res.headers.location!).expect(200);
    expect(list.text).toContain(`Movie ${movieId} added.`);
    expect(list.text).toMatch(new RegExp(`<tr data-movie-id="${movieId}">\\s*<th scope="row">Kati Kati</th>`));
    const audit = await auditRows(t.database.db, { action: 'movie.created' });
    expect(audit.some((a) => a.actor === 'ops' && JSON.parse(a.detail!).movieId === movieId)).toBe(true);
  });

  it('when the form has mistakes, then 422 shows a message per field, keeps the values typed, and stores nothing', async () => {
    const agent = operator(t.app);
    const token = tokenIn((await agent.get('/admin/movies/new')).text);
    const before = await t.database.db.selectFrom('movie').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    const res = await agent
      .post('/admin/movies')
      .type('form')
      .send({ _csrf: token, title: '', description: 'Kept <b>text</b>', showTime: 'next friday', price: '12.50', maximumTickets: '0', imageUrl: 'javascript:alert(1)' })
      .expect(422);
    expect(res.text).toContain('Title is required');
    expect(res.text).toContain('Show time must be a date and time');
    expect(res.text).toMatch(/Price must be whole shillings/);
    expect(res.text).toContain('Maximum tickets must be at least 1');
    expect(res.text).toContain('Poster must be a path');
    expect(res.text).toMatch(/id="price"[^>]*value="12.50"/);
    expect(res.text).toMatch(/id="showTime"[^>]*value="next friday"/);
    expect(res.text).toContain('Kept &lt;b&gt;text&lt;/b&gt;</textarea>');
    expect(res.text).toMatch(/id="title"[^>]*aria-invalid="true"/);
    expect(res.text).toMatch(/name="_csrf" value="[^"]+"/);
    const past = await agent
      .post('/admin/movies')
      .type('form')
      .send({ _csrf: token, title: 'Too late', showTime: '2001-01-01T20:00', price: '10', maximumTickets: '5' })
      .expect(422);
    expect(past.text).toContain('Show time must be in the future');
    const after = await t.database.db.selectFrom('movie').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    expect(Number(after.n)).toBe(Number(before.n));
  });

  it('when a movie is edited, then the form shows its Nairobi time and the change is stored and audited', async () => {
    const movieId = await buildMovie(t.database.db, { title: 'Old Title', price: 20, maximumTickets: 40, showTime: new Date('2031-03-05T17:30:00Z') });
    const agent = operator(t.app);
    const form = await agent.get(`/admin/movies/${movieId}/edit`).expect(200);
    expect(form.text).toMatch(/id="showTime"[^>]*value="2031-03-05T20:30"/);
    expect(form.text).toMatch(/id="title"[^>]*value="Old Title"/);
    expect(form.text).toContain('<h1>Edit Old Title</h1>');
    await agent
      .post(`/admin/movies/${movieId}`)
      .type('form')
      .send({ _csrf: tokenIn(form.text), title: 'New Title', description: '', showTime: '2031-03-05T21:00', price: '25', maximumTickets: '45', imageUrl: '/posters/dune.svg' })
      .expect(303);
    const row = await t.database.db.selectFrom('movie').selectAll().where('movieId', '=', movieId).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ title: 'New Title', price: 25, maximumTickets: 45, showTime: '2031-03-05 18:00:00.000', imageUrl: '/posters/dune.svg' });
    const audit = await auditRows(t.database.db, { action: 'movie.updated' });
    expect(audit.some((a) => JSON.parse(a.detail!).movieId === movieId && a.actor === 'ops')).toBe(true);
  });

  it('when capacity is lowered below the seats sold or held, then 422 says so, keeps the values and changes nothing; down to exactly that is fine', async () => {
    const movieId = await buildMovie(t.database.db, { title: 'Busy Show', maximumTickets: 10, ticketsHeld: 6, showTime: new Date('2031-04-01T17:00:00Z') });
    await buildTicket(t.database.db, { movieId, quantity: 4, paymentStatus: 'Paid' });
    await buildTicket(t.database.db, { movieId, quantity: 2, paymentStatus: 'Pending' });
    const agent = operator(t.app);
    const form = await agent.get(`/admin/movies/${movieId}/edit`).expect(200);
    expect(form.text).toContain('6 already sold or held: capacity cannot go below that.');
    const base = { _csrf: tokenIn(form.text), title: 'Busy Show', description: '', showTime: '2031-04-01T20:00', price: '20' };
    const res = await agent.post(`/admin/movies/${movieId}`).type('form').send({ ...base, maximumTickets: '5' }).expect(422);
    expect(res.text).toContain('Maximum tickets cannot be below the 6 already sold or held');
    expect(res.text).toMatch(/id="maximumTickets"[^>]*value="5"/);
    let row = await t.database.db.selectFrom('movie').selectAll().where('movieId', '=', movieId).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ maximumTickets: 10, ticketsHeld: 6 });
    await agent.post(`/admin/movies/${movieId}`).type('form').send({ ...base, maximumTickets: '6' }).expect(303);
    row = await t.database.db.selectFrom('movie').selectAll().where('movieId', '=', movieId).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ maximumTickets: 6, ticketsHeld: 6 });
  });

  it('when the movies page is opened, then each show lists capacity, seats taken, seats sold and revenue', async () => {
    const movieId = await buildMovie(t.database.db, { title: 'Counted Show', maximumTickets: 30, ticketsHeld: 5, price: 50 });
    await buildTicket(t.database.db, { movieId, quantity: 3, totalAmount: 150, paymentStatus: 'Paid' });
    await buildTicket(t.database.db, { movieId, quantity: 2, totalAmount: 100, paymentStatus: 'Pending' });
    await buildTicket(t.database.db, { movieId, quantity: 1, totalAmount: 50, paymentStatus: 'Paid', holdsTickets: 0, needsRefund: 1 });
    const res = await operator(t.app).get('/admin/movies').expect(200);
    const row = new RegExp(`<tr data-movie-id="${movieId}">.*?</tr>`, 's').exec(res.text)?.[0] ?? '';
    const cells = [...row.matchAll(/<td class="num">([^<]+)<\/td>/g)].map((m) => m[1]);
    expect(cells).toEqual(['KES 50', '30', '5', '3', 'KES 150']);
    expect(row).toContain(`href="/admin/movies/${movieId}/edit"`);
  });

  it('when the show time names a day or time that does not exist, then 422 with a message on the form and the API, and nothing is stored or rolled over', async () => {
    const agent = operator(t.app);
    const token = tokenIn((await agent.get('/admin/movies/new')).text);
    const title = `No such day ${Date.now()}`;
    const form = await agent.post('/admin/movies').type('form')
      .send({ _csrf: token, title, showTime: '2027-02-30T20:00', price: '10', maximumTickets: '5' }).expect(422);
    expect(form.text).toContain('Show time is not a real date: February 2027 has 28 days');
    expect(form.text).toMatch(/id="showTime"[^>]*value="2027-02-30T20:00"/);

    const movieId = await buildMovie(t.database.db, { title: 'Dated', showTime: new Date('2031-03-05T17:30:00Z') });
    const edit = tokenIn((await agent.get(`/admin/movies/${movieId}/edit`)).text);
    const edited = await agent.post(`/admin/movies/${movieId}`).type('form')
      .send({ _csrf: edit, title: 'Dated', showTime: '2031-04-31T20:00', price: '20', maximumTickets: '1000' }).expect(422);
    expect(edited.text).toContain('Show time is not a real date: April 2031 has 30 days');

    for (const [showTime, message] of [
      ['2027-02-30T20:00:00+03:00', 'Show time is not a real date: February 2027 has 28 days'],
      ['2027-02-28T24:00', 'Show time is not a real time of day: use 00:00 to 23:59'],
      ['2027-13-01T20:00', 'Show time has no month 13: use 01 to 12'],
    ]) {
      const api = await agent.post('/admin/api/movies').send({ title, showTime, price: 10, maximumTickets: 5 });
      expect(api.status, showTime).toBe(422);
      expect(api.body.error.fields, showTime).toEqual({ showTime: message });
    }
    expect(await t.database.db.selectFrom('movie').select('movieId').where('title', '=', title).execute()).toEqual([]);
    const row = await t.database.db.selectFrom('movie').select('showTime').where('movieId', '=', movieId).executeTakeFirstOrThrow();
    expect(row.showTime).toBe('2031-03-05 17:30:00.000');
  });

  it('when a movie does not exist, then its edit page and form post are 404', async () => {
    const agent = operator(t.app);
    await agent.get('/admin/movies/99999999/edit').expect(404);
    const token = tokenIn((await agent.get('/admin/movies/new')).text);
    await agent.post('/admin/movies/99999999').type('form').send({ _csrf: token, title: 'x', showTime: '2031-01-01T20:00', price: '1', maximumTickets: '1' }).expect(404);
  });
});
