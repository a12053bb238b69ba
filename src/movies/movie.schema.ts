import { z } from 'zod';
import { fieldErrors } from '../core/errors.js';
import { err, ok, type Result } from '../core/result.js';

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

/** Parses a movie from the admin form or the JSON API: the movie, or a message per field. */
export function parseMovieInput(body: unknown): Result<MovieInput, Record<string, string>> {
  const parsed = movieInputSchema.safeParse(body ?? {});
  return parsed.success ? ok(parsed.data) : err(fieldErrors(parsed.error));
}
