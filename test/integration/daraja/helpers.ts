import nock from 'nock';
import { SANDBOX_BASE_URL, SANDBOX_PASSKEY, SANDBOX_SHORTCODE } from '../../../src/daraja/constants.js';
import type { DarajaConfig } from '../../../src/daraja/daraja.client.js';

export const BASE = SANDBOX_BASE_URL;
export const KEY = 'test-consumer-key-XYZ';
export const SECRET = 'test-consumer-secret-very-private';
/** 17:12:01 UTC is 20:12:01 in Nairobi: a UTC timestamp would read 171201 and fail. */
export const FROZEN_NOW = new Date('2025-05-14T17:12:01.000Z');
export const NAIROBI_TS = '20250514201201';
export const PHONE = '254708374149';

export function config(overrides: Partial<DarajaConfig> = {}): DarajaConfig {
  return {
    baseUrl: BASE,
    consumerKey: KEY,
    consumerSecret: SECRET,
    passkey: SANDBOX_PASSKEY,
    shortcode: SANDBOX_SHORTCODE,
    transactionType: 'CustomerPayBillOnline',
    partyB: SANDBOX_SHORTCODE,
    callbackUrl: 'https://tikiti.example.com/api/payments/callback/0f3c9a7e5b2d4c6a8e1f0b3d5c7a9e2f4b6d8c0a',
    accountReference: 'Tikiti',
    transactionDesc: 'Movie ticket',
    timeoutMs: 2000,
    ...overrides,
  };
}

/** Shaped like Safaricom's documented answers. */
export const answers = {
  token: (accessToken = 'c9SQxWWhmdVRlyh0zh8gZDTkubVF', expiresIn: string | number = '3599') => ({
    access_token: accessToken, expires_in: expiresIn,
  }),
  pushAccepted: (checkoutRequestId = 'ws_CO_14052025201201123708374149') => ({
    MerchantRequestID: '29115-34620561-1',
    CheckoutRequestID: checkoutRequestId,
    ResponseCode: '0',
    ResponseDescription: 'Success. Request accepted for processing',
    CustomerMessage: 'Success. Request accepted for processing',
  }),
  query: (resultCode: string | number, resultDesc: string) => ({
    ResponseCode: '0',
    ResponseDescription: 'The service request has been accepted successsfully',
    MerchantRequestID: '22205-34066-1',
    CheckoutRequestID: 'ws_CO_13012021093521236557',
    ResultCode: resultCode,
    ResultDesc: resultDesc,
  }),
  error: (errorCode: string, errorMessage: string) => ({
    requestId: '16813-1590513-1', errorCode, errorMessage,
  }),
};

/** A token endpoint that counts its calls and records the Authorization header it saw. */
export function tokenEndpoint(opts: { tokens?: string[]; expiresIn?: string | number; delayMs?: number } = {}) {
  const seen = { calls: 0, authorization: [] as (string | undefined)[], query: [] as string[] };
  const tokens = opts.tokens ?? ['token-1', 'token-2', 'token-3', 'token-4'];
  const scope = nock(BASE)
    .get('/oauth/v1/generate')
    .query(true)
    .delay(opts.delayMs ?? 0)
    .reply(function (uri) {
      seen.calls++;
      seen.authorization.push(this.req.headers.authorization as string | undefined);
      seen.query.push(uri);
      const t = tokens[Math.min(seen.calls - 1, tokens.length - 1)] ?? 'token-x';
      return [200, answers.token(t, opts.expiresIn ?? '3599')];
    })
    .persist();
  return { seen, scope };
}

export interface Recorded { body: Record<string, unknown>; authorization: string | undefined; contentType: string | undefined }

/** An endpoint answering from a list (the last answer repeats), recording every request. */
export function postEndpoint(path: string, replies: Array<[number, unknown] | ((n: number) => [number, unknown])>) {
  const seen: Recorded[] = [];
  const scope = nock(BASE)
    .post(path)
    .reply(function (_uri, body) {
      seen.push({
        body: body as Record<string, unknown>,
        authorization: this.req.headers.authorization as string | undefined,
        contentType: this.req.headers['content-type'] as string | undefined,
      });
      const r = replies[Math.min(seen.length - 1, replies.length - 1)];
      if (r === undefined) return [500, ''];
      const [status, body2] = typeof r === 'function' ? r(seen.length) : r;
      return [status, typeof body2 === 'string' ? body2 : JSON.stringify(body2), typeof body2 === 'string' && body2.trimStart().startsWith('<') ? { 'Content-Type': 'text/html' } : { 'Content-Type': 'application/json' }];
    })
    .persist();
  return { seen, scope };
}
