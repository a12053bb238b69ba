import { describe, expect, it } from 'vitest';
import { darajaTimestamp } from '../../../src/daraja/timestamp.js';
import { checkStkPush, checkStkQuery, type CheckContext } from '../../../src/simulator/daraja-requests.js';
import { SANDBOX_PASSKEY } from '../../../src/simulator/index.js';

const NOW = new Date('2025-05-14T17:12:01Z'); // 20:12:01 in Nairobi
const TS = darajaTimestamp(NOW);
// Strict, so that everything the real Daraja may refuse is refused; what the lenient default lets through is below.
const ctx: CheckContext = { passkey: SANDBOX_PASSKEY, now: NOW, strict: true };
const lenient: CheckContext = { ...ctx, strict: false };
const pw = (shortcode: string, ts: string, passkey = SANDBOX_PASSKEY) => Buffer.from(shortcode + passkey + ts).toString('base64');

const valid = (): Record<string, unknown> => ({
  BusinessShortCode: 174379,
  Password: pw('174379', TS),
  Timestamp: TS,
  TransactionType: 'CustomerPayBillOnline',
  Amount: 45,
  PartyA: 254712345678,
  PartyB: 174379,
  PhoneNumber: 254712345678,
  CallBackURL: 'https://tikiti.example.com/api/payments/callback/abc',
  AccountReference: 'Tikiti',
  TransactionDesc: 'Movie ticket',
});

const failureOf = (body: unknown, context = ctx) => {
  const result = checkStkPush(body, context);
  return result.ok ? undefined : result.error;
};

