import { describe, expect, it } from 'vitest';
import { darajaTimestamp, parseDarajaTimestamp, toNairobiIso } from '../../../src/core/time.js';

describe('Nairobi time', () => {
  it('when it is 21:30 UTC, then the Daraja timestamp is 00:30 the next day in Nairobi', () => {
    expect(darajaTimestamp(new Date('2025-05-14T21:30:05Z'))).toBe('20250515003005');
  });
  it('when a TransactionDate arrives as a number, then it is read as Nairobi wall-clock time', () => {
    expect(parseDarajaTimestamp(20250514201201)?.toISOString()).toBe('2025-05-14T17:12:01.000Z');
  });
  it('when a timestamp is not a real date, then it is refused', () => {
    expect(parseDarajaTimestamp('20250230101010')).toBeUndefined();
    expect(parseDarajaTimestamp('2025051420120')).toBeUndefined();
    expect(parseDarajaTimestamp('abc')).toBeUndefined();
  });
  it('when shown as ISO, then it carries the +03:00 offset', () => {
    expect(toNairobiIso(new Date('2025-05-14T17:12:01Z'))).toBe('2025-05-14T20:12:01+03:00');
  });
});
