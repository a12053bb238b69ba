import { z } from 'zod';
import { fieldErrors } from '../core/errors.js';
import { err, ok, type Result } from '../core/result.js';
import { normalizePhone } from '../daraja/phone.js';

/** Customer-facing messages of the booking form, one per field and problem. */
export const BOOKING_MESSAGES = {
  nameRequired: 'Enter your name.',
  nameTooLong: 'Your name can be at most 100 characters.',
  nameControl: 'Your name contains characters we cannot print on a ticket.',
  quantityRequired: 'Enter how many tickets you want.',
  quantityWhole: 'Enter the number of tickets as a whole number, like 2.',
  quantityMin: 'Choose at least 1 ticket.',
  quantityMax: (max: number) => `You can book at most ${max} tickets at a time.`,
  email: 'Enter an email address like name@example.com, or leave it empty.',
  notText: 'Enter this field once, as text.',
} as const;

/** What a valid form gives the service: trimmed name, 254XXXXXXXXX, a whole quantity in range, an email or null. */
export interface BookingInput {
  movieId: number;
  customerName: string;
  phoneNumber: string;
  quantity: number;
  email: string | null;
}

/** A form field: missing reads as empty; an array (the field sent twice) or anything else is refused. */
const text = () => z.preprocess((v) => (v === undefined || v === null ? '' : v), z.string({ error: BOOKING_MESSAGES.notText }));

/** The booking form's schema; the maximum comes from MAX_TICKETS_PER_BOOKING. */
export function bookingFormSchema(maxTickets: number) {
  return z.object({
    movieId: text().pipe(
      z.string().trim().regex(/^\d{1,9}$/, 'Choose a movie.').transform(Number),
    ),
    customerName: text().pipe(
      z
        .string()
        .trim()
        .min(1, BOOKING_MESSAGES.nameRequired)
        .max(100, BOOKING_MESSAGES.nameTooLong)
        // Control characters, line separators and bidi overrides (which make a name read differently on admin pages).
        .refine((s) => !/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/.test(s), BOOKING_MESSAGES.nameControl),
    ),
    phoneNumber: text().transform((s, ctx) => {
      const r = normalizePhone(s);
      if (!r.ok) {
        ctx.addIssue({ code: 'custom', message: r.error });
        return z.NEVER;
      }
      return r.value;
    }),
    quantity: text().pipe(
      z
        .string()
        .trim()
        .min(1, BOOKING_MESSAGES.quantityRequired)
        .transform((s, ctx) => {
          // Digits only: no 2.5, 1e1, 0x10, -1 or '+3'; a leading minus gets its own message.
          if (/^-\d+$/.test(s)) {
            ctx.addIssue({ code: 'custom', message: BOOKING_MESSAGES.quantityMin });
            return z.NEVER;
          }
          if (!/^\d+$/.test(s)) {
            ctx.addIssue({ code: 'custom', message: BOOKING_MESSAGES.quantityWhole });
            return z.NEVER;
          }
          // Long digit strings are above any maximum; compare without trusting Number() past 2^53.
          const n = s.replace(/^0+(?=\d)/, '').length > 6 ? Number.MAX_SAFE_INTEGER : Number(s);
          if (n < 1) ctx.addIssue({ code: 'custom', message: BOOKING_MESSAGES.quantityMin });
          else if (n > maxTickets) ctx.addIssue({ code: 'custom', message: BOOKING_MESSAGES.quantityMax(maxTickets) });
          return n;
        }),
    ),
    email: text().pipe(
      z
        .string()
        .trim()
        .max(254, BOOKING_MESSAGES.email)
        .transform((s, ctx) => {
          if (s === '') return null;
          if (!z.email().safeParse(s).success) {
            ctx.addIssue({ code: 'custom', message: BOOKING_MESSAGES.email });
            return z.NEVER;
          }
          return s;
        }),
    ),
  });
}

/** The typed values to put back in the form, as strings (a repeated field becomes its first value). */
export function formValues(body: unknown): Record<string, string> {
  const src = body && typeof body === 'object' ? (body as Record<string, unknown>) : {};
  const out: Record<string, string> = {};
  for (const k of ['customerName', 'phoneNumber', 'quantity', 'email']) {
    const v = src[k];
    const first = Array.isArray(v) ? v[0] : v;
    if (typeof first === 'string') out[k] = first.slice(0, 300);
  }
  return out;
}

/** What is wrong with a posted form: the movie it was for (when readable) and a message per field. */
export interface BookingFormProblems {
  movieId: number | undefined;
  errors: Record<string, string>;
}

/** Parses a posted booking form: the booking, or a message per field (formValues gives what was typed). */
export function parseBookingForm(body: unknown, maxTickets: number): Result<BookingInput, BookingFormProblems> {
  const parsed = bookingFormSchema(maxTickets).safeParse(body ?? {});
  if (parsed.success) return ok(parsed.data);
  const rawId = (body as Record<string, unknown> | undefined)?.movieId;
  const id = Number(typeof rawId === 'string' ? rawId.trim() : NaN);
  const errors = fieldErrors(parsed.error);
  delete errors.movieId;
  return err({ movieId: Number.isSafeInteger(id) && id > 0 ? id : undefined, errors });
}

