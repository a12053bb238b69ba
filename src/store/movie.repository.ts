import { sql } from 'kysely';
import type { Db, Tx } from '../core/db/database.js';
import type { Movie, NewMovie } from '../core/db/schema.js';
import { dbNow, toDbTime } from '../core/db/time.js';

export async function listMovies(db: Db, opts: { from?: Date } = {}): Promise<Movie[]> {
  let q = db.selectFrom('movie').selectAll();
  if (opts.from) q = q.where('showTime', '>=', toDbTime(opts.from));
  return q.orderBy('showTime').orderBy('movieId').execute();
}

export async function findMovie(db: Db | Tx, movieId: number): Promise<Movie | undefined> {
  return db.selectFrom('movie').selectAll().where('movieId', '=', movieId).executeTakeFirst();
}

export async function insertMovie(db: Db | Tx, movie: Omit<NewMovie, 'createdAt' | 'updatedAt'>): Promise<number> {
  const now = dbNow();
  const r = await db.insertInto('movie').values({ ...movie, createdAt: now, updatedAt: now }).executeTakeFirstOrThrow();
  return Number(r.insertId);
}

export async function updateMovie(
  db: Db | Tx,
  movieId: number,
  changes: Partial<Pick<Movie, 'title' | 'description' | 'showTime' | 'price' | 'maximumTickets' | 'imageUrl'>>,
): Promise<boolean> {
  let q = db.updateTable('movie').set({ ...changes, updatedAt: dbNow() }).where('movieId', '=', movieId);
  // Capacity can never drop below what is already held or sold; the check is in the same statement, so it is atomic.
  if (changes.maximumTickets !== undefined) q = q.where('ticketsHeld', '<=', changes.maximumTickets);
  const r = await q.executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/**
 * Holds `quantity` tickets if that many are left. One conditional UPDATE, so it is atomic on both databases
 * whatever the concurrency: never more than maximumTickets held or sold.
 */
export async function holdTickets(db: Db | Tx, movieId: number, quantity: number): Promise<boolean> {
  const r = await db
    .updateTable('movie')
    .set({ ticketsHeld: sql`ticketsHeld + ${quantity}`, updatedAt: dbNow() })
    .where('movieId', '=', movieId)
    .where(sql<boolean>`ticketsHeld + ${quantity} <= maximumTickets`)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function releaseTickets(db: Db | Tx, movieId: number, quantity: number): Promise<void> {
  await db
    .updateTable('movie')
    .set({ ticketsHeld: sql`ticketsHeld - ${quantity}`, updatedAt: dbNow() })
    .where('movieId', '=', movieId)
    .where('ticketsHeld', '>=', quantity)
    .execute();
}

export async function countMovies(db: Db): Promise<number> {
  const r = await db.selectFrom('movie').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(r.n);
}

export async function countUpcoming(db: Db, now: Date): Promise<number> {
  const r = await db
    .selectFrom('movie')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('showTime', '>', toDbTime(now))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}
