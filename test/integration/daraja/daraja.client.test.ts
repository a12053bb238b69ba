import nock from 'nock';
import { describe, expect, it } from 'vitest';
import { SANDBOX_PASSKEY, SANDBOX_SHORTCODE } from '../../../src/daraja/constants.js';
import { DarajaClient } from '../../../src/daraja/daraja.client.js';
import { DarajaAuthError, DarajaInvalidRequestError } from '../../../src/daraja/errors.js';
import {
  BASE, FROZEN_NOW, KEY, NAIROBI_TS, PHONE, SECRET, answers, config, postEndpoint, tokenEndpoint,
} from './helpers.js';

const PUSH = '/mpesa/stkpush/v1/processrequest';
const QUERY = '/mpesa/stkpushquery/v1/query';
const frozen = () => new Date(FROZEN_NOW);


describe('STK push request', () => {
  it('when a push is sent, then the token request uses Basic key:secret and grant_type=client_credentials', async () => {
    const token = tokenEndpoint();
    postEndpoint(PUSH, [[200, answers.pushAccepted()]]);
    await new DarajaClient(config(), { now: frozen }).stkPush({ phoneNumber: PHONE, amount: 45 });

    expect(token.seen.calls).toBe(1);
    expect(token.seen.authorization[0]).toBe(`Basic ${Buffer.from(`${KEY}:${SECRET}`).toString('base64')}`);
    expect(token.seen.query[0]).toBe('/oauth/v1/generate?grant_type=client_credentials');
  });

  it('when no consumer key or secret is configured, then the token request carries a placeholder Basic pair (Daraja refuses none)', async () => {
    const token = tokenEndpoint();
    postEndpoint(PUSH, [[200, answers.pushAccepted()]]);
    const cfg = config();
    delete cfg.consumerKey;
    delete cfg.consumerSecret;
    await new DarajaClient(cfg, { now: frozen }).stkPush({ phoneNumber: PHONE, amount: 45 });
    expect(token.seen.calls).toBe(1);
    expect(token.seen.authorization[0]).toBe(`Basic ${Buffer.from('no-consumer-key:no-consumer-secret').toString('base64')}`);
  });

  it('when a push is sent, then the body has exactly Daraja\'s fields, numbers as JSON numbers, and a Bearer token', async () => {
    tokenEndpoint({ tokens: ['c9SQxWWhmdVRlyh0zh8gZDTkubVF'] });
    const push = postEndpoint(PUSH, [[200, answers.pushAccepted()]]);
    await new DarajaClient(config(), { now: frozen }).stkPush({ phoneNumber: '0708 374-149', amount: 45 });

    expect(push.seen).toHaveLength(1);
    const sent = push.seen[0]!;
    expect(sent.authorization).toBe('Bearer c9SQxWWhmdVRlyh0zh8gZDTkubVF');
    expect(sent.contentType).toMatch(/^application\/json/);
    expect(sent.body).toStrictEqual({
      BusinessShortCode: 174379,
      Password: expect.any(String),
      Timestamp: NAIROBI_TS,
      TransactionType: 'CustomerPayBillOnline',
      Amount: 45,
      PartyA: 254708374149,
      PartyB: 174379,
      PhoneNumber: 254708374149,
      CallBackURL: config().callbackUrl,
      AccountReference: 'Tikiti',
      TransactionDesc: 'Movie ticket',
    });
  });

  it('when a push is sent, then the Password decodes to shortcode + passkey + the body\'s Nairobi timestamp', async () => {
    tokenEndpoint();
    const push = postEndpoint(PUSH, [[200, answers.pushAccepted()]]);
    await new DarajaClient(config(), { now: frozen }).stkPush({ phoneNumber: PHONE, amount: 1 });

    const body = push.seen[0]!.body;
    const decoded = Buffer.from(String(body.Password), 'base64').toString('utf8');
    expect(decoded).toBe(`${SANDBOX_SHORTCODE}${SANDBOX_PASSKEY}${NAIROBI_TS}`);
    expect(decoded.endsWith(String(body.Timestamp))).toBe(true);
    // 17:12:01 UTC: a UTC timestamp (the classic bug) would end in 171201.
    expect(body.Timestamp).not.toBe('20250514171201');
  });

  it('when the till is configured for BuyGoods, then PartyB is the till and TransactionType says so', async () => {
    tokenEndpoint();
    const push = postEndpoint(PUSH, [[200, answers.pushAccepted()]]);
    await new DarajaClient(config({ transactionType: 'CustomerBuyGoodsOnline', partyB: '5566778' }), { now: frozen })
      .stkPush({ phoneNumber: PHONE, amount: 10, accountReference: 'TKT-42', transactionDesc: 'Oppenheimer' });
    expect(push.seen[0]!.body).toMatchObject({
      BusinessShortCode: 174379, PartyB: 5566778, TransactionType: 'CustomerBuyGoodsOnline',
      AccountReference: 'TKT-42', TransactionDesc: 'Oppenheimer',
    });
  });

  it('when Daraja accepts, then the acknowledgement is returned with the timestamp that was sent', async () => {
    tokenEndpoint();
    postEndpoint(PUSH, [[200, answers.pushAccepted('ws_CO_ABC')]]);
    const accepted = await new DarajaClient(config(), { now: frozen }).stkPush({ phoneNumber: PHONE, amount: 45 });
    expect(accepted).toStrictEqual({
      merchantRequestId: '29115-34620561-1',
      checkoutRequestId: 'ws_CO_ABC',
      responseCode: '0',
      responseDescription: 'Success. Request accepted for processing',
      customerMessage: 'Success. Request accepted for processing',
      timestamp: NAIROBI_TS,
    });
  });

  it.each([
    ['a phone that is not Kenyan', { phoneNumber: '+255712345678', amount: 45 }, 'PhoneNumber'],
    ['amount 0', { phoneNumber: PHONE, amount: 0 }, 'Amount'],
    ['amount with cents', { phoneNumber: PHONE, amount: 1.5 }, 'Amount'],
    ['amount over 250000', { phoneNumber: PHONE, amount: 250_001 }, 'Amount'],
    ['an AccountReference of 13 characters', { phoneNumber: PHONE, amount: 5, accountReference: 'ABCDEFGHIJKLM' }, 'AccountReference'],
    ['a TransactionDesc of 14 characters', { phoneNumber: PHONE, amount: 5, transactionDesc: 'ABCDEFGHIJKLMN' }, 'TransactionDesc'],
  ])('when the push has %s, then it is refused locally and nothing is sent', async (_what, req, field) => {
    const token = tokenEndpoint();
    const push = postEndpoint(PUSH, [[200, answers.pushAccepted()]]);
    const err = await new DarajaClient(config(), { now: frozen }).stkPush(req).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DarajaInvalidRequestError);
    expect(err).toMatchObject({ outcome: 'refused', field });
    expect((err as DarajaInvalidRequestError).errorMessage).toContain(field);
    expect(token.seen.calls).toBe(0);
    expect(push.seen).toHaveLength(0);
  });

  it.each([
    ['an ftp callback URL', { callbackUrl: 'ftp://tikiti.example.com/cb' }, 'CallBackURL'],
    ['a callback URL with a space', { callbackUrl: 'https://tikiti.example.com/cb /x' }, 'CallBackURL'],
    ['a non-numeric shortcode', { shortcode: 'ABC123' }, 'BusinessShortCode'],
    ['a PartyB of 9 digits', { partyB: '123456789' }, 'PartyB'],
  ])('when the config has %s, then the push is refused locally and nothing is sent', async (_what, overrides, field) => {
    const token = tokenEndpoint();
    const err = await new DarajaClient(config(overrides), { now: frozen }).stkPush({ phoneNumber: PHONE, amount: 5 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DarajaInvalidRequestError);
    expect(err).toMatchObject({ outcome: 'refused', field });
    expect(token.seen.calls).toBe(0);
  });

  it('when the phone number is refused locally, then the customer message is the phone message', async () => {
    const err = await new DarajaClient(config(), { now: frozen }).stkPush({ phoneNumber: '0712', amount: 5 }).catch((e: unknown) => e);
    expect((err as DarajaInvalidRequestError).customerMessage).toMatch(/too short/);
  });
});

