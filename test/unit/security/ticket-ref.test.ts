import { describe, expect, it } from 'vitest';
import { isTicketRef, newTicketRef } from '../../../src/bookings/ticket-ref.js';
import { maskPhone } from '../../../src/daraja/phone.js';

describe('ticket references', () => {
  it('when a reference is made, then it is base64url of at least 16 random bytes (128 bits)', () => {
    for (let i = 0; i < 200; i++) {
      const ref = newTicketRef();
      expect(ref).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(Buffer.from(ref, 'base64url').toString('base64url')).toBe(ref);
      expect(Buffer.from(ref, 'base64url').length).toBeGreaterThanOrEqual(16);
      expect(isTicketRef(ref)).toBe(true);
    }
  });

  it('when 5,000 references are made, then all differ, none is a neighbour of the previous one, and their bits look random', () => {
    const refs = Array.from({ length: 5000 }, () => newTicketRef());
    expect(new Set(refs).size).toBe(refs.length);
    const bytes = refs.map((r) => Buffer.from(r, 'base64url'));
    const bits = bytes[0]!.length * 8;
    // Every bit position is set in about half of the references (a counter or a timestamp fails this at once).
    for (let bit = 0; bit < bits; bit++) {
      const ones = bytes.filter((b) => (b[bit >> 3]! >> (7 - (bit & 7))) & 1).length;
      expect(ones / bytes.length, `bit ${bit}`).toBeGreaterThan(0.44);
      expect(ones / bytes.length, `bit ${bit}`).toBeLessThan(0.56);
    }
    // Consecutive references share about half their bits, never a long prefix.
    for (let i = 1; i < refs.length; i++) {
      expect(refs[i]!.slice(0, 6)).not.toBe(refs[i - 1]!.slice(0, 6));
    }
  });

  it('when a reference is short, padded, has other characters or is a number, then it is not a reference', () => {
    for (const bad of ['', '1', '12345', 'abc', `${newTicketRef()}=`, `${newTicketRef().slice(0, 20)}+/+/`, newTicketRef().slice(1), `${newTicketRef()}A`, '../../etc/passwd']) {
      expect(isTicketRef(bad), bad).toBe(false);
    }
  });

  it('when a phone is masked, then only the first four and last three digits show', () => {
    expect(maskPhone('254708374149')).toBe('2547•••••149');
    expect(maskPhone('254112345678')).toBe('2541•••••678');
    expect(maskPhone('254708374149')).not.toMatch(/0837|8374|3741/);
  });
});
