import { Writable } from 'node:stream';
import nock from 'nock';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { SANDBOX_PASSKEY, SANDBOX_SHORTCODE } from '../../../src/daraja/constants.js';
import { DarajaClient } from '../../../src/daraja/daraja.client.js';
import {
  DarajaAuthError, DarajaBusyError, DarajaError, DarajaInvalidRequestError, DarajaNetworkError,
  DarajaSubscriberBusyError, DarajaUnexpectedResponseError, CUSTOMER_MESSAGES,
} from '../../../src/daraja/errors.js';
import { BASE, FROZEN_NOW, KEY, NAIROBI_TS, PHONE, SECRET, answers, config, postEndpoint, tokenEndpoint } from './helpers.js';

const PUSH = '/mpesa/stkpush/v1/processrequest';
const QUERY = '/mpesa/stkpushquery/v1/query';
const frozen = () => new Date(FROZEN_NOW);
const fastRetry = { baseDelayMs: 5, maxDelayMs: 20 };
const netError = (code: string) => Object.assign(new Error(`${code} simulated`), { code });


const push = (client: DarajaClient) => client.stkPush({ phoneNumber: PHONE, amount: 45 }).then(
  () => { throw new Error('expected the push to fail'); },
  (e: unknown) => e as DarajaError,
);

describe('push answered with Daraja\'s error envelope', () => {
  it.each([
    ['400.002.02 Invalid PhoneNumber', 400, '400.002.02', 'Bad Request - Invalid PhoneNumber', DarajaInvalidRequestError, 'DARAJA_INVALID_REQUEST', CUSTOMER_MESSAGES.phoneRefused],
    ['400.002.02 Invalid Timestamp', 400, '400.002.02', 'Bad Request - Invalid Timestamp', DarajaInvalidRequestError, 'DARAJA_INVALID_REQUEST', CUSTOMER_MESSAGES.merchantProblem],
    ['500.001.1001 subscriber locked', 500, '500.001.1001', 'Unable to lock subscriber, a transaction is already in process for the current subscriber', DarajaSubscriberBusyError, 'DARAJA_SUBSCRIBER_BUSY', CUSTOMER_MESSAGES.subscriberBusy],
    ['500.001.1001 Merchant does not exist', 500, '500.001.1001', 'Merchant does not exist', DarajaError, 'DARAJA_MERCHANT_SETUP', CUSTOMER_MESSAGES.merchantProblem],
    ['500.001.1001 Wrong credentials', 500, '500.001.1001', 'Wrong credentials', DarajaError, 'DARAJA_MERCHANT_SETUP', CUSTOMER_MESSAGES.merchantProblem],
    // The same code for anything else (an outage, a reason nobody documented) is not a busy phone: try again.
    ['500.001.1001 with another message', 500, '500.001.1001', 'Service temporarily unavailable', DarajaError, 'DARAJA_PUSH_NOT_STARTED', CUSTOMER_MESSAGES.pushNotStarted],
    ['500.003.02 spike arrest', 500, '500.003.02', 'Spike arrest violation', DarajaBusyError, 'DARAJA_BUSY', CUSTOMER_MESSAGES.darajaBusy],
    ['500.003.03 quota', 500, '500.003.03', 'Quota Violation', DarajaBusyError, 'DARAJA_BUSY', CUSTOMER_MESSAGES.darajaBusy],
    ['500.003.1001 internal error', 500, '500.003.1001', 'Internal Server Error', DarajaBusyError, 'DARAJA_BUSY', CUSTOMER_MESSAGES.darajaBusy],
    ['404.001.01 resource not found', 404, '404.001.01', 'Resource not found', DarajaError, 'DARAJA_REFUSED', CUSTOMER_MESSAGES.merchantProblem],
  ])('when a push is answered %s, then it is a %O (refused), sent once, with status, code, message, request id and body', async (_l, status, errorCode, errorMessage, Klass, code, customerMessage) => {
    tokenEndpoint();
    const endpoint = postEndpoint(PUSH, [[status, answers.error(errorCode, errorMessage)]]);
    const err = await push(new DarajaClient(config(), { now: frozen, retry: fastRetry }));

    expect(err).toBeInstanceOf(Klass);
    expect(err).toMatchObject({
      code, outcome: 'refused', httpStatus: status, errorCode, errorMessage, requestId: '16813-1590513-1',
      rawBody: answers.error(errorCode, errorMessage), customerMessage,
    });
    expect(err.message).toContain(errorCode);
    expect(endpoint.seen).toHaveLength(1); // a push is never repeated
  });

  it('when Daraja refuses a field, then the error names it', async () => {
    tokenEndpoint();
    postEndpoint(PUSH, [[400, answers.error('400.002.02', 'Bad Request - Invalid CallBackURL')]]);
    const err = await push(new DarajaClient(config(), { now: frozen }));
    expect(err).toMatchObject({ field: 'CallBackURL', errorMessage: 'Bad Request - Invalid CallBackURL' });
  });

  it('when "Merchant does not exist" comes with the subscriber-busy code, then it is not a subscriber-busy error', async () => {
    tokenEndpoint();
    postEndpoint(PUSH, [[500, answers.error('500.001.1001', 'Merchant does not exist')]]);
    expect(await push(new DarajaClient(config(), { now: frozen }))).not.toBeInstanceOf(DarajaSubscriberBusyError);
  });
});