describe('token cache', () => {
  it('when 5 pushes are sent one after another, then one token request serves them all', async () => {
    const token = tokenEndpoint();
    const push = postEndpoint(PUSH, [[200, answers.pushAccepted()]]);
    const client = new DarajaClient(config(), { now: frozen });
    for (let i = 0; i < 5; i++) await client.stkPush({ phoneNumber: PHONE, amount: 1 + i });
    expect(push.seen).toHaveLength(5);
    expect(token.seen.calls).toBe(1);
    expect(new Set(push.seen.map((s) => s.authorization))).toStrictEqual(new Set(['Bearer token-1']));
  });

  it('when 20 callers need a token at once, then they share one token request', async () => {
    const token = tokenEndpoint({ delayMs: 50 });
    const push = postEndpoint(PUSH, [[200, answers.pushAccepted()]]);
    const client = new DarajaClient(config(), { now: frozen });
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      i % 2 === 0 ? client.getAccessToken() : client.stkPush({ phoneNumber: PHONE, amount: i }).then(() => 'pushed')));
    expect(token.seen.calls).toBe(1);
    expect(results.filter((r) => r === 'token-1')).toHaveLength(10);
    expect(push.seen).toHaveLength(10);
  });

  it.each([['3599'], [3599]])('when expires_in is %j, then the token is reused until 60 s before expiry and refreshed after', async (expiresIn) => {
    const token = tokenEndpoint({ expiresIn });
    let now = FROZEN_NOW.getTime();
    const client = new DarajaClient(config(), { now: () => new Date(now) });

    expect(await client.getAccessToken()).toBe('token-1');
    now += (3599 - 60) * 1000 - 1;
    expect(await client.getAccessToken()).toBe('token-1');
    expect(token.seen.calls).toBe(1);
    now += 1;
    expect(await client.getAccessToken()).toBe('token-2');
    expect(token.seen.calls).toBe(2);
  });

  it('when invalidateToken is called, then the next call fetches a new token', async () => {
    const token = tokenEndpoint();
    const client = new DarajaClient(config(), { now: frozen });
    await client.getAccessToken();
    client.invalidateToken();
    expect(await client.getAccessToken()).toBe('token-2');
    expect(token.seen.calls).toBe(2);
  });

  it('when cacheTokens is false, then every push fetches its own token (the guide\'s way, for the benchmark)', async () => {
    const token = tokenEndpoint();
    const push = postEndpoint(PUSH, [[200, answers.pushAccepted()]]);
    const client = new DarajaClient(config(), { now: frozen, cacheTokens: false });
    for (let i = 0; i < 3; i++) await client.stkPush({ phoneNumber: PHONE, amount: 1 });
    expect(token.seen.calls).toBe(3);
    expect(push.seen.map((s) => s.authorization)).toStrictEqual(['Bearer token-1', 'Bearer token-2', 'Bearer token-3']);
  });
});