describe('STK push checks', () => {
  it('when every field is as Daraja documents, then the push passes with its fields normalised', () => {
    const result = checkStkPush(valid(), ctx);
    expect(result).toEqual({
      ok: true,
      value: {
        businessShortCode: '174379', timestamp: '20250514201201', transactionType: 'CustomerPayBillOnline', amount: 45,
        partyA: '254712345678', partyB: '174379', phoneNumber: '254712345678',
        callbackUrl: 'https://tikiti.example.com/api/payments/callback/abc', accountReference: 'Tikiti', transactionDesc: 'Movie ticket',
        warnings: [],
      },
    });
  });

  it('when numeric fields come as strings (Daraja accepts both), then the push passes', () => {
    const result = checkStkPush(
      { ...valid(), BusinessShortCode: '174379', Amount: '45', PartyA: '254112345678', PartyB: '174379', PhoneNumber: '254112345678' },
      ctx,
    );
    expect(result.ok && result.value).toMatchObject({ amount: 45, phoneNumber: '254112345678' });
  });

  it('when TransactionDesc is left out (the one optional field), then the push passes with an empty description', () => {
    const { TransactionDesc: _omit, ...body } = valid();
    const result = checkStkPush(body, ctx);
    expect(result.ok && result.value.transactionDesc).toBe('');
  });

  it.each([
    ['BusinessShortCode', 'missing', undefined],
    ['BusinessShortCode', 'too short', 1234],
    ['BusinessShortCode', 'too long', '12345678'],
    ['BusinessShortCode', 'not digits', '17437a'],
    ['Password', 'missing', undefined],
    ['Password', 'empty', ''],
    ['Timestamp', 'missing', undefined],
    ['Timestamp', 'not 14 digits', '2025051420120'],
    ['Timestamp', 'not a real date', '20250231201201'],
    ['Timestamp', 'six minutes behind', darajaTimestamp(new Date(NOW.getTime() - 6 * 60_000))],
    ['Timestamp', 'in UTC instead of Nairobi time', '20250514171201'],
    ['TransactionType', 'missing', undefined],
    ['TransactionType', 'unknown', 'CustomerPayBill'],
    ['Amount', 'missing', undefined],
    ['Amount', 'zero', 0],
    ['Amount', 'with cents', 45.5],
    ['Amount', 'a string with cents', '45.50'],
    ['Amount', 'above 250000', 250_001],
    ['Amount', 'negative', -5],
    ['PartyA', 'missing', undefined],
    ['PartyA', 'in local format', '0712345678'],
    ['PartyB', 'missing', undefined],
    ['PartyB', 'not a shortcode', 'abc'],
    ['PhoneNumber', 'missing', undefined],
    ['PhoneNumber', 'not Kenyan', 255712345678],
    ['PhoneNumber', 'a landline prefix', 254212345678],
    ['PhoneNumber', 'one digit short', '25471234567'],
    ['CallBackURL', 'missing', undefined],
    ['CallBackURL', 'not a URL', 'callback'],
    ['CallBackURL', 'with a space', 'https://tikiti.example.com/api/payments/callback/abc '],
    ['CallBackURL', 'not http(s)', 'ftp://tikiti.example.com/cb'],
    ['AccountReference', 'missing', undefined],
    ['AccountReference', 'empty', ''],
    ['AccountReference', '13 characters', 'ABCDEFGHIJKLM'],
    ['TransactionDesc', '14 characters', 'Movie tickets!'],
  ])('when %s is %s, then HTTP 400 400.002.02 "Bad Request - Invalid %s"', (field, _why, value) => {
    const body = { ...valid(), [field]: value };
    if (value === undefined) delete body[field];
    // The Password is rebuilt so that only the field under test is wrong.
    if (field === 'BusinessShortCode' && value !== undefined) body.Password = pw(String(value), TS);
    expect(failureOf(body)).toEqual({ status: 400, errorCode: '400.002.02', errorMessage: `Bad Request - Invalid ${field}` });
  });

  it('when AccountReference is exactly 12 and TransactionDesc exactly 13 characters, then the push passes', () => {
    expect(checkStkPush({ ...valid(), AccountReference: 'ABCDEFGHIJKL', TransactionDesc: 'ABCDEFGHIJKLM' }, ctx).ok).toBe(true);
  });

  it('when the body is not an object, then the first field is reported invalid', () => {
    expect(failureOf([1, 2])?.errorMessage).toBe('Bad Request - Invalid BusinessShortCode');
  });

  it('when the Password was built with another passkey, then HTTP 500 500.001.1001 "Wrong credentials"', () => {
    expect(failureOf({ ...valid(), Password: pw('174379', TS, 'another-passkey') })).toEqual({
      status: 500, errorCode: '500.001.1001', errorMessage: 'Wrong credentials',
    });
  });

  it('when the Password was built with another timestamp, then "Wrong credentials"', () => {
    const earlier = darajaTimestamp(new Date(NOW.getTime() - 60_000));
    expect(failureOf({ ...valid(), Password: pw('174379', earlier) })?.errorMessage).toBe('Wrong credentials');
  });

  it('when the Password is for another shortcode, then "Wrong credentials"', () => {
    expect(failureOf({ ...valid(), Password: pw('600000', TS) })?.errorMessage).toBe('Wrong credentials');
  });

  it('when the timestamp is four minutes off, then it is still accepted', () => {
    const ts = darajaTimestamp(new Date(NOW.getTime() + 4 * 60_000));
    expect(checkStkPush({ ...valid(), Timestamp: ts, Password: pw('174379', ts) }, ctx).ok).toBe(true);
  });

  it('when shortcodes are configured and the push is for another, then 500.001.1001 "Merchant does not exist"', () => {
    const failure = failureOf({ ...valid(), BusinessShortCode: 600000, Password: pw('600000', TS) }, { ...ctx, shortcodes: ['174379'] });
    expect(failure).toEqual({ status: 500, errorCode: '500.001.1001', errorMessage: 'Merchant does not exist' });
  });
});

describe('STK query checks', () => {
  const query = () => ({ BusinessShortCode: '174379', Password: pw('174379', TS), Timestamp: TS, CheckoutRequestID: 'ws_CO_1' });

  it('when the query is well formed, then it passes with the CheckoutRequestID', () => {
    expect(checkStkQuery(query(), ctx)).toEqual({ ok: true, value: { businessShortCode: '174379', checkoutRequestId: 'ws_CO_1', warnings: [] } });
  });

  it.each(['BusinessShortCode', 'Password', 'Timestamp', 'CheckoutRequestID'])(
    'when %s is missing, then "Bad Request - Invalid %s"',
    (field) => {
      const body: Record<string, unknown> = query();
      delete body[field];
      const result = checkStkQuery(body, ctx);
      expect(result.ok ? undefined : result.error).toEqual({
        status: 400, errorCode: '400.002.02', errorMessage: `Bad Request - Invalid ${field}`,
      });
    },
  );

  it('when the query Password does not match, then "Wrong credentials"', () => {
    const result = checkStkQuery({ ...query(), Password: pw('174379', TS, 'nope') }, ctx);
    expect(result.ok ? undefined : result.error.errorMessage).toBe('Wrong credentials');
  });
});

