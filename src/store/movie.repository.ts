import { sql } from 'kysely';
import type { FastConnection } from '../core/db/fast.js';
import type { Executor } from '../core/db/transaction.js';
import type { Movie, NewMovie } from '../core/db/schema.js';
import { changed, insertedId } from '../core/db/rows.js';
import { toDbTime } from '../core/db/time.js';

/**
 * The movie table's one owner. movie.ticketsHeld counts the seats of Pending tickets plus those sold to Paid ones;
 * it never goes above maximumTickets, because every change to it is one conditional UPDATE (holdTickets,
 * releaseTickets), atomic on both databases whatever the concurrency. The ticket that holds them changes in the same
 * transaction (store/ticket.repository.ts); the movie row is the last lock taken.
 */

export type MovieFields = Pick<Movie, 'title' | 'description' | 'showTime' | 'price' | 'maximumTickets' | 'imageUrl'>;

export async function findMovie(db: Executor, movieId: number): Promise<Movie | undefined> {
  return db.selectFrom('movie').selectAll().where('movieId', '=', movieId).executeTakeFirst();
}

export async function insertMovie(db: Executor, movie: Omit<NewMovie, 'createdAt' | 'updatedAt'>, now = new Date()): Promise<number> {
  const at = toDbTime(now);
  const r = await db.insertInto('movie').values({ ...movie, createdAt: at, updatedAt: at }).executeTakeFirstOrThrow();
  return insertedId(r);
}

/** Edits a movie. Capacity can never drop below what is held or sold: the check is in the same statement. */
export async function updateMovie(db: Executor, movieId: number, changes: Partial<MovieFields>, now: Date): Promise<boolean> {
  let q = db.updateTable('movie').set({ ...changes, updatedAt: toDbTime(now) }).where('movieId', '=', movieId);
  if (changes.maximumTickets !== undefined) q = q.where('ticketsHeld', '<=', changes.maximumTickets);
  return changed(await q.executeTakeFirst());
}

/** Holds `quantity` seats if that many are left and the show is not cancelled; false (nothing changed) otherwise. */
export async function holdTickets(db: Executor, movieId: number, quantity: number): Promise<boolean> {
  const r = await db
    .updateTable('movie')
    .set({ ticketsHeld: sql`ticketsHeld + ${quantity}` })
    .where('movieId', '=', movieId)
    .where('cancelledAt', 'is', null)
    .where(sql<boolean>`ticketsHeld + ${quantity} <= maximumTickets`)
    .executeTakeFirst();
  return changed(r);
}

export async function releaseTickets(db: Executor, movieId: number, quantity: number): Promise<void> {
  await db
    .updateTable('movie')
    .set({ ticketsHeld: sql`ticketsHeld - ${quantity}` })
    .where('movieId', '=', movieId)
    .where('ticketsHeld', '>=', quantity)
    .execute();
}

/** Cancels a show, once: from then on it takes no booking or retry (holdTickets) and leaves the catalogue. */
export async function cancelMovie(db: Executor, movieId: number, reason: string, now: Date): Promise<boolean> {
  const at = toDbTime(now);
  const r = await db
    .updateTable('movie')
    .set({ cancelledAt: at, cancelReason: reason.slice(0, 255), updatedAt: at })
    .where('movieId', '=', movieId)
    .where('cancelledAt', 'is', null)
    .executeTakeFirst();
  return changed(r);
}

/** Cancelled shows, newest cancellation first (their late payments are refunded too). */
export async function cancelledMovieIds(db: Executor, limit: number): Promise<number[]> {
  const rows = await db.selectFrom('movie').select('movieId').where('cancelledAt', 'is not', null).orderBy('cancelledAt', 'desc').limit(limit).execute();
  return rows.map((r) => r.movieId);
}

const RELEASE_SQL = 'UPDATE movie SET ticketsHeld = ticketsHeld - ? WHERE movieId = ? AND ticketsHeld >= ?';

/** releaseTickets, as a prepared statement inside a fast transaction (core/db/fast.ts). */
export async function releaseTicketsFast(c: FastConnection, movieId: number, quantity: number): Promise<void> {
  await c.exec(RELEASE_SQL, [quantity, movieId, quantity]);
}

// ── lists ───────────────────────────────────────────────────────────────────────────────────────────────────────

/** Every movie, or those showing from `from` on (cancelled shows left out), soonest first. */
export async function listMovies(db: Executor, opts: { from?: Date } = {}): Promise<Movie[]> {
  let q = db.selectFrom('movie').selectAll();
  if (opts.from) q = q.where('showTime', '>=', toDbTime(opts.from)).where('cancelledAt', 'is', null);
  return q.orderBy('showTime').orderBy('movieId').execute();
}

export async function countUpcoming(db: Executor, now: Date): Promise<number> {
  const r = await db
    .selectFrom('movie')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('showTime', '>', toDbTime(now))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

export async function moviesByIds(db: Executor, ids: readonly number[]): Promise<Movie[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('movie').selectAll().where('movieId', 'in', [...new Set(ids)]).execute();
}

/** Movies for a filter's drop-down: shows from `since` on, latest first, capped (movie_showTime). */
export async function movieChoices(db: Executor, since: Date, limit: number): Promise<Array<Pick<Movie, 'movieId' | 'title' | 'showTime'>>> {
  return db
    .selectFrom('movie')
    .select(['movieId', 'title', 'showTime'])
    .where('showTime', '>=', toDbTime(since))
    .orderBy('showTime', 'desc')
    .orderBy('movieId', 'desc')
    .limit(limit)
    .execute();
}

/** Shows from `from` on, soonest first (movie_showTime). */
export async function moviesShowingFrom(db: Executor, from: Date, limit: number): Promise<Movie[]> {
  return db.selectFrom('movie').selectAll().where('showTime', '>=', toDbTime(from)).orderBy('showTime').orderBy('movieId').limit(limit).execute();
}

/** Shows before `before`, latest first. */
export async function moviesShownBefore(db: Executor, before: Date, limit: number): Promise<Movie[]> {
  return db.selectFrom('movie').selectAll().where('showTime', '<', toDbTime(before)).orderBy('showTime', 'desc').orderBy('movieId', 'desc').limit(limit).execute();
}