describe('push answered with something that is not Daraja\'s', () => {
  it.each([
    ['200 with a body that is not JSON', 200, 'OK', 'unknown'],
    ['502 with an HTML page', 502, '<html><body><h1>502 Bad Gateway</h1></body></html>', 'unknown'],
    ['503 with an empty body', 503, '', 'unknown'],
    ['200 JSON without CheckoutRequestID', 200, { MerchantRequestID: '1', ResponseCode: '0' }, 'unknown'],
    ['200 JSON with ResponseCode 1', 200, { ...answers.pushAccepted(), ResponseCode: '1' }, 'unknown'],
    ['404 with an HTML page (a wrong base URL)', 404, '<!DOCTYPE html><html>Not Found</html>', 'refused'],
    ['301 redirect', 301, '', 'refused'],
  ])('when a push is answered %s, then it is an unexpected response with outcome %s, sent once', async (_l, status, body, outcome) => {
    tokenEndpoint();
    const endpoint = postEndpoint(PUSH, [[status, body]]);
    const err = await push(new DarajaClient(config(), { now: frozen, retry: fastRetry }));
    expect(err).toBeInstanceOf(DarajaUnexpectedResponseError);
    expect(err).toMatchObject({ code: 'DARAJA_UNEXPECTED_RESPONSE', outcome, httpStatus: status });
    expect(err.customerMessage).toBe(outcome === 'unknown' ? CUSTOMER_MESSAGES.unknown : CUSTOMER_MESSAGES.merchantProblem);
    expect(endpoint.seen).toHaveLength(1);
  });

  it('when the answer is an HTML page, then the log message says so', async () => {
    tokenEndpoint();
    postEndpoint(PUSH, [[502, '<html>Bad Gateway</html>']]);
    expect((await push(new DarajaClient(config(), { now: frozen }))).message).toMatch(/HTTP 502 with an HTML page/);
  });
});

describe('network failures', () => {
  it.each([
    ['ECONNREFUSED', 'refused', 'refused', CUSTOMER_MESSAGES.unreachable],
    ['ENOTFOUND', 'dns', 'refused', CUSTOMER_MESSAGES.unreachable],
    ['EAI_AGAIN', 'dns', 'refused', CUSTOMER_MESSAGES.unreachable],
    ['ECONNRESET', 'reset', 'unknown', CUSTOMER_MESSAGES.unknown],
  ])('when the push fails with %s, then it is a network error of kind %s, outcome %s, not retried', async (code, kind, outcome, customerMessage) => {
    tokenEndpoint();
    nock(BASE).post(PUSH).replyWithError(netError(code));
    const second = nock(BASE).post(PUSH).reply(200, answers.pushAccepted());
    const err = await push(new DarajaClient(config(), { now: frozen, retry: fastRetry }));
    expect(err).toBeInstanceOf(DarajaNetworkError);
    expect(err).toMatchObject({ code: 'DARAJA_NETWORK', kind, outcome, customerMessage });
    expect(second.isDone()).toBe(false);
  });

  it('when the push gets no answer within timeoutMs, then it is a timeout with outcome unknown, within the deadline', async () => {
    tokenEndpoint();
    nock(BASE).post(PUSH).delay(2000).reply(200, answers.pushAccepted());
    const started = Date.now();
    const err = await push(new DarajaClient(config({ timeoutMs: 300 }), { now: frozen }));
    const elapsed = Date.now() - started;
    expect(err).toBeInstanceOf(DarajaNetworkError);
    expect(err).toMatchObject({ kind: 'timeout', outcome: 'unknown', customerMessage: CUSTOMER_MESSAGES.unknown });
    expect(elapsed).toBeGreaterThanOrEqual(280);
    expect(elapsed).toBeLessThan(300 + 250);
  });

  it('when the token is slow, then the token fetch and the push together stay within one timeoutMs', async () => {
    tokenEndpoint({ delayMs: 300 });
    nock(BASE).post(PUSH).delay(2000).reply(200, answers.pushAccepted());
    const started = Date.now();
    const err = await push(new DarajaClient(config({ timeoutMs: 400 }), { now: frozen }));
    expect(err).toMatchObject({ kind: 'timeout', outcome: 'unknown' });
    expect(Date.now() - started).toBeLessThan(400 + 200);
  });

  it('when the token endpoint does not answer in time, then the push fails as refused and is never sent', async () => {
    nock(BASE).get('/oauth/v1/generate').query(true).delay(2000).reply(200, answers.token()).persist();
    const endpoint = postEndpoint(PUSH, [[200, answers.pushAccepted()]]);
    const started = Date.now();
    const err = await push(new DarajaClient(config({ timeoutMs: 300 }), { now: frozen }));
    expect(err).toBeInstanceOf(DarajaNetworkError);
    expect(err).toMatchObject({ kind: 'timeout', outcome: 'refused', customerMessage: CUSTOMER_MESSAGES.unreachable });
    expect(endpoint.seen).toHaveLength(0);
    expect(Date.now() - started).toBeLessThan(300 + 250);
  });
});

