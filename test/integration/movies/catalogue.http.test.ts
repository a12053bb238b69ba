import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../support/app.js';
import { dialects } from '../../support/db.js';

const ADMIN = { ADMIN_USER: 'ops', ADMIN_PASSWORD: 'correct horse battery' };
const auth = 'Basic ' + Buffer.from('ops:correct horse battery').toString('base64');

describe.each(dialects)('catalogue over HTTP on %s', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect, ADMIN);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('when the home page is opened, then the seeded movies show with Nairobi times, prices and tickets left', async () => {
    const res = await request(t.app).get('/').expect(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.text).toContain('Oppenheimer');
    expect(res.text).toContain('KES 15');
    expect(res.text).toMatch(/<time datetime="\d{4}-\d{2}-\d{2}T20:30:00\+03:00">/);
    expect(res.text).toContain('/posters/oppenheimer.svg');
    expect(res.headers['x-request-id']).toBeTruthy();
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  it('when /api/movies is read, then it lists movies with the documented fields', async () => {
    const res = await request(t.app).get('/api/movies').expect(200);
    expect(res.body.length).toBe(5);
    const m = res.body.find((x: { title: string }) => x.title === 'Oppenheimer');
    expect(Object.keys(m).sort()).toEqual(
      ['description', 'imageUrl', 'maximumTickets', 'movieId', 'price', 'showTime', 'ticketsLeft', 'title'].sort(),
    );
    expect(m).toMatchObject({ price: 15, maximumTickets: 60, ticketsLeft: 60 });
    expect(m.showTime).toMatch(/\+03:00$/);
  });

  it('when a movie page is opened, then it has the booking form with a CSRF token and the total', async () => {
    const list = await request(t.app).get('/api/movies');
    const id = list.body[0].movieId;
    const res = await request(t.app).get(`/movies/${id}`).expect(200);
    expect(res.text).toMatch(/<form method="post" action="\/bookings"/);
    expect(res.text).toMatch(/name="_csrf" value="[^"]{20,}"/);
    for (const f of ['customerName', 'phoneNumber', 'quantity', 'movieId']) expect(res.text).toContain(`name="${f}"`);
    expect(res.text).toContain('id="total"');
    // Without JavaScript the live total stays hidden and the page says where the total is worked out.
    expect(res.text).toMatch(/<p class="total" id="total-live" hidden>/);
    expect(res.text).toMatch(/per ticket\. The total for your tickets is worked out on the next page/);
  });

  it('when a movie does not exist, then a 404 page is shown that leaks nothing', async () => {
    const res = await request(t.app).get('/movies/999999').expect(404);
    expect(res.text).toContain('We could not find that movie.');
    expect(res.text).not.toMatch(/at .*\.ts|select|SQL/i);
    await request(t.app).get('/movies/not-a-number').expect(404);
    await request(t.app).get('/nowhere').expect(404);
  });

  it('when the admin API creates a valid movie, then it answers 201 with the id and the movie is listed', async () => {
    const showTime = new Date(Date.now() + 3 * 86_400_000).toISOString();
    const res = await request(t.app)
      .post('/admin/api/movies')
      .set('Authorization', auth)
      .send({ title: 'Created by API', description: 'New', showTime, price: 45, maximumTickets: 30 })
      .expect(201);
    expect(res.body).toEqual({ movieId: expect.any(Number) });
    const row = await t.database.db.selectFrom('movie').selectAll().where('movieId', '=', res.body.movieId).executeTakeFirst();
    expect(row).toMatchObject({ title: 'Created by API', price: 45, maximumTickets: 30, ticketsHeld: 0 });
    const list = await request(t.app).get('/api/movies');
    expect(list.body.map((m: { title: string }) => m.title)).toContain('Created by API');
  });

  it('when the admin API gets a bad movie, then 422 names each field and nothing is stored', async () => {
    const before = await t.database.db.selectFrom('movie').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const res = await request(t.app)
      .post('/admin/api/movies')
      .set('Authorization', auth)
      .send({ title: '  ', showTime: '2001-01-01T10:00:00Z', price: 15.5, maximumTickets: 0 })
      .expect(422);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    expect(res.body.error.fields).toMatchObject({
      title: 'Title is required',
      price: expect.stringMatching(/whole/),
      maximumTickets: 'Maximum tickets must be at least 1',
    });
    const past = await request(t.app)
      .post('/admin/api/movies')
      .set('Authorization', auth)
      .send({ title: 'Past', showTime: '2001-01-01T10:00:00Z', price: 15, maximumTickets: 1 })
      .expect(422);
    expect(past.body.error.fields).toEqual({ showTime: 'Show time must be in the future' });
    const after = await t.database.db.selectFrom('movie').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    expect(Number(after.n)).toBe(Number(before.n));
  });

  it('when the admin API is called without or with wrong credentials, then 401 and nothing is created', async () => {
    await request(t.app).post('/admin/api/movies').send({}).expect(401);
    const wrong = 'Basic ' + Buffer.from('ops:wrong').toString('base64');
    const res = await request(t.app).post('/admin/api/movies').set('Authorization', wrong).send({}).expect(401);
    expect(res.headers['www-authenticate']).toMatch(/^Basic realm=/);
  });

  it('when /healthz and /readyz are asked, then both answer 200 while the database is up', async () => {
    await request(t.app).get('/healthz').expect(200, { status: 'ok' });
    await request(t.app).get('/readyz').expect(200, { status: 'ready' });
  });
});

describe('admin switched off', () => {
  it('when ADMIN_USER and ADMIN_PASSWORD are unset, then /admin and its API are 404', async () => {
    const t = await createTestApp('sqlite');
    try {
      await request(t.app).get('/admin').expect(404);
      await request(t.app).post('/admin/api/movies').set('Authorization', auth).send({}).expect(404);
    } finally {
      await t.close();
    }
  });

  it('when the database is gone, then /readyz answers 503 and /healthz still 200', async () => {
    const t = await createTestApp('sqlite');
    try {
      await t.database.close();
      await request(t.app).get('/readyz').expect(503);
      await request(t.app).get('/healthz').expect(200);
    } finally {
      await t.close().catch(() => undefined);
    }
  });
});