describe('404.001.03 Invalid Access Token', () => {
  const invalidToken = [404, answers.error('404.001.03', 'Invalid Access Token')] as [number, unknown];

  it('when a push is answered Invalid Access Token, then a new token is fetched and the push is sent exactly once more', async () => {
    const token = tokenEndpoint();
    const push = postEndpoint(PUSH, [invalidToken, [200, answers.pushAccepted('ws_CO_SECOND')]]);
    const accepted = await new DarajaClient(config(), { now: frozen }).stkPush({ phoneNumber: PHONE, amount: 45 });

    expect(accepted.checkoutRequestId).toBe('ws_CO_SECOND');
    expect(token.seen.calls).toBe(2);
    expect(push.seen.map((s) => s.authorization)).toStrictEqual(['Bearer token-1', 'Bearer token-2']);
    expect(push.seen[1]!.body).toStrictEqual(push.seen[0]!.body);
  });

  it('when the repeated push is refused again, then it stops after two sends with an auth error', async () => {
    const token = tokenEndpoint();
    const push = postEndpoint(PUSH, [invalidToken]);
    const err = await new DarajaClient(config(), { now: frozen }).stkPush({ phoneNumber: PHONE, amount: 45 }).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(DarajaAuthError);
    expect(err).toMatchObject({ outcome: 'refused', errorCode: '404.001.03', httpStatus: 404 });
    expect(push.seen).toHaveLength(2);
    expect(token.seen.calls).toBe(2);
  });

  it('when a second push is refused with the old token after the refresh, then it reuses the new token instead of fetching another', async () => {
    // Fetching again would invalidate the token the first caller just got (Daraja keeps one token per app).
    const token = tokenEndpoint();
    const seen: string[] = [];
    const record = (status: number, body: unknown) => function (this: { req: { headers: Record<string, unknown> } }) {
      seen.push(String(this.req.headers.authorization));
      return [status, body] as [number, unknown];
    };
    nock(BASE).post(PUSH).reply(record(404, invalidToken[1]));
    nock(BASE).post(PUSH).delay(150).reply(record(404, invalidToken[1]));
    nock(BASE).post(PUSH).times(2).reply(record(200, answers.pushAccepted()));
    const client = new DarajaClient(config(), { now: frozen });
    await client.getAccessToken();
    await Promise.all([client.stkPush({ phoneNumber: PHONE, amount: 1 }), client.stkPush({ phoneNumber: PHONE, amount: 2 })]);
    expect(token.seen.calls).toBe(2);
    expect(seen.sort()).toStrictEqual(['Bearer token-1', 'Bearer token-1', 'Bearer token-2', 'Bearer token-2']);
  });

  it('when two concurrent pushes are both refused at once, then they share one new token', async () => {
    const token = tokenEndpoint({ delayMs: 20 });
    const push = postEndpoint(PUSH, [
      (n) => (n <= 2 ? invalidToken : [200, answers.pushAccepted(`ws_CO_${n}`)]),
    ]);
    const client = new DarajaClient(config(), { now: frozen });
    await Promise.all([client.stkPush({ phoneNumber: PHONE, amount: 1 }), client.stkPush({ phoneNumber: PHONE, amount: 2 })]);
    expect(token.seen.calls).toBe(2);
    expect(push.seen.map((s) => s.authorization)).toStrictEqual(['Bearer token-1', 'Bearer token-1', 'Bearer token-2', 'Bearer token-2']);
  });

  it('when a query is answered Invalid Access Token, then it is repeated once with a new token', async () => {
    const token = tokenEndpoint();
    const query = postEndpoint(QUERY, [invalidToken, [200, answers.query('0', 'The service request is processed successfully.')]]);
    const result = await new DarajaClient(config(), { now: frozen }).stkQuery('ws_CO_1');
    expect(result.state).toBe('paid');
    expect(token.seen.calls).toBe(2);
    expect(query.seen).toHaveLength(2);
  });
});

