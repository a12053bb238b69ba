import { describe, expect, it } from 'vitest';
import { GENERIC_FAILURE, describeResultCode, isKnownResultCode } from '../../../src/daraja/result-codes.js';

describe('describeResultCode', () => {
  it.each([
    ['1032', 'You cancelled the payment on your phone.'],
    ['1', 'Your M-Pesa balance was not enough.'],
    ['2001', 'The PIN was wrong.'],
    ['1037', 'Your phone could not be reached.'],
  ])('when the code is %s, then the customer reads %j', (code, sentence) => {
    expect(describeResultCode(code, 'whatever Daraja said')).toBe(sentence);
  });

  it.each([['17', /two minutes/], ['1001', /Another M-Pesa request was in progress on your phone/], ['1019', /expired/], ['1025', /could not send the payment prompt/], ['8006', /PIN is locked/]])(
    'when the code is %s, then the sentence explains it',
    (code, pattern) => { expect(describeResultCode(code)).toMatch(pattern); },
  );

  it('when the code is one of the amount-limit codes 2, 3, 4 or 8, then the sentence talks about the amount', () => {
    for (const code of ['2', '3', '4', '8']) expect(describeResultCode(code)).toMatch(/amount/);
  });

  it('when the code is 2028 or SFC_IC0003, then it is a set-up problem on the merchant\'s side, not the customer\'s', () => {
    expect(describeResultCode('2028')).toMatch(/set-up problem on our side/);
    expect(describeResultCode('SFC_IC0003', 'The operator does not exist')).toBe(describeResultCode('2028'));
  });

  it('when the code has surrounding spaces, then it is still recognised', () => {
    expect(describeResultCode(' 1032 ')).toBe('You cancelled the payment on your phone.');
  });

  it('when the code is unknown, then Daraja\'s ResultDesc is cleaned up and used', () => {
    expect(describeResultCode('9999', '[STK_CB - ]something   went  wrong')).toBe('Something went wrong.');
    expect(describeResultCode('9999', 'Already finished!')).toBe('Already finished!');
  });

  it('when the code is unknown and there is no readable ResultDesc, then a generic sentence is used', () => {
    expect(describeResultCode('9999')).toBe(GENERIC_FAILURE);
    expect(describeResultCode('9999', '  ')).toBe(GENERIC_FAILURE);
    expect(describeResultCode('9999', '[x] 42')).toBe(GENERIC_FAILURE);
  });

  it('when ResultDesc is very long, then it is cut', () => {
    expect(describeResultCode('9999', 'a'.repeat(500)).length).toBeLessThanOrEqual(200);
  });
});

describe('isKnownResultCode', () => {
  it('when the code is in Daraja\'s table (1032, SFC_IC0003, 1001), then it is known; 9999 and 4999 are not', () => {
    expect(['1032', ' 1037 ', 'SFC_IC0003', '1001', '0'].map(isKnownResultCode)).toStrictEqual([true, true, true, true, true]);
    expect(['9999', '4999', 'toString', ''].map(isKnownResultCode)).toStrictEqual([false, false, false, false]);
  });
});