describe('what the real Daraja may refuse, outside strict mode', () => {
  const UTC_TS = '20250514171201'; // the same instant as TS, written in UTC as Safaricom's own Node library does

  it('when the Timestamp is UTC, then the push passes with a warning that says it looks like UTC', () => {
    const result = checkStkPush({ ...valid(), Timestamp: UTC_TS, Password: pw('174379', UTC_TS) }, lenient);
    expect(result.ok && result.value.warnings).toStrictEqual([
      'the real Daraja may refuse this: Timestamp 20250514171201 is 180 minutes behind Nairobi time (UTC+3); it looks like UTC.',
    ]);
    expect(result.ok && result.value.timestamp).toBe(UTC_TS);
  });

  it('when the Timestamp is a day off, then it passes with a warning that does not call it UTC', () => {
    const ts = darajaTimestamp(new Date(NOW.getTime() - 24 * 3600_000));
    const result = checkStkPush({ ...valid(), Timestamp: ts, Password: pw('174379', ts) }, lenient);
    expect(result.ok && result.value.warnings).toStrictEqual([
      `the real Daraja may refuse this: Timestamp ${ts} is 1440 minutes behind Nairobi time (UTC+3).`,
    ]);
  });

  it('when the Timestamp is not a real date, then it is refused even outside strict mode', () => {
    expect(failureOf({ ...valid(), Timestamp: '20250231201201' }, lenient)?.errorMessage).toBe('Bad Request - Invalid Timestamp');
  });

  it('when TransactionDesc is 20 characters, then the push passes with a warning naming the length', () => {
    const result = checkStkPush({ ...valid(), TransactionDesc: 'Lipa na mpesa online' }, lenient);
    expect(result.ok && result.value).toMatchObject({
      transactionDesc: 'Lipa na mpesa online',
      warnings: ['the real Daraja may refuse this: TransactionDesc is 20 characters; Daraja documents at most 13.'],
    });
  });

  it('when TransactionType has a trailing space, then the push passes as that type, with a warning', () => {
    const result = checkStkPush({ ...valid(), TransactionType: 'CustomerPayBillOnline ' }, lenient);
    expect(result.ok && result.value).toMatchObject({
      transactionType: 'CustomerPayBillOnline',
      warnings: ['the real Daraja may refuse this: TransactionType "CustomerPayBillOnline " has stray spaces.'],
    });
  });

  it('when TransactionType is unknown even trimmed, then it is refused even outside strict mode', () => {
    expect(failureOf({ ...valid(), TransactionType: ' CustomerPayBill ' }, lenient)?.errorMessage).toBe('Bad Request - Invalid TransactionType');
  });

  it.each([
    ['Timestamp', { Timestamp: UTC_TS, Password: pw('174379', UTC_TS) }],
    ['TransactionDesc', { TransactionDesc: 'Lipa na mpesa online' }],
    ['TransactionType', { TransactionType: 'CustomerPayBillOnline ' }],
  ])('when strict, then the %s that would only be warned about is refused as invalid', (field, change) => {
    expect(failureOf({ ...valid(), ...change }, ctx)?.errorMessage).toBe(`Bad Request - Invalid ${field}`);
  });

  it('when a query carries a UTC Timestamp, then it passes with the same warning; strict, it is refused', () => {
    const body = { BusinessShortCode: 174379, Password: pw('174379', UTC_TS), Timestamp: UTC_TS, CheckoutRequestID: 'ws_CO_1' };
    const result = checkStkQuery(body, lenient);
    expect(result.ok && result.value.warnings[0]).toMatch(/it looks like UTC/);
    const strict = checkStkQuery(body, ctx);
    expect(strict.ok ? undefined : strict.error.errorMessage).toBe('Bad Request - Invalid Timestamp');
  });
});
