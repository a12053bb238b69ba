import type { Movie } from '../core/db/schema.js';
import { err, ok, type Result } from '../core/result.js';
import { toMovieView, type MovieView } from '../movies/movie-view.js';
import { findMovie, moviesShowingFrom, moviesShownBefore } from '../store/movie.repository.js';
import { salesByMovie } from '../store/ticket-lists.repository.js';
import type { AdminContext } from './admin-views.js';

/** The movies pages (/admin/movies and the movie form). */

export interface AdminMovieRow extends MovieView {
  /** Seats held by Pending tickets plus sold (movie.ticketsHeld). */
  taken: number;
  sold: number;
  revenue: number;
}

export interface MovieListPage {
  upcoming: AdminMovieRow[];
  past: AdminMovieRow[];
  pastLimit: number;
}

export interface MovieFormPage {
  movie: MovieView;
  values: Record<string, string>;
  /** Seats already held or sold: the capacity cannot go below it. */
  taken: number;
}

export async function movieListPage(ctx: AdminContext): Promise<MovieListPage> {
  const now = ctx.now();
  const db = ctx.database.db;
  const pastLimit = 50;
  const [upcoming, past] = await Promise.all([moviesShowingFrom(db, now, 500), moviesShownBefore(db, now, pastLimit)]);
  const sales = await salesByMovie(db, [...upcoming, ...past].map((m) => m.movieId));
  const row = (m: Movie): AdminMovieRow => {
    const s = sales.get(m.movieId) ?? { tickets: 0, quantity: 0, amount: 0 };
    return { ...toMovieView(m, now), taken: m.ticketsHeld, sold: s.quantity, revenue: s.amount };
  };
  return { upcoming: upcoming.map(row), past: past.map(row), pastLimit };
}

/** The edit form's values: the show time as Nairobi wall clock, as a datetime-local input wants it. */
export async function movieFormPage(ctx: AdminContext, movieId: number): Promise<Result<MovieFormPage, { kind: 'not_found' }>> {
  const m = Number.isSafeInteger(movieId) && movieId > 0 ? await findMovie(ctx.database.db, movieId) : undefined;
  if (!m) return err({ kind: 'not_found' });
  const movie = toMovieView(m, ctx.now());
  return ok({
    movie,
    taken: m.ticketsHeld,
    values: {
      title: movie.title,
      description: movie.description,
      showTime: movie.showTime.slice(0, 16),
      price: String(movie.price),
      maximumTickets: String(movie.maximumTickets),
      imageUrl: movie.imageUrl ?? '',
    },
  });
}
