import type { DbTime } from '../core/db/schema.js';
import { fromDbTime } from '../core/db/time.js';
import { formatNairobi, toNairobiIso } from '../core/time.js';

// Nairobi is UTC+3 all year (no daylight saving), as src/core/time.ts explains, so a day is a fixed UTC window.
const NAIROBI_OFFSET_MS = 3 * 3600_000;
const DAY_MS = 86_400_000;

/** A time as pages show it: machine-readable ISO with +03:00, a human text, and a precise stamp for timelines. */
export interface TimeView {
  iso: string;
  text: string;
  /** 'YYYY-MM-DD HH:MM:SS' on the Nairobi wall clock. */
  stamp: string;
}

export function timeView(value: DbTime | Date): TimeView {
  const at = value instanceof Date ? value : fromDbTime(value);
  const iso = toNairobiIso(at);
  let text: string | undefined;
  return {
    iso,
    stamp: iso.slice(0, 19).replace('T', ' '),
    // Intl formatting is the costliest part of a list row, and lists show the stamp: format only when read.
    get text() {
      return (text ??= formatNairobi(at));
    },
  };
}

export function timeViewOrNull(value: DbTime | Date | null | undefined): TimeView | null {
  return value === null || value === undefined ? null : timeView(value);
}

/** The Nairobi calendar date of an instant, 'YYYY-MM-DD'. */
export function nairobiDate(at: Date): string {
  return toNairobiIso(at).slice(0, 10);
}

/** True for a real calendar date written 'YYYY-MM-DD'. */
export function isCalendarDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === s;
}

/** The UTC instant at which Nairobi date 'YYYY-MM-DD' begins (21:00 UTC the evening before). */
export function nairobiDayStart(date: string): Date {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d) - NAIROBI_OFFSET_MS);
}

/** [start, end) of the Nairobi day that contains `at`. */
export function nairobiDayOf(at: Date): { start: Date; end: Date; date: string } {
  const date = nairobiDate(at);
  const start = nairobiDayStart(date);
  return { start, end: new Date(start.getTime() + DAY_MS), date };
}

export function addDays(at: Date, days: number): Date {
  return new Date(at.getTime() + days * DAY_MS);
}
