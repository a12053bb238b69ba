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

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/**
 * Why the day or time these fields spell does not exist, if it does not: Date.UTC (and Date's own ISO parser) would
 * roll 30 February into March, and an operator who mistyped must be told, not given a show on another date.
 */
function noSuchDateTime(y: number, mo: number, d: number, h: number, mi: number, se: number): string | undefined {
  if (mo < 1 || mo > 12) return `Show time has no month ${mo}: use 01 to 12`;
  const days = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  if (d < 1 || d > days) return `Show time is not a real date: ${MONTHS[mo - 1]} ${y} has ${days} days`;
  if (h > 23 || mi > 59 || se > 59) return 'Show time is not a real time of day: use 00:00 to 23:59';
  return undefined;
}

const FORMAT = 'Show time must be a date and time, e.g. 2026-12-24T20:30 (Nairobi time)';

/**
 * Show times come from the admin form as Nairobi wall-clock 'YYYY-MM-DDTHH:mm' (a datetime-local input), or from the
 * API as ISO-8601 with an offset or Z. A day or time that does not exist (2027-02-30, 24:00) is refused with its own
 * message. The error is the message for the form.
 */
export function parseShowTime(input: string): Result<Date, string> {
  const s = input.trim();
  const local = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?$/.exec(s);
  const iso = local ? undefined : /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})$/.exec(s);
  const m = local ?? iso;
  if (!m) return err(FORMAT);
  const [y, mo, d, h, mi, se] = m.slice(1, 7).map((v) => Number(v ?? 0)) as [number, number, number, number, number, number];
  const impossible = noSuchDateTime(y, mo, d, h, mi, se);
  if (impossible) return err(impossible);
  // Without an offset it is Nairobi time: UTC+3, no daylight saving.
  const date = local ? new Date(Date.UTC(y, mo - 1, d, h - 3, mi, se)) : new Date(s);
  return Number.isNaN(date.getTime()) ? err(FORMAT) : ok(date);
}

export const movieInputSchema = z.object({
  title: z.string({ error: 'Title is required' }).trim().min(1, 'Title is required').max(200, 'Title must be at most 200 characters'),
  description: z.string().trim().max(2000, 'Description must be at most 2,000 characters').default(''),
  showTime: z
    .string({ error: 'Show time is required' })
    .min(1, 'Show time is required')
    .transform((s, ctx) => {
      const d = parseShowTime(s);
      if (!d.ok) {
        ctx.addIssue({ code: 'custom', message: d.error });
        return z.NEVER;
      }
      return d.value;
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
