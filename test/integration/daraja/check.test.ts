import nock from 'nock';
import { describe, expect, it } from 'vitest';
import { PRODUCTION_BASE_URL, SANDBOX_PASSKEY } from '../../../src/daraja/constants.js';
import { runDarajaCheck, type DarajaCheckOptions } from '../../../src/daraja/check.js';
import type { DarajaConfig } from '../../../src/daraja/daraja.client.js';
import { BASE, FROZEN_NOW, PHONE, SECRET, answers, config, postEndpoint, tokenEndpoint } from './helpers.js';

const PUSH = '/mpesa/stkpush/v1/processrequest';


async function check(cfg: DarajaConfig, opts: Partial<DarajaCheckOptions> = {}) {
  const lines: string[] = [];
  const ok = await runDarajaCheck(cfg, { darajaEnv: 'sandbox', out: (l) => lines.push(l), now: () => new Date(FROZEN_NOW), ...opts });
  return { ok, text: lines.join('\n'), lines };
}

describe('runDarajaCheck', () => {
  it('when the sandbox credentials work, then it says so and passes', async () => {
    const token = tokenEndpoint();
    const r = await check(config());
    expect(r.ok).toBe(true);
    expect(r.text).toMatch(/ok .*Got an access token: the consumer key and secret are accepted/);
    expect(r.text).toContain('Nothing wrong found.');
    expect(r.text).toContain('--push');
    expect(token.seen.calls).toBe(1);
  });

  it('when Daraja refuses the key or secret, then it says which settings to fix and fails', async () => {
    nock(BASE).get('/oauth/v1/generate').query(true).reply(400, answers.error('400.008.01', 'Invalid Authentication passed'));
    const r = await check(config());
    expect(r.ok).toBe(false);
    expect(r.text).toMatch(/WRONG .*refused the consumer key or secret.*400\.008\.01/);
    expect(r.text).toContain('1 problem found.');
  });

  it('when the host does not resolve, then it says to check DARAJA_BASE_URL', async () => {
    nock(BASE).get('/oauth/v1/generate').query(true).times(3).replyWithError(Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }));
    const r = await check(config());
    expect(r.ok).toBe(false);
    expect(r.text).toMatch(/WRONG .*does not resolve: check DARAJA_BASE_URL/);
  });

  it('when the callback URL is http in the sandbox, then it is wrong', async () => {
    tokenEndpoint();
    const r = await check(config({ callbackUrl: 'http://tikiti.example.com/api/payments/callback/abc' }));
    expect(r.ok).toBe(false);
    expect(r.text).toMatch(/WRONG .*is http: Safaricom only calls https/);
  });

  it('when the callback URL is http in simulator mode, then it is fine', async () => {
    nock('http://127.0.0.1:3000').get('/simulator/oauth/v1/generate').query(true).reply(200, answers.token());
    const cfg = config({ baseUrl: 'http://127.0.0.1:3000/simulator', callbackUrl: 'http://localhost:3000/api/payments/callback/abc' });
    delete cfg.consumerKey;
    delete cfg.consumerSecret;
    const r = await check(cfg, { darajaEnv: 'simulator' });
    expect(r.ok).toBe(true);
    expect(r.text).not.toContain('WRONG');
  });

  it('when the callback URL contains a forbidden word, then the word is named', async () => {
    tokenEndpoint();
    const r = await check(config({ callbackUrl: 'https://mpesa-demo.example.com/api/payments/callback/abc' }));
    expect(r.ok).toBe(false);
    expect(r.text).toMatch(/WRONG .*contains "mpesa"/);
  });

  it('when the callback URL points at localhost in the sandbox, then Safaricom cannot reach it', async () => {
    tokenEndpoint();
    const r = await check(config({ callbackUrl: 'https://localhost:3000/api/payments/callback/abc' }));
    expect(r.text).toMatch(/WRONG .*Safaricom cannot reach/);
  });

  it('when production runs with the sandbox passkey and no secret, then both are wrong', async () => {
    nock(PRODUCTION_BASE_URL).get('/oauth/v1/generate').query(true).reply(400, '');
    const r = await check(config({ baseUrl: PRODUCTION_BASE_URL, passkey: SANDBOX_PASSKEY, consumerSecret: '' }), { darajaEnv: 'production' });
    expect(r.ok).toBe(false);
    expect(r.text).toMatch(/WRONG .*public sandbox passkey/);
    expect(r.text).toMatch(/WRONG .*CONSUMER_SECRET are both required/);
  });

  it('when --push is given and Daraja accepts, then it names the masked phone and the CheckoutRequestID', async () => {
    tokenEndpoint();
    const push = postEndpoint(PUSH, [[200, answers.pushAccepted('ws_CO_CHECK')]]);
    const r = await check(config(), { push: '0708374149' });
    expect(r.ok).toBe(true);
    expect(r.text).toMatch(/ok .*KES 1 push to 2547•••••149 \(CheckoutRequestID ws_CO_CHECK\)/);
    expect(push.seen[0]!.body).toMatchObject({ Amount: 1, PhoneNumber: 254708374149 });
  });

  it.each([
    ['M-Pesa Express not enabled (Invalid Access Token twice)', 404, '404.001.03', 'Invalid Access Token', /product is probably not enabled/],
    ['a wrong path (Resource not found)', 404, '404.001.01', 'Resource not found', /not enabled on this Daraja app, or DARAJA_BASE_URL/],
    ['a wrong passkey', 500, '500.001.1001', 'Wrong credentials', /DARAJA_PASSKEY does not belong to shortcode 174379/],
    ['an unknown shortcode', 500, '500.001.1001', 'Merchant does not exist', /does not know shortcode 174379/],
    ['an invalid timestamp', 400, '400.002.02', 'Bad Request - Invalid Timestamp', /check the server clock/],
    ['an invalid callback URL', 400, '400.002.02', 'Bad Request - Invalid CallBackURL', /refused the callback URL/],
    ['a busy phone', 500, '500.001.1001', 'Unable to lock subscriber, a transaction is already in process for the current subscriber', /another M-Pesa request is in progress on that phone/],
    ['500.001.1001 for no reason known to mean the settings', 500, '500.001.1001', 'Service temporarily unavailable', /Daraja did not start the push and gave no reason known to mean the settings.*quoting the request id/],
    ['a token refused even when fresh (401)', 401, '401.003.01', 'Invalid Access Token', /refused it for M-Pesa Express, even freshly fetched/],
  ])('when the push meets %s, then it explains what to fix and fails', async (_l, status, code, message, explanation) => {
    tokenEndpoint();
    postEndpoint(PUSH, [[status, answers.error(code, message)]]);
    const r = await check(config(), { push: PHONE });
    expect(r.ok).toBe(false);
    expect(r.text).toMatch(explanation);
  });

  it('when --push has a bad phone number, then nothing is pushed and the phone message is shown', async () => {
    tokenEndpoint();
    const push = postEndpoint(PUSH, [[200, answers.pushAccepted()]]);
    const r = await check(config(), { push: '0712' });
    expect(r.ok).toBe(false);
    expect(r.text).toMatch(/WRONG .*too short/);
    expect(push.seen).toHaveLength(0);
  });

  it('when anything is printed, then the consumer secret and passkey are not', async () => {
    nock(BASE).get('/oauth/v1/generate').query(true).reply(400, answers.error('400.008.01', 'Invalid Authentication passed'));
    const r = await check(config(), { push: PHONE });
    expect(r.text).not.toContain(SECRET);
    expect(r.text).not.toContain(SANDBOX_PASSKEY);
  });
});