describe('token endpoint failures', () => {
  const fetchToken = (cfg = config()) => new DarajaClient(cfg, { now: frozen, retry: fastRetry }).getAccessToken()
    .then(() => { throw new Error('expected the token fetch to fail'); }, (e: unknown) => e as DarajaError);

  it.each([
    ['400.008.01 invalid authentication', 400, answers.error('400.008.01', 'Invalid Authentication passed')],
    ['400.008.02 invalid grant type', 400, answers.error('400.008.02', 'Invalid grant type passed')],
    ['401 with an empty body', 401, ''],
    ['400 with an empty body (what the sandbox sends for a wrong secret)', 400, ''],
  ])('when the token endpoint answers %s, then it is an auth error, refused, not retried', async (_l, status, body) => {
    let calls = 0;
    nock(BASE).get('/oauth/v1/generate').query(true).reply(() => { calls++; return [status, typeof body === 'string' ? body : JSON.stringify(body)]; }).persist();
    const err = await fetchToken();
    expect(err).toBeInstanceOf(DarajaAuthError);
    expect(err).toMatchObject({ code: 'DARAJA_AUTH_FAILED', outcome: 'refused', httpStatus: status });
    expect(calls).toBe(1);
  });

  it('when the token endpoint answers 503 then 200, then the fetch is retried and succeeds', async () => {
    let calls = 0;
    nock(BASE).get('/oauth/v1/generate').query(true)
      .reply(() => (++calls === 1 ? [503, '<html>Service Unavailable</html>'] : [200, JSON.stringify(answers.token('fresh'))])).persist();
    expect(await new DarajaClient(config(), { now: frozen, retry: fastRetry }).getAccessToken()).toBe('fresh');
    expect(calls).toBe(2);
  });

  it('when the token endpoint keeps resetting the connection, then it gives up after 1 + 2 retries', async () => {
    for (let i = 0; i < 4; i++) nock(BASE).get('/oauth/v1/generate').query(true).replyWithError(netError('ECONNRESET'));
    const err = await fetchToken();
    expect(err).toBeInstanceOf(DarajaNetworkError);
    expect(err).toMatchObject({ kind: 'reset', outcome: 'refused' });
    expect(nock.pendingMocks()).toHaveLength(1); // 3 of the 4 were used
  });

  it('when the token answer has no access_token, then it is an unexpected response', async () => {
    nock(BASE).get('/oauth/v1/generate').query(true).reply(200, { expires_in: '3599' });
    expect(await fetchToken()).toBeInstanceOf(DarajaUnexpectedResponseError);
  });

  it('when the token answer lacks expires_in, then the token is still used and cached', async () => {
    let calls = 0;
    nock(BASE).get('/oauth/v1/generate').query(true).reply(() => { calls++; return [200, { access_token: 'no-expiry' }]; }).persist();
    const client = new DarajaClient(config(), { now: frozen });
    expect(await client.getAccessToken()).toBe('no-expiry');
    expect(await client.getAccessToken()).toBe('no-expiry');
    expect(calls).toBe(1);
  });
});

