import { describe, expect, it } from 'vitest';
import { parseShowTime } from '../../../src/movies/movie.schema.js';

const at = (s: string) => {
  const r = parseShowTime(s);
  return r.ok ? r.value.toISOString() : `refused: ${r.error}`;
};

describe('parseShowTime', () => {
  it('when a Nairobi wall-clock time or an ISO time with an offset is given, then it is that instant', () => {
    expect(at('2027-02-28T20:00')).toBe('2027-02-28T17:00:00.000Z');
    expect(at('2027-02-28 20:00:30')).toBe('2027-02-28T17:00:30.000Z');
    expect(at('2028-02-29T20:00')).toBe('2028-02-29T17:00:00.000Z');
    expect(at('2027-12-31T23:59')).toBe('2027-12-31T20:59:00.000Z');
    expect(at('2027-02-28T20:00:00+03:00')).toBe('2027-02-28T17:00:00.000Z');
    expect(at('2027-02-28T20:00:00.250Z')).toBe('2027-02-28T20:00:00.250Z');
  });

  it('when the day does not exist in its month (30 February, 29 February of a common year, 31 April), then it is refused saying how many days the month has', () => {
    expect(at('2027-02-30T20:00')).toBe('refused: Show time is not a real date: February 2027 has 28 days');
    expect(at('2027-02-29T20:00')).toBe('refused: Show time is not a real date: February 2027 has 28 days');
    expect(at('2027-04-31T20:00')).toBe('refused: Show time is not a real date: April 2027 has 30 days');
    expect(at('2027-02-30T20:00:00+03:00')).toBe('refused: Show time is not a real date: February 2027 has 28 days');
    expect(at('2027-01-00T20:00')).toBe('refused: Show time is not a real date: January 2027 has 31 days');
  });

  it('when the month or the time of day does not exist, then it is refused, never rolled over', () => {
    expect(at('2027-13-01T20:00')).toBe('refused: Show time has no month 13: use 01 to 12');
    expect(at('2027-00-10T20:00')).toBe('refused: Show time has no month 0: use 01 to 12');
    for (const s of ['2027-02-28T24:00', '2027-02-28T23:60', '2027-02-28T20:00:60', '2027-02-28T24:00:00Z']) {
      expect(at(s), s).toBe('refused: Show time is not a real time of day: use 00:00 to 23:59');
    }
  });

  it('when the text is not a date and time at all, then it is refused with the format', () => {
    for (const s of ['next friday', '2027-02-28', '28/02/2027 20:00', '2027-2-28T20:00', '2027-02-28T20:00:00.5', '']) {
      expect(at(s), s).toBe('refused: Show time must be a date and time, e.g. 2026-12-24T20:30 (Nairobi time)');
    }
  });
});
