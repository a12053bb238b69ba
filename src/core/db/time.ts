import type { DbTime } from './schema.js';

/** A Date as stored: UTC 'YYYY-MM-DD HH:MM:SS.mmm', which sorts as text and is a valid MySQL DATETIME(3). */
export function toDbTime(at: Date): DbTime {
  return at.toISOString().replace('T', ' ').replace('Z', '');
}

/** A stored time back to a Date (mysql2 is set to return strings; a Date is accepted too). */
export function fromDbTime(value: DbTime | Date): Date {
  if (value instanceof Date) return value;
  return new Date(`${value.replace(' ', 'T')}Z`);
}