describe('a token refused in another form than 404.001.03', () => {
  // token-1 is refused; the forms an emulator restart, Apigee or a gateway in front of Daraja answer with.
  const forms: [string, [number, unknown]][] = [
    ['401 with no body (an emulator that forgot its tokens)', [401, '']],
    ['401 with Daraja\'s envelope', [401, answers.error('401.003.01', 'Error Occurred - Invalid Access Token - token-1')]],
    ['403 with an HTML page', [403, '<html><body>Forbidden</body></html>']],
    ['400 with an Apigee fault about the token', [400, { fault: { faultstring: 'Invalid access token', detail: { errorcode: 'oauth.v2.InvalidAccessToken' } } }]],
    ['500 with an Apigee fault: access token expired', [500, { fault: { faultstring: 'Access Token expired', detail: { errorcode: 'keymanagement.service.access_token_expired' } } }]],
  ];

  it.each(forms)('when a push is answered %s, then the token is dropped, a new one fetched once, and the push sent once more', async (_label, refusal) => {
    const token = tokenEndpoint();
    const push = postEndpoint(PUSH, [refusal, [200, answers.pushAccepted('ws_CO_SECOND')]]);
    const accepted = await new DarajaClient(config(), { now: frozen }).stkPush({ phoneNumber: PHONE, amount: 45 });
    expect(accepted.checkoutRequestId).toBe('ws_CO_SECOND');
    expect(token.seen.calls).toBe(2);
    expect(push.seen.map((x) => x.authorization)).toStrictEqual(['Bearer token-1', 'Bearer token-2']);
  });

  it.each(forms)('when a query is answered %s, then it is repeated once with a new token', async (_label, refusal) => {
    const token = tokenEndpoint();
    const query = postEndpoint(QUERY, [refusal, [200, answers.query('0', 'The service request is processed successfully.')]]);
    expect((await new DarajaClient(config(), { now: frozen }).stkQuery('ws_CO_1')).state).toBe('paid');
    expect(token.seen.calls).toBe(2);
    expect(query.seen).toHaveLength(2);
  });

  it('when the fresh token is refused too, then it stops after two sends with an auth error, and the echoed token is cut out', async () => {
    tokenEndpoint();
    const push = postEndpoint(PUSH, [(n) => [401, answers.error('401.003.01', `Error Occurred - Invalid Access Token - token-${n}`)]]);
    const err = await new DarajaClient(config(), { now: frozen }).stkPush({ phoneNumber: PHONE, amount: 45 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DarajaAuthError);
    expect(err).toMatchObject({ outcome: 'refused', httpStatus: 401, errorMessage: 'Error Occurred - Invalid Access Token - [redacted]' });
    expect(JSON.stringify(err) + String((err as Error).message)).not.toContain('token-2');
    expect(push.seen).toHaveLength(2);
  });

  it('when a push is refused for another reason (400.002.02), then nothing is repeated and no token fetched again', async () => {
    const token = tokenEndpoint();
    const push = postEndpoint(PUSH, [[400, answers.error('400.002.02', 'Bad Request - Invalid PhoneNumber')]]);
    await new DarajaClient(config(), { now: frozen }).stkPush({ phoneNumber: PHONE, amount: 45 }).catch(() => undefined);
    expect(push.seen).toHaveLength(1);
    expect(token.seen.calls).toBe(1);
  });
});

describe('STK query', () => {
  it('when a query is sent, then the body has BusinessShortCode as a number, Password, Nairobi Timestamp and CheckoutRequestID', async () => {
    tokenEndpoint();
    const query = postEndpoint(QUERY, [[200, answers.query('0', 'The service request is processed successfully.')]]);
    await new DarajaClient(config(), { now: frozen }).stkQuery('ws_CO_13012021093521236557');
    const sent = query.seen[0]!;
    expect(sent.authorization).toBe('Bearer token-1');
    expect(sent.body).toStrictEqual({
      BusinessShortCode: 174379,
      Password: Buffer.from(`${SANDBOX_SHORTCODE}${SANDBOX_PASSKEY}${NAIROBI_TS}`).toString('base64'),
      Timestamp: NAIROBI_TS,
      CheckoutRequestID: 'ws_CO_13012021093521236557',
    });
  });

  it.each([
    ['"0"', '0', { state: 'paid', resultCode: '0', resultDesc: 'The service request is processed successfully.' }],
    ['0 (a number)', 0, { state: 'paid', resultCode: '0', resultDesc: 'The service request is processed successfully.' }],
    ['"1032"', '1032', { state: 'failed', resultCode: '1032', resultDesc: 'Request cancelled by user' }],
    ['1032 (a number)', 1032, { state: 'failed', resultCode: '1032', resultDesc: 'Request cancelled by user' }],
    ['"1037"', '1037', { state: 'failed', resultCode: '1037', resultDesc: 'DS timeout user cannot be reached' }],
    ['"4999" (still under processing)', '4999', { state: 'processing' }],
  ])('when the query answers ResultCode %s, then the result is %j', async (_label, code, expected) => {
    tokenEndpoint();
    const desc = 'state' in expected && expected.state !== 'processing' ? (expected as { resultDesc: string }).resultDesc : 'The transaction is still under processing';
    postEndpoint(QUERY, [[200, answers.query(code, desc)]]);
    expect(await new DarajaClient(config(), { now: frozen }).stkQuery('ws_CO_1')).toStrictEqual(expected);
  });

  it.each([
    ['200, "9999", "The transaction is being processed" (an emulator)', 200, answers.query('9999', 'The transaction is being processed'), { state: 'processing' }],
    ['200, "4999", "The transaction is still under processing"', 200, answers.query('4999', 'The transaction is still under processing'), { state: 'processing' }],
    ['200 with the 500.001.1001 "being processed" envelope', 200, answers.error('500.001.1001', 'The transaction is being processed'), { state: 'processing' }],
    ['200, "1032" with a ResultDesc that says "being processed" (a known code is final)', 200, answers.query('1032', 'Request cancelled: being processed'), { state: 'failed', resultCode: '1032', resultDesc: 'Request cancelled: being processed' }],
    ['200, "9999", "System error" (unknown code, no processing words)', 200, answers.query('9999', 'System error'), { state: 'failed', resultCode: '9999', resultDesc: 'System error' }],
  ])('when the query answers %s, then the result is %j', async (_label, status, body, expected) => {
    tokenEndpoint();
    postEndpoint(QUERY, [[status, body]]);
    expect(await new DarajaClient(config(), { now: frozen }).stkQuery('ws_CO_1')).toStrictEqual(expected);
  });

  it('when the query answers 500.001.1001 "The transaction is being processed", then the result is processing, not an error', async () => {
    tokenEndpoint();
    const query = postEndpoint(QUERY, [[500, answers.error('500.001.1001', 'The transaction is being processed')]]);
    expect(await new DarajaClient(config(), { now: frozen }).stkQuery('ws_CO_1')).toStrictEqual({ state: 'processing' });
    expect(query.seen).toHaveLength(1);
  });

  it('when the checkout request id is empty, then the query is refused locally', async () => {
    const token = tokenEndpoint();
    await expect(new DarajaClient(config(), { now: frozen }).stkQuery('  ')).rejects.toBeInstanceOf(DarajaInvalidRequestError);
    expect(token.seen.calls).toBe(0);
  });
});
