import { z } from 'zod';
import type { Db } from '../core/db/database.js';
import type { Movie } from '../core/db/schema.js';
import { fromDbTime, toDbTime } from '../core/db/time.js';
import { NotFoundError, ValidationError } from '../core/errors.js';
import { formatNairobi, toNairobiIso } from '../core/time.js';
import { findMovie, insertMovie, listMovies, updateMovie } from './movie.repository.js';

/** A movie as pages and the JSON API show it. */
export interface MovieView {
  movieId: number;
  title: string;
  description: string;
  /** ISO-8601 with the Nairobi offset. */
  showTime: string;
  showTimeDisplay: string;
  price: number;
  maximumTickets: number;
  ticketsLeft: number;
  imageUrl: string | null;
  soldOut: boolean;
  started: boolean;
}

export function toMovieView(m: Movie, now = new Date()): MovieView {
  const show = fromDbTime(m.showTime);
  const ticketsLeft = Math.max(0, m.maximumTickets - m.ticketsHeld);
  return {
    movieId: m.movieId,
    title: m.title,
    description: m.description,
    showTime: toNairobiIso(show),
    showTimeDisplay: formatNairobi(show),
    price: m.price,
    maximumTickets: m.maximumTickets,
    ticketsLeft,
    imageUrl: m.imageUrl,
    soldOut: ticketsLeft === 0,
    started: show.getTime() <= now.getTime(),
  };
}

const wholeNumber = (field: string, min: number, max: number) =>
  z.union([z.number(), z.string().trim().regex(/^-?\d+(\.\d+)?$/, `${field} must be a number`).transform(Number)], {
    error: `${field} is required`,
  })
    .refine((n) => Number.isInteger(n), `${field} must be whole shillings or a whole number, without cents`)
    .refine((n) => n >= min, `${field} must be at least ${min}`)
    .refine((n) => n <= max, `${field} must be at most ${max.toLocaleString('en-KE')}`);

/**
 * Show times come from the admin form as Nairobi wall-clock 'YYYY-MM-DDTHH:mm' (a datetime-local input), or from the
 * API as ISO-8601 with an offset or Z.
 */
export function parseShowTime(input: string): Date | undefined {
  const s = input.trim();
  const local = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?$/.exec(s);
  if (local) {
    const [y, mo, d, h, mi, se] = local.slice(1).map((v) => Number(v ?? 0)) as number[];
    const date = new Date(Date.UTC(y!, mo! - 1, d!, h! - 3, mi!, se!));
    return Number.isNaN(date.getTime()) ? undefined : date;
  }
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(s)) {
    const date = new Date(s);
    return Number.isNaN(date.getTime()) ? undefined : date;
  }
  return undefined;
}

export const movieInputSchema = z.object({
  title: z.string({ error: 'Title is required' }).trim().min(1, 'Title is required').max(200, 'Title must be at most 200 characters'),
  description: z.string().trim().max(2000, 'Description must be at most 2,000 characters').default(''),
  showTime: z
    .string({ error: 'Show time is required' })
    .min(1, 'Show time is required')
    .transform((s, ctx) => {
      const d = parseShowTime(s);
      if (!d) {
        ctx.addIssue({ code: 'custom', message: 'Show time must be a date and time, e.g. 2026-12-24T20:30 (Nairobi time)' });
        return z.NEVER;
      }
      return d;
    }),
  price: wholeNumber('Price', 1, 250_000),
  maximumTickets: wholeNumber('Maximum tickets', 1, 100_000),
  imageUrl: z
    .string()
    .trim()
    .max(500)
    .refine((s) => s === '' || /^\/[\w./-]+$/.test(s) || /^https:\/\/[^\s"'<>]+$/.test(s), 'Poster must be a path like /posters/x.svg or an https URL')
    .optional(),
});

export type MovieInput = z.infer<typeof movieInputSchema>;

/** zod issues → one message per field, for the 422 form and JSON. */
export function fieldErrors(error: z.ZodError): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const issue of error.issues) {
    const key = String(issue.path[0] ?? '_');
    fields[key] ??= issue.message;
  }
  return fields;
}

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

export class MovieService {
  constructor(private readonly db: Db, private readonly now: () => Date = () => new Date()) {}

  /** Movies whose show has not started, soonest first. */
  async nowShowing(): Promise<MovieView[]> {
    const now = this.now();
    return (await listMovies(this.db, { from: now })).map((m) => toMovieView(m, now));
  }

  async all(): Promise<MovieView[]> {
    const now = this.now();
    return (await listMovies(this.db)).map((m) => toMovieView(m, now));
  }

  async get(movieId: number): Promise<MovieView> {
    const m = Number.isSafeInteger(movieId) && movieId > 0 ? await findMovie(this.db, movieId) : undefined;
    if (!m) throw new NotFoundError('movie');
    return toMovieView(m, this.now());
  }

  /** Validates and creates a movie; throws ValidationError with a message per field. */
  async create(input: unknown): Promise<number> {
    return insertMovie(this.db, movieRow(this.validate(input, true)));
  }

  /** Edits a movie. Capacity cannot go below the tickets already held or sold. */
  async update(movieId: number, input: unknown): Promise<void> {
    const existing = Number.isSafeInteger(movieId) && movieId > 0 ? await findMovie(this.db, movieId) : undefined;
    if (!existing) throw new NotFoundError('movie');
    const data = this.validate(input, false);
    if (data.maximumTickets < existing.ticketsHeld) {
      throw new ValidationError({
        maximumTickets: `Maximum tickets cannot be below the ${existing.ticketsHeld} already sold or held`,
      });
    }
    const ok = await updateMovie(this.db, movieId, movieRow(data));
    if (!ok) {
      throw new ValidationError({ maximumTickets: 'Maximum tickets cannot be below the tickets already sold or held' });
    }
  }

  private validate(input: unknown, requireFuture: boolean): MovieInput {
    const parsed = movieInputSchema.safeParse(input ?? {});
    if (!parsed.success) throw new ValidationError(fieldErrors(parsed.error));
    if (requireFuture && parsed.data.showTime.getTime() <= this.now().getTime()) {
      throw new ValidationError({ showTime: 'Show time must be in the future' });
    }
    return parsed.data;
  }
}
