import type { DatabaseHandle } from '../core/db/database.js';
import { toDbTime } from '../core/db/time.js';
import { inTransaction } from '../core/db/transaction.js';
import { err, ok, type Result } from '../core/result.js';
import { insertAudit } from '../store/audit.repository.js';
import { findMovie, insertMovie, listMovies, updateMovie } from '../store/movie.repository.js';
import type { MovieInput } from './movie.schema.js';
import { toMovieView, type MovieView } from './movie-view.js';

/** Why a movie was not saved: the movie does not exist, or fields to correct (one message each). */
export type MovieRefusal = { kind: 'not_found' } | { kind: 'invalid'; fields: Record<string, string> };

/** Validated input as the movie row stores it. */
function movieRow(data: MovieInput) {
  return {
    title: data.title,
    description: data.description,
    showTime: toDbTime(data.showTime),
    price: data.price,
    maximumTickets: data.maximumTickets,
    imageUrl: data.imageUrl || null,
  };
}

const isId = (n: number) => Number.isSafeInteger(n) && n > 0;

/** The catalogue, and the operator's movie writes (each audited in the same transaction as the change). */
export class MovieService {
  constructor(private readonly database: DatabaseHandle, private readonly now: () => Date = () => new Date()) {}

  /** Movies whose show has not started, soonest first. */
  async nowShowing(): Promise<MovieView[]> {
    const now = this.now();
    return (await listMovies(this.database.db, { from: now })).map((m) => toMovieView(m, now));
  }

  async get(movieId: number): Promise<Result<MovieView, { kind: 'not_found' }>> {
    const m = isId(movieId) ? await findMovie(this.database.db, movieId) : undefined;
    return m ? ok(toMovieView(m, this.now())) : err({ kind: 'not_found' });
  }

  /** Creates a movie whose show is in the future, audited as done by `actor`. */
  async create(input: MovieInput, actor: string): Promise<Result<number, MovieRefusal>> {
    const now = this.now();
    if (input.showTime.getTime() <= now.getTime()) return err({ kind: 'invalid', fields: { showTime: 'Show time must be in the future' } });
    const movieId = await inTransaction(this.database, async (tx) => {
      const id = await insertMovie(tx, movieRow(input), now);
      await insertAudit(tx, { at: now, actor, action: 'movie.created', detail: JSON.stringify({ movieId: id, title: input.title }) });
      return id;
    });
    return ok(movieId);
  }

  /** Edits a movie, audited as done by `actor`. Capacity cannot go below the tickets already held or sold. */
  async update(movieId: number, input: MovieInput, actor: string): Promise<Result<void, MovieRefusal>> {
    const now = this.now();
    const existing = isId(movieId) ? await findMovie(this.database.db, movieId) : undefined;
    if (!existing) return err({ kind: 'not_found' });
    if (input.maximumTickets < existing.ticketsHeld) {
      return err({ kind: 'invalid', fields: { maximumTickets: `Maximum tickets cannot be below the ${existing.ticketsHeld} already sold or held` } });
    }
    const saved = await inTransaction(this.database, async (tx) => {
      if (!(await updateMovie(tx, movieId, movieRow(input), now))) return false;
      await insertAudit(tx, {
        at: now, actor, action: 'movie.updated',
        detail: JSON.stringify({ movieId, title: input.title, maximumTickets: input.maximumTickets, price: input.price }),
      });
      return true;
    });
    // The held count moved past the new capacity between our read and the update.
    if (!saved) return err({ kind: 'invalid', fields: { maximumTickets: 'Maximum tickets cannot be below the tickets already sold or held' } });
    return ok(undefined);
  }
}
