import { describe, expect, it } from 'vitest';
import { comparePhone, plainPhone, queryInboxBody, readInboxBody } from '../../../src/payments/payment-result.js';

const receivedAt = '2025-05-14 17:15:00.000';
const row = (body: string, source: 'callback' | 'query' = 'callback') => ({ source, body, receivedAt });

describe('reading a stored callback body', () => {
  it('when the body is a Daraja success, then amount, phone, receipt and the Nairobi TransactionDate are read', () => {
    const r = readInboxBody(row(JSON.stringify({
      Body: { stkCallback: {
        MerchantRequestID: 'm', CheckoutRequestID: 'ws_CO_1', ResultCode: 0, ResultDesc: 'ok',
        CallbackMetadata: { Item: [
          { Name: 'Amount', Value: 45 }, { Name: 'MpesaReceiptNumber', Value: 'TEE2QR5JMI' }, { Name: 'Balance' },
          { Name: 'TransactionDate', Value: 20250514201201 }, { Name: 'PhoneNumber', Value: 254708374149 },
        ] },
      } },
    })));
    expect(r).toEqual({
      ok: true,
      value: {
        checkoutRequestId: 'ws_CO_1',
        result: {
          kind: 'paid', resultDesc: 'ok', receipt: 'TEE2QR5JMI', transactionDate: new Date('2025-05-14T17:12:01.000Z'),
          amount: 45, phone: '254708374149', confirmedBy: 'callback',
        },
      },
    });
  });

  it('when a success has no TransactionDate, then the time it arrived stands in, so the payment is still recorded', () => {
    const r = readInboxBody(row(JSON.stringify({ Body: { stkCallback: { MerchantRequestID: 'm', CheckoutRequestID: 'c', ResultCode: '0', CallbackMetadata: { Item: [
      { Name: 'Amount', Value: 45 }, { Name: 'MpesaReceiptNumber', Value: 'TEE2QR5JMI' }, { Name: 'PhoneNumber', Value: 254708374149 },
    ] } } } })));
    expect(r.ok && r.value.result.kind === 'paid' && r.value.result.transactionDate.toISOString()).toBe('2025-05-14T17:15:00.000Z');
    expect(r.ok && r.value.result.kind === 'paid' && r.value.result.receipt).toBe('TEE2QR5JMI');
  });

  it('when a success lacks its receipt, Amount or PhoneNumber, or its receipt is not letters and digits, then it is not ok: no evidence of a payment', () => {
    const success = (items: unknown[]) => row(JSON.stringify({ Body: { stkCallback: { MerchantRequestID: 'm', CheckoutRequestID: 'c', ResultCode: 0, CallbackMetadata: { Item: items } } } }));
    const amount = { Name: 'Amount', Value: 45 };
    const receipt = { Name: 'MpesaReceiptNumber', Value: 'TEE2QR5JMI' };
    const phone = { Name: 'PhoneNumber', Value: 254708374149 };
    expect(readInboxBody(row(JSON.stringify({ Body: { stkCallback: { MerchantRequestID: 'm', CheckoutRequestID: 'c', ResultCode: '0' } } })))).toEqual({
      ok: false, error: 'a success without MpesaReceiptNumber, Amount, PhoneNumber in its CallbackMetadata is no evidence of a payment',
    });
    expect(readInboxBody(success([amount, phone]))).toEqual({ ok: false, error: 'a success without MpesaReceiptNumber in its CallbackMetadata is no evidence of a payment' });
    expect(readInboxBody(success([receipt, phone]))).toEqual({ ok: false, error: 'a success without Amount in its CallbackMetadata is no evidence of a payment' });
    expect(readInboxBody(success([receipt, amount]))).toEqual({ ok: false, error: 'a success without PhoneNumber in its CallbackMetadata is no evidence of a payment' });
    for (const bad of ['TEE2 QR5JM', 'TEE2_QR5JM', 'ТЕЕ2QR5JMI', 'A'.repeat(21)]) {
      expect(readInboxBody(success([amount, phone, { Name: 'MpesaReceiptNumber', Value: bad }])).ok, bad).toBe(false);
    }
    expect(readInboxBody(success([amount, phone, receipt])).ok).toBe(true);
    // A failure needs no metadata at all.
    expect(readInboxBody(row(JSON.stringify({ Body: { stkCallback: { MerchantRequestID: 'm', CheckoutRequestID: 'c', ResultCode: 1032, ResultDesc: 'x' } } }))).ok).toBe(true);
  });

  it('when ResultCode is a non-numeric string, then it is a failure with that code', () => {
    const r = readInboxBody(row(JSON.stringify({ Body: { stkCallback: { MerchantRequestID: 'm', CheckoutRequestID: 'c', ResultCode: 'SFC_IC0003', ResultDesc: 'x' } } })));
    expect(r).toEqual({ ok: true, value: { checkoutRequestId: 'c', result: { kind: 'failed', resultCode: 'SFC_IC0003', resultDesc: 'x' } } });
  });

  it('when the body is empty, not JSON, not a callback, or has an absurd id, then it is not ok with a reason', () => {
    expect(readInboxBody(row(''))).toEqual({ ok: false, error: 'empty body' });
    expect(readInboxBody(row('{'))).toEqual({ ok: false, error: 'body is not JSON' });
    expect(readInboxBody(row('[1,2]')).ok).toBe(false);
    const long = readInboxBody(row(JSON.stringify({ Body: { stkCallback: { MerchantRequestID: 'm', CheckoutRequestID: 'x'.repeat(65), ResultCode: 0 } } })));
    expect(long.ok).toBe(false);
  });

  it('when the row holds our stored STK Query answer, then a "0" is paid by query without receipt, dated when it arrived', () => {
    expect(readInboxBody(row(queryInboxBody('ws_CO_9', { resultCode: '0', resultDesc: 'ok' }), 'query'))).toEqual({
      ok: true,
      value: {
        checkoutRequestId: 'ws_CO_9',
        result: { kind: 'paid', resultDesc: 'ok', receipt: null, transactionDate: new Date('2025-05-14T17:15:00.000Z'), confirmedBy: 'query' },
      },
    });
    expect(readInboxBody(row(queryInboxBody('ws_CO_9', { resultCode: '1032', resultDesc: 'cancelled' }), 'query'))).toMatchObject({
      ok: true, value: { result: { kind: 'failed', resultCode: '1032' } },
    });
  });
});

describe('comparing a callback phone with the ticket phone', () => {
  it.each([
    ['254708374149', 'same'],
    ['0708374149', 'same'],
    ['+254 708 374 149', 'same'],
    ['254708374148', 'different'],
    ['2547*****149', 'same'],
    ['2547*****148', 'different'],
    ['2547****149', 'different'],
    ['0e7a3f9c4b2d8e1a5f6c7b8a9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e', 'unknown'],
  ])('when the callback says %s, then it is %s', (phone, expected) => {
    expect(comparePhone(phone, '254708374149')).toBe(expected);
  });

  it('when a phone is masked or hashed, then it cannot be used for matching attempts', () => {
    expect(plainPhone('2547*****149')).toBeUndefined();
    expect(plainPhone('254708374149')).toBe('254708374149');
  });
});
