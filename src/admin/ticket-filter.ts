import type { PaymentStatus } from '../core/db/schema.js';
import { normalizePhone } from '../daraja/phone.js';
import type { PhoneMatch } from '../store/ticket-lists.repository.js';
import { isCalendarDate } from './nairobi.js';

export const PAYMENT_STATUSES: readonly PaymentStatus[] = ['Pending', 'Paid', 'Failed'];


/** The tickets filter, as parsed from the query string. Dates are Nairobi calendar dates, both ends inclusive. */
export interface TicketFilter {
  movieId?: number;
  status?: PaymentStatus;
  from?: string;
  to?: string;
  phone?: PhoneMatch;
  /** A ticket code or an M-Pesa receipt, upper-cased, spaces and dashes removed. */
  find?: string;
}

/** What the operator typed, echoed back into the form. */
export interface TicketFilterValues {
  movie: string;
  status: string;
  from: string;
  to: string;
  phone: string;
  find: string;
}

export interface ParsedTicketFilter {
  filter: TicketFilter;
  values: TicketFilterValues;
  errors: Partial<Record<keyof TicketFilterValues, string>>;
}

/** Fewer digits than this match thousands of numbers and no index can find them fast; the counter asks for four. */
export const MIN_PHONE_DIGITS = 4;

const one = (v: unknown): string => (typeof v === 'string' ? v.trim() : Array.isArray(v) && typeof v[0] === 'string' ? v[0].trim() : '');

/** Reads the filter fields of a query string; every problem is reported per field, nothing is thrown. */
export function parseTicketFilter(query: Record<string, unknown>): ParsedTicketFilter {
  const values: TicketFilterValues = {
    movie: one(query.movie),
    status: one(query.status),
    from: one(query.from),
    to: one(query.to),
    phone: one(query.phone).slice(0, 40),
    find: one(query.find).slice(0, 40),
  };
  const filter: TicketFilter = {};
  const errors: ParsedTicketFilter['errors'] = {};

  if (values.movie !== '') {
    const n = Number(values.movie);
    if (/^\d{1,10}$/.test(values.movie) && Number.isSafeInteger(n) && n > 0) filter.movieId = n;
    else errors.movie = 'Choose a movie from the list.';
  }
  if (values.status !== '') {
    if ((PAYMENT_STATUSES as readonly string[]).includes(values.status)) filter.status = values.status as PaymentStatus;
    else errors.status = 'Choose Pending, Paid or Failed.';
  }
  for (const key of ['from', 'to'] as const) {
    if (values[key] === '') continue;
    if (isCalendarDate(values[key])) filter[key] = values[key];
    else errors[key] = 'Enter a date as YYYY-MM-DD, e.g. 2025-05-14.';
  }
  if (filter.from && filter.to && filter.to < filter.from) errors.to = 'The end date is before the start date.';

  if (values.phone !== '') {
    const phone = parsePhoneMatch(values.phone);
    if (phone) filter.phone = phone;
    else errors.phone = `Enter at least the last ${MIN_PHONE_DIGITS} digits of the phone number (digits only), or the whole number.`;
  }
  if (values.find !== '') {
    const v = values.find.replace(/[\s-]+/g, '').toUpperCase();
    if (/^[A-Z0-9]{8,20}$/.test(v)) filter.find = v;
    else errors.find = 'Enter a ticket code (8 letters and digits) or an M-Pesa receipt (10 letters and digits).';
  }
  return { filter, values, errors };
}

/** A whole Kenyan number matches exactly; otherwise 4 to 12 digits match the end of the stored 254XXXXXXXXX. */
export function parsePhoneMatch(input: string): PhoneMatch | undefined {
  const digits = input.replace(/[\s-]/g, '');
  if (!/^\+?\d+$/.test(digits)) return undefined;
  const bare = digits.replace(/^\+/, '');
  if (bare.length >= 10) {
    const n = normalizePhone(input);
    if (n.ok) return { kind: 'exact', phone: n.value };
  }
  if (digits.startsWith('+') || bare.length < MIN_PHONE_DIGITS || bare.length > 12) return undefined;
  return { kind: 'tail', digits: bare };
}

/** The filter as query-string pairs, for page links and the CSV link (empty fields left out). */
export function filterQuery(values: TicketFilterValues, extra: Record<string, string | undefined> = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...values, ...extra })) if (v) params.set(k, v);
  const s = params.toString();
  return s ? `?${s}` : '';
}
