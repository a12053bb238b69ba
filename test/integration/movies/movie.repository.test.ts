import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toDbTime } from '../../../src/core/db/time.js';
import { findMovie, holdTickets, insertMovie, releaseTickets, updateMovie } from '../../../src/store/movie.repository.js';
import { seedDemoMoviesIfNoneUpcoming } from '../../../src/movies/demo-movies.js';
import { createTestDatabase, dialects, type TestDatabase } from '../../support/db.js';

describe.each(dialects)('movie repository on %s', (dialect) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase(dialect);
  });
  afterAll(async () => {
    await t?.drop();
  });

  const newMovie = (maximumTickets: number) =>
    insertMovie(t.db, {
      title: 'Test show',
      description: '',
      showTime: toDbTime(new Date(Date.now() + 86_400_000)),
      price: 15,
      maximumTickets,
      imageUrl: null,
    });

  it('when a movie is inserted, then it reads back with its UTC show time and whole-shilling price', async () => {
    const show = new Date('2030-01-02T17:30:00.000Z');
    const id = await insertMovie(t.db, { title: 'Read back', description: 'd', showTime: toDbTime(show), price: 250, maximumTickets: 3, imageUrl: '/p.svg' });
    const m = await findMovie(t.db, id);
    expect(m).toMatchObject({ movieId: id, title: 'Read back', price: 250, maximumTickets: 3, ticketsHeld: 0, imageUrl: '/p.svg' });
    expect(m?.showTime).toBe('2030-01-02 17:30:00.000');
  });

  it('when 40 holds of 1 race for 25 tickets, then exactly 25 succeed and the count never exceeds the maximum', async () => {
    const id = await newMovie(25);
    const results = await Promise.all(Array.from({ length: 40 }, () => holdTickets(t.db, id, 1)));
    expect(results.filter(Boolean)).toHaveLength(25);
    expect((await findMovie(t.db, id))?.ticketsHeld).toBe(25);
  });

  it('when a hold asks for more than is left, then it is refused and nothing changes', async () => {
    const id = await newMovie(5);
    expect(await holdTickets(t.db, id, 3)).toBe(true);
    expect(await holdTickets(t.db, id, 3)).toBe(false);
    expect((await findMovie(t.db, id))?.ticketsHeld).toBe(3);
    await releaseTickets(t.db, id, 3);
    expect((await findMovie(t.db, id))?.ticketsHeld).toBe(0);
  });

  it('when capacity is lowered below what is held, then the update is refused', async () => {
    const id = await newMovie(10);
    await holdTickets(t.db, id, 6);
    expect(await updateMovie(t.db, id, { maximumTickets: 5 }, new Date())).toBe(false);
    expect(await updateMovie(t.db, id, { maximumTickets: 6 }, new Date())).toBe(true);
    expect((await findMovie(t.db, id))?.maximumTickets).toBe(6);
  });

  it('when shows are upcoming, then the demo seed adds nothing', async () => {
    await newMovie(1);
    expect(await seedDemoMoviesIfNoneUpcoming(t.db)).toBe(0);
  });
});

describe.each(dialects)('demo seed on %s', (dialect) => {
  it('when the database is new, then five demo movies with future shows are seeded once', async () => {
    const t = await createTestDatabase(dialect);
    try {
      const now = new Date();
      expect(await seedDemoMoviesIfNoneUpcoming(t.db, now)).toBe(5);
      expect(await seedDemoMoviesIfNoneUpcoming(t.db, now)).toBe(0);
      const rows = await t.db.selectFrom('movie').selectAll().execute();
      expect(rows).toHaveLength(5);
      for (const r of rows) expect(r.showTime > toDbTime(now)).toBe(true);
      expect(rows.map((r) => r.title)).toContain('Oppenheimer');
    } finally {
      await t.drop();
    }
  });
});
