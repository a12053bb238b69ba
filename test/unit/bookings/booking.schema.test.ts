import { describe, expect, it } from 'vitest';
import { BOOKING_MESSAGES, bookingFormSchema, formValues } from '../../../src/bookings/booking.schema.js';
import { notEnoughLeftMessage } from '../../../src/bookings/booking.service.js';
import { isTicketRef, newTicketRef } from '../../../src/bookings/ticket-ref.js';

const valid = { movieId: '4', customerName: '  Amina Wanjiru ', phoneNumber: '0712-345 678', quantity: '3', email: '' };

describe('booking form schema', () => {
  const schema = bookingFormSchema(10);

  it('when the form is valid, then the name is trimmed, the phone normalized, the quantity a number and a blank email null', () => {
    expect(schema.parse(valid)).toEqual({ movieId: 4, customerName: 'Amina Wanjiru', phoneNumber: '254712345678', quantity: 3, email: null });
    expect(schema.parse({ ...valid, email: ' a@b.co ', quantity: '010' })).toMatchObject({ email: 'a@b.co', quantity: 10 });
  });

  it.each([
    ['0', BOOKING_MESSAGES.quantityMin],
    ['-1', BOOKING_MESSAGES.quantityMin],
    ['11', BOOKING_MESSAGES.quantityMax(10)],
    ['2.5', BOOKING_MESSAGES.quantityWhole],
    ['abc', BOOKING_MESSAGES.quantityWhole],
    ['1e1', BOOKING_MESSAGES.quantityWhole],
    ['0x3', BOOKING_MESSAGES.quantityWhole],
    ['+3', BOOKING_MESSAGES.quantityWhole],
    ['9'.repeat(400), BOOKING_MESSAGES.quantityMax(10)],
    ['', BOOKING_MESSAGES.quantityRequired],
  ])('when the quantity is %j, then the message is %j', (quantity, message) => {
    const r = schema.safeParse({ ...valid, quantity });
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => [i.path[0], i.message])).toEqual([['quantity', message]]);
  });

  it('when MAX_TICKETS_PER_BOOKING is 4, then 5 is refused with that number', () => {
    const r = bookingFormSchema(4).safeParse({ ...valid, quantity: '5' });
    expect(r.error!.issues[0]!.message).toBe('You can book at most 4 tickets at a time.');
  });

  it('when a field is an array or missing, then it is refused with a message, not a crash', () => {
    const r = schema.safeParse({ movieId: '1', customerName: ['a', 'b'], quantity: '1' });
    const fields = Object.fromEntries(r.error!.issues.map((i) => [i.path[0], i.message]));
    expect(fields.customerName).toBe(BOOKING_MESSAGES.notText);
    expect(fields.phoneNumber).toBe('Enter the M-Pesa phone number that will pay.');
  });

  it('when a name is 100 characters, then it passes; 101 does not; unicode names pass', () => {
    expect(schema.safeParse({ ...valid, customerName: 'a'.repeat(100) }).success).toBe(true);
    expect(schema.safeParse({ ...valid, customerName: 'a'.repeat(101) }).success).toBe(false);
    expect(schema.parse({ ...valid, customerName: 'Njeri Wa Kĩmani 🎬' }).customerName).toBe('Njeri Wa Kĩmani 🎬');
  });

  it('when values are echoed back, then only the text fields are kept, as their first value, cut to a sane length', () => {
    expect(formValues({ customerName: ['x', 'y'], phoneNumber: 5, quantity: '2', email: 'e'.repeat(1000), _csrf: 't' }))
      .toEqual({ customerName: 'x', quantity: '2', email: 'e'.repeat(300) });
    expect(formValues(undefined)).toEqual({});
  });
});

describe('ticket references', () => {
  it('when refs are made, then each is 24 base64url characters (144 bits) and they never repeat', () => {
    const refs = new Set(Array.from({ length: 5000 }, () => newTicketRef()));
    expect(refs.size).toBe(5000);
    for (const r of refs) {
      expect(isTicketRef(r)).toBe(true);
      expect(Buffer.from(r, 'base64url')).toHaveLength(18);
    }
  });

  it('when a ref is malformed, then it is not looked up', () => {
    for (const r of ['', '123', 'A'.repeat(23), 'A'.repeat(25), `${'A'.repeat(23)}/`, `${'A'.repeat(23)}=`]) expect(isTicketRef(r)).toBe(false);
  });
});

describe('not enough tickets', () => {
  it('when 0, 1 or 2 are left, then the sentence says so', () => {
    expect(notEnoughLeftMessage(0)).toBe('This show is sold out.');
    expect(notEnoughLeftMessage(-2)).toBe('This show is sold out.');
    expect(notEnoughLeftMessage(1)).toBe('Only 1 ticket is left for this show.');
    expect(notEnoughLeftMessage(2)).toBe('Only 2 tickets are left for this show.');
  });
});
