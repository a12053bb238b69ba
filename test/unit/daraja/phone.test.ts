import { describe, expect, it } from 'vitest';
import { PHONE_MESSAGES, maskPhone, normalizePhone } from '../../../src/daraja/phone.js';

const M = PHONE_MESSAGES;

describe('normalizePhone', () => {
  it.each([
    ['0708374149', '254708374149'],
    ['0712345678', '254712345678'],
    ['0799999999', '254799999999'],
    ['0110123456', '254110123456'],
    ['0100123456', '254100123456'],
    ['+254708374149', '254708374149'],
    ['254708374149', '254708374149'],
    ['+254110123456', '254110123456'],
    ['254110123456', '254110123456'],
    ['0708 374 149', '254708374149'],
    ['0708-374-149', '254708374149'],
    ['+254 708 374 149', '254708374149'],
    ['+254-708-374-149', '254708374149'],
    ['254 708374149', '254708374149'],
    ['  0708374149  ', '254708374149'],
    ['0708\t374\u00a0149', '254708374149'],
    ['07 08 37 41 49', '254708374149'],
    ['712345678', '254712345678'],
    ['712 345 678', '254712345678'],
    ['110123456', '254110123456'],
  ])('when the input is %j, then it is normalised to %s', (input, phone) => {
    expect(normalizePhone(input)).toStrictEqual({ ok: true, value: phone });
  });

  it.each([
    ['', M.empty],
    ['   ', M.empty],
    ['+', M.empty],
    [' - ', M.empty],
    ['07O8374149', M.letters],
    ['phone', M.letters],
    ['0708374149x', M.letters],
    ['(0708) 374149', M.characters],
    ['0708.374.149', M.characters],
    ['0708374149#', M.characters],
    ['07083+74149', M.characters],
    ['0', M.tooShort],
    ['07', M.tooShort],
    ['070837414', M.tooShort],
    ['+25470837414', M.tooShort],
    ['254', M.tooShort],
    ['07083741490', M.tooLong],
    ['2547083741499', M.tooLong],
    ['+2547083741490', M.tooLong],
    ['0208374149', M.notKenyan],
    ['0508374149', M.notKenyan],
    ['+255712345678', M.notKenyan],
    ['255712345678', M.notKenyan],
    ['+1 202 555 0143', M.notKenyan],
    ['208374149', M.notKenyan],
    ['+708374149', M.notKenyan],
    ['00254708374149', M.notKenyan],
    ['+0708374149', M.notKenyan],
    ['2540708374149', M.zeroAfter254],
    ['+254 0708 374 149', M.zeroAfter254],
  ])('when the input is %j, then it is refused with a specific message', (input, message) => {
    expect(normalizePhone(input)).toStrictEqual({ ok: false, error: message });
  });

  it('when the input is not a string at all, then it is refused as empty rather than throwing', () => {
    expect(normalizePhone(undefined as unknown as string)).toStrictEqual({ ok: false, error: M.empty });
  });

  it('when messages are shown, then each kind of mistake reads differently', () => {
    expect(new Set(Object.values(M)).size).toBe(Object.keys(M).length);
  });
});

describe('maskPhone', () => {
  it.each([
    ['254708374149', '2547•••••149'],
    ['254110123456', '2541•••••456'],
    ['0708374149', '0708•••149'],
    ['12345', '•••••'],
  ])('when %s is masked, then it reads %s', (phone, masked) => {
    expect(maskPhone(phone)).toBe(masked);
  });
});
