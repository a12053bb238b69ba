import { describe, expect, it } from 'vitest';
import { parseStkCallback } from '../../../src/daraja/callback.schema.js';

// Shaped like the samples in Safaricom's M-Pesa Express documentation.
const success = () => ({
  Body: {
    stkCallback: {
      MerchantRequestID: '29115-34620561-1',
      CheckoutRequestID: 'ws_CO_191220191020363925',
      ResultCode: 0,
      ResultDesc: 'The service request is processed successfully.',
      CallbackMetadata: {
        Item: [
          { Name: 'Amount', Value: 1.0 },
          { Name: 'MpesaReceiptNumber', Value: 'NLJ7RT61SV' },
          { Name: 'TransactionDate', Value: 20191219102115 },
          { Name: 'PhoneNumber', Value: 254708374149 },
        ],
      },
    },
  },
});

const failure = (resultCode: unknown, resultDesc = 'Request cancelled by user') => ({
  Body: {
    stkCallback: {
      MerchantRequestID: '29115-34620561-1',
      CheckoutRequestID: 'ws_CO_191220191020363925',
      ResultCode: resultCode,
      ResultDesc: resultDesc,
    },
  },
});

describe('parseStkCallback', () => {
  it('when a success callback arrives, then every metadata field is read and TransactionDate is Nairobi time', () => {
    const r = parseStkCallback(success());
    expect(r).toStrictEqual({
      ok: true,
      value: {
        merchantRequestId: '29115-34620561-1',
        checkoutRequestId: 'ws_CO_191220191020363925',
        resultCode: '0',
        resultDesc: 'The service request is processed successfully.',
        succeeded: true,
        amount: 1,
        mpesaReceiptNumber: 'NLJ7RT61SV',
        // 10:21:15 in Nairobi is 07:21:15 UTC.
        transactionDate: new Date('2019-12-19T07:21:15.000Z'),
        phoneNumber: '254708374149',
      },
    });
  });

  it('when a failure callback arrives without CallbackMetadata, then it is read as failed with no payment fields', () => {
    const r = parseStkCallback(failure(1032));
    expect(r).toStrictEqual({
      ok: true,
      value: {
        merchantRequestId: '29115-34620561-1',
        checkoutRequestId: 'ws_CO_191220191020363925',
        resultCode: '1032',
        resultDesc: 'Request cancelled by user',
        succeeded: false,
      },
    });
  });

  it.each([
    ['the string "0"', '0', '0', true],
    ['the string "1032"', '1032', '1032', false],
    ['the non-numeric string "SFC_IC0003"', 'SFC_IC0003', 'SFC_IC0003', false],
    ['the number 2001', 2001, '2001', false],
  ])('when ResultCode is %s, then resultCode is %j', (_l, code, expected, succeeded) => {
    const r = parseStkCallback(failure(code, 'x'));
    expect(r.ok && r.value.resultCode).toBe(expected);
    expect(r.ok && r.value.succeeded).toBe(succeeded);
  });

  it('when a metadata item has no Value (Balance), then it is skipped and the rest is read', () => {
    const body = success();
    body.Body.stkCallback.CallbackMetadata.Item.push({ Name: 'Balance' } as { Name: string; Value: number });
    const r = parseStkCallback(body);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).not.toHaveProperty('balance');
    expect(r.value.mpesaReceiptNumber).toBe('NLJ7RT61SV');
  });

  it('when metadata values come as strings, then Amount becomes a number and PhoneNumber a string', () => {
    const body = success();
    body.Body.stkCallback.CallbackMetadata.Item = [
      { Name: 'Amount', Value: '45' as unknown as number },
      { Name: 'PhoneNumber', Value: '254708374149' as unknown as number },
      { Name: 'Balance', Value: 100 },
    ];
    const r = parseStkCallback(body);
    expect(r.ok && r.value).toMatchObject({ amount: 45, phoneNumber: '254708374149', balance: 100 });
  });

  it.each([[20191332102115], ['2019-12-19 10:21:15'], ['yesterday']])(
    'when TransactionDate is %j (not a real date), then the callback is kept without a transactionDate',
    (value) => {
      const body = success();
      body.Body.stkCallback.CallbackMetadata.Item[2] = { Name: 'TransactionDate', Value: value as number };
      const r = parseStkCallback(body);
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      expect(r.value.succeeded).toBe(true);
      expect(r.value.mpesaReceiptNumber).toBe('NLJ7RT61SV');
      expect(r.value).not.toHaveProperty('transactionDate');
    },
  );

  it('when a metadata item is malformed, then it is skipped instead of losing the payment', () => {
    const body = success();
    (body.Body.stkCallback.CallbackMetadata.Item as unknown[]).push('junk', { Value: 3 }, null);
    const r = parseStkCallback(body);
    expect(r.ok && r.value.amount).toBe(1);
  });

  it.each([
    ['null', null],
    ['a string', 'hello'],
    ['an array', [success()]],
    ['an empty object', {}],
    ['a body without stkCallback', { Body: {} }],
    ['the stkCallback without its Body wrapper', success().Body],
    ['a callback without CheckoutRequestID', { Body: { stkCallback: { MerchantRequestID: '1', ResultCode: 0, ResultDesc: 'x' } } }],
    ['a callback with an empty CheckoutRequestID', { Body: { stkCallback: { MerchantRequestID: '1', CheckoutRequestID: ' ', ResultCode: 0 } } }],
    ['a callback without ResultCode', { Body: { stkCallback: { MerchantRequestID: '1', CheckoutRequestID: 'ws_CO_1', ResultDesc: 'x' } } }],
    ['a ResultCode of 1.5', failure(1.5)],
    ['an empty ResultCode', failure('')],
    ['a ResultCode of true', failure(true)],
  ])('when the body is %s, then it is not a callback and the error says where', (_l, body) => {
    const r = parseStkCallback(body);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toMatch(/^not an STK callback: /);
  });

  it('when CheckoutRequestID is missing, then the error names it', () => {
    const r = parseStkCallback({ Body: { stkCallback: { MerchantRequestID: '1', ResultCode: 0 } } });
    expect(!r.ok && r.error).toContain('Body.stkCallback.CheckoutRequestID');
  });
});