describe('query retries', () => {
  it('when a query meets a 503 and then an answer, then it is retried and answers', async () => {
    tokenEndpoint();
    const query = postEndpoint(QUERY, [[503, '<html>busy</html>'], [200, answers.query('1032', 'Request cancelled by user')]]);
    const result = await new DarajaClient(config(), { now: frozen, retry: fastRetry }).stkQuery('ws_CO_1');
    expect(result).toStrictEqual({ state: 'failed', resultCode: '1032', resultDesc: 'Request cancelled by user' });
    expect(query.seen).toHaveLength(2);
  });

  it('when a query meets a reset socket and then an answer, then it is retried and answers', async () => {
    tokenEndpoint();
    nock(BASE).post(QUERY).replyWithError(netError('ECONNRESET'));
    nock(BASE).post(QUERY).reply(200, answers.query(0, 'The service request is processed successfully.'));
    const result = await new DarajaClient(config(), { now: frozen, retry: fastRetry }).stkQuery('ws_CO_1');
    expect(result.state).toBe('paid');
  });

  it('when Daraja stays busy, then the query gives up after 1 + 2 retries with a busy error', async () => {
    tokenEndpoint();
    const query = postEndpoint(QUERY, [[500, answers.error('500.003.02', 'Spike arrest violation')]]);
    const err = await new DarajaClient(config(), { now: frozen, retry: fastRetry }).stkQuery('ws_CO_1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DarajaBusyError);
    expect(query.seen).toHaveLength(3);
  });

  it.each([
    ['400.002.02 Invalid CheckoutRequestID', 400, '400.002.02', 'Bad Request - Invalid CheckoutRequestID', DarajaInvalidRequestError],
    ['500.001.1001 Wrong credentials', 500, '500.001.1001', 'Wrong credentials', DarajaError],
  ])('when a query is answered %s, then it is not retried', async (_l, status, code, message, Klass) => {
    tokenEndpoint();
    const query = postEndpoint(QUERY, [[status, answers.error(code, message)]]);
    const err = await new DarajaClient(config(), { now: frozen, retry: fastRetry }).stkQuery('ws_CO_1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Klass);
    expect(query.seen).toHaveLength(1);
  });

  it('when retries would pass the deadline, then the query stops within timeoutMs', async () => {
    tokenEndpoint();
    postEndpoint(QUERY, [[503, '']]);
    const started = Date.now();
    await new DarajaClient(config({ timeoutMs: 200 }), { now: frozen, retry: { retries: 50, baseDelayMs: 40, maxDelayMs: 80 } })
      .stkQuery('ws_CO_1').catch(() => undefined);
    expect(Date.now() - started).toBeLessThan(200 + 100);
  });
});

describe('secrets stay out of logs and errors', () => {
  it('when pushes succeed, fail, time out and refresh tokens, then no secret, password or token appears anywhere', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk: Buffer, _enc, done) { lines.push(chunk.toString()); done(); } });
    // A plain pino with no redaction: the client itself must not hand secrets to the logger.
    const logger = pino({ level: 'trace' }, sink);
    const accessTokens = ['tok-AAAAAAAAAAAAAAAAAAAA', 'tok-BBBBBBBBBBBBBBBBBBBB', 'tok-CCCCCCCCCCCCCCCCCCCC'];
    tokenEndpoint({ tokens: accessTokens });
    postEndpoint(PUSH, [
      [404, answers.error('404.001.03', 'Invalid Access Token')],
      [200, answers.pushAccepted()],
      [500, answers.error('500.001.1001', 'Wrong credentials')],
      [502, '<html>x</html>'],
    ]);
    nock(BASE).post(QUERY).delay(1000).reply(200, {});
    const client = new DarajaClient(config({ timeoutMs: 300 }), { logger, now: frozen, retry: { retries: 0 } });
    const errors: unknown[] = [];
    for (let i = 0; i < 3; i++) await client.stkPush({ phoneNumber: PHONE, amount: 1 }).catch((e: unknown) => errors.push(e));
    await client.stkQuery('ws_CO_1').catch((e: unknown) => errors.push(e));
    expect(errors).toHaveLength(3);
    for (const e of errors) logger.error({ err: e }, 'caller logs the error');

    const everything = [...lines, ...errors.map((e) => `${String(e)} ${JSON.stringify(e)} ${(e as Error).stack ?? ''}`)].join('\n');
    const password = Buffer.from(`${SANDBOX_SHORTCODE}${SANDBOX_PASSKEY}${NAIROBI_TS}`).toString('base64');
    const basic = Buffer.from(`${KEY}:${SECRET}`).toString('base64');
    expect(lines.length).toBeGreaterThan(3);
    for (const secret of [SECRET, SANDBOX_PASSKEY, password, basic, ...accessTokens]) {
      expect(everything).not.toContain(secret);
    }
    expect(everything).toContain('2547•••••149');
    expect(everything).not.toContain(PHONE);
  });
});
