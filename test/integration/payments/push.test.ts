import nock from 'nock';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '../../../src/core/db/database.js';
import { CUSTOMER_MESSAGES } from '../../../src/daraja/errors.js';
import { createTestApp, type TestApp } from '../../support/app.js';
import { frozenClock } from '../../support/clock.js';
import { dialects } from '../../support/db.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import { waitFor } from '../../support/wait.js';
import {
  TOKEN, failureCallback, inboxRowsFor, insertPendingTicket, notificationKinds, successCallback,
  ticketRow, ticketsHeld,
} from './helpers.js';

const attemptsOf = (db: Db, ticketId: number) =>
  db.selectFrom('pushrequest').selectAll().where('ticketId', '=', ticketId).orderBy('pushRequestId').execute();

describe.each(dialects)('STK push against the built-in simulator on %s', (dialect) => {
  let t: TestServer;
  let db: Db;
  beforeAll(async () => {
    t = await startTestServer(dialect, { MPESA_CALLBACK_TOKEN: TOKEN });
    db = t.database.db;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('when the push to 254708374149 is accepted, then the CheckoutRequestID is stored and the callback makes the ticket Paid', async () => {
    const tk = await insertPendingTicket(db, { phone: '254708374149', price: 15, push: false, email: 'a@example.com' });
    const result = await t.services.payments.pushes.startPush(tk.ticketId);
    expect(result.kind).toBe('accepted');
    const checkoutRequestId = result.kind === 'accepted' ? result.checkoutRequestId : '';

    const attempts = await attemptsOf(db, tk.ticketId);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ checkoutRequestId, phoneNumber: '254708374149', amount: 45 });
    expect(attempts[0]!.merchantRequestId).toBeTruthy();

    const paid = await waitFor('Paid', async () => {
      const r = await ticketRow(db, tk.ticketId);
      return r.paymentStatus === 'Paid' ? r : undefined;
    });
    const prompt = t.services.simulator!.prompts().find((p) => p.checkoutRequestId === checkoutRequestId);
    // What Daraja (the simulator, which also checked the Password against its Timestamp) was asked for.
    expect(prompt).toMatchObject({
      phoneNumber: '254708374149', amount: 45, businessShortCode: t.config.daraja.shortcode, partyB: t.config.daraja.partyB,
      transactionType: 'CustomerPayBillOnline', accountReference: 'Tikiti', transactionDesc: 'Movie ticket', callbackUrl: t.config.daraja.callbackUrl,
    });
    expect(paid).toMatchObject({ mpesaReceiptNumber: prompt?.mpesaReceiptNumber, confirmedBy: 'callback', holdsTickets: 1 });
    expect(paid.transactionDate).not.toBeNull();
    expect((await attemptsOf(db, tk.ticketId))[0]).toMatchObject({ status: 'Completed', resultCode: '0' });
    expect(await notificationKinds(db, tk.ticketId)).toEqual(['Paid']);
  });

  it('when the push to 254700000007 is refused at once, then the ticket is Failed with the subscriber-busy sentence and its tickets released', async () => {
    const tk = await insertPendingTicket(db, { phone: '254700000007', price: 20, push: false });
    const result = await t.services.payments.pushes.startPush(tk.ticketId);

    expect(result).toEqual({ kind: 'refused', reason: CUSTOMER_MESSAGES.subscriberBusy, errorCode: '500.001.1001' });
    expect(await ticketRow(db, tk.ticketId)).toMatchObject({
      paymentStatus: 'Failed', failureReason: CUSTOMER_MESSAGES.subscriberBusy, holdsTickets: 0, nextCheckAt: null,
    });
    expect(await ticketsHeld(db, tk.movieId)).toBe(0);
    expect((await attemptsOf(db, tk.ticketId))[0]).toMatchObject({ status: 'Refused', errorCode: '500.001.1001', checkoutRequestId: null });
    expect(await notificationKinds(db, tk.ticketId)).toEqual(['Failed']);
  });

  it('when 254700000001 cancels on the phone, then the callback makes the ticket Failed with the plain reason', async () => {
    const tk = await insertPendingTicket(db, { phone: '254700000001', price: 21, push: false });
    expect((await t.services.payments.pushes.startPush(tk.ticketId)).kind).toBe('accepted');
    const failed = await waitFor('Failed', async () => {
      const r = await ticketRow(db, tk.ticketId);
      return r.paymentStatus === 'Failed' ? r : undefined;
    });
    expect(failed).toMatchObject({ failureReason: 'You cancelled the payment on your phone.', resultCode: '1032', holdsTickets: 0 });
    expect(await ticketsHeld(db, tk.movieId)).toBe(0);
  });

  it('when 254700000006 pays and the callback is delivered twice, then the ticket is Paid once and the copy is a duplicate', async () => {
    const tk = await insertPendingTicket(db, { phone: '254700000006', price: 22, push: false });
    const result = await t.services.payments.pushes.startPush(tk.ticketId);
    const id = result.kind === 'accepted' ? result.checkoutRequestId : '';
    const rows = await waitFor('two callbacks', async () => {
      const r = await inboxRowsFor(db, id);
      return r.length === 2 ? r : undefined;
    });
    expect(rows.map((r) => r.outcome)).toEqual(['applied', 'duplicate']);
    expect((await ticketRow(db, tk.ticketId)).paymentStatus).toBe('Paid');
    expect(await notificationKinds(db, tk.ticketId)).toEqual(['Paid']);
  });

  it('when startPush is asked for a ticket that is not Pending, then it refuses without sending anything', async () => {
    const tk = await insertPendingTicket(db, { phone: '254700000007', price: 23, push: false });
    await t.services.payments.pushes.startPush(tk.ticketId); // refused → Failed
    expect(await t.services.payments.pushes.startPush(tk.ticketId)).toEqual({ kind: 'not_pending' });
    expect(await attemptsOf(db, tk.ticketId)).toHaveLength(1);
  });
});

describe.each(dialects)('STK push whose answer never comes (254700000008) on %s', (dialect) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(dialect, { MPESA_CALLBACK_TOKEN: TOKEN, DARAJA_TIMEOUT_MS: '600' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('when the push times out but the prompt is paid and its callback sent, then the callback is matched by phone and amount and the ticket is Paid', async () => {
    const db = t.database.db;
    const tk = await insertPendingTicket(db, { phone: '254700000008', price: 25, push: false });
    const result = await t.services.payments.pushes.startPush(tk.ticketId);
    expect(result).toEqual({ kind: 'unknown' });

    const paid = await waitFor('Paid', async () => {
      const r = await ticketRow(db, tk.ticketId);
      return r.paymentStatus === 'Paid' ? r : undefined;
    });
    expect(paid).toMatchObject({ confirmedBy: 'callback', holdsTickets: 1 });
    expect(paid.mpesaReceiptNumber).toMatch(/^[A-Z0-9]{10}$/);
    const [attempt] = await attemptsOf(db, tk.ticketId);
    // The timeout's 'Unknown' must not overwrite the result the callback recorded.
    expect(attempt).toMatchObject({ status: 'Completed', resultCode: '0' });
    expect(attempt!.checkoutRequestId).toBe(t.services.simulator!.prompts().find((p) => p.phoneNumber === '254700000008')?.checkoutRequestId);
  });
});

describe.each(dialects)('STK push against a misbehaving Daraja (nock) on %s', (dialect) => {
  const DARAJA = 'http://daraja.test';
  const PUSH = '/mpesa/stkpush/v1/processrequest';
  // What Daraja should be sent, from this app's settings (none of them the defaults).
  const SHORTCODE = '600584';
  const PASSKEY = 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9';
  const PUBLIC_BASE_URL = 'https://tickets.example.co.ke';
  // 17:12:01 UTC is 20:12:01 in Nairobi: a Timestamp on the UTC clock would read …171201.
  const clock = frozenClock(new Date('2025-05-14T17:12:01.000Z'));
  const NAIROBI_TIMESTAMP = '20250514201201';
  // Each push's whole budget. A callback posted from inside Daraja's answer (below) is spent from it too.
  const TIMEOUT_MS = 1000;
  let t: TestApp;
  let db: Db;
  beforeAll(async () => {
    t = await createTestApp(dialect, {
      MPESA_CALLBACK_TOKEN: TOKEN, DARAJA_BASE_URL: DARAJA, DARAJA_TIMEOUT_MS: String(TIMEOUT_MS), DARAJA_SHORTCODE: SHORTCODE,
      DARAJA_PASSKEY: PASSKEY, PUBLIC_BASE_URL, ACCOUNT_REFERENCE: 'TIKITI-T', TRANSACTION_DESC: 'Cinema seats',
    }, { now: clock.now });
    db = t.database.db;
    // The token first (it stays fresh on the frozen clock), so no push spends its budget fetching one.
    nock(DARAJA).get('/oauth/v1/generate').query(true).reply(200, { access_token: 'tok', expires_in: '3599' });
    await t.services.daraja.getAccessToken();
  });
  afterAll(async () => {
    await t?.close();
  });
  beforeEach(() => {
    nock(DARAJA).get('/oauth/v1/generate').query(true).reply(200, { access_token: 'tok', expires_in: '3599' }).persist();
  });

  const accepted = (id: string) => ({
    MerchantRequestID: '29115-34620561-1', CheckoutRequestID: id, ResponseCode: '0',
    ResponseDescription: 'Success. Request accepted for processing', CustomerMessage: 'Success. Request accepted for processing',
  });
  const postCallback = (body: unknown) =>
    request(t.app).post(`/api/payments/callback/${TOKEN}`).set('Content-Type', 'application/json').send(JSON.stringify(body));
  /** Daraja's push endpoint, answering with `reply` (after `delayMs`), keeping every body and Authorization it was sent. */
  const pushEndpoint = (reply: () => Promise<[number, unknown]> | [number, unknown], delayMs = 0) => {
    const sent: Array<{ body: Record<string, unknown>; authorization: string | undefined }> = [];
    nock(DARAJA).post(PUSH).delay(delayMs).reply(function (_uri, body) {
      sent.push({ body: body as Record<string, unknown>, authorization: this.req.headers.authorization as string | undefined });
      return reply();
    });
    return sent;
  };
  /** The one body Daraja was sent for this ticket, field by field as Safaricom documents it. */
  const expectPushBodyFor = (sent: Array<{ body: Record<string, unknown> }>, tk: { phone: string; totalAmount: number }) => {
    expect(sent).toHaveLength(1);
    const body = sent[0]!.body;
    expect(body).toEqual({
      BusinessShortCode: Number(SHORTCODE),
      Password: expect.any(String),
      Timestamp: NAIROBI_TIMESTAMP,
      TransactionType: 'CustomerPayBillOnline',
      Amount: tk.totalAmount,
      PartyA: Number(tk.phone),
      PartyB: Number(SHORTCODE),
      PhoneNumber: Number(tk.phone),
      CallBackURL: `${PUBLIC_BASE_URL}/api/payments/callback/${TOKEN}`,
      AccountReference: 'TIKITI-T',
      TransactionDesc: 'Cinema seats',
    });
    expect(Buffer.from(String(body.Password), 'base64').toString('utf8')).toBe(`${SHORTCODE}${PASSKEY}${NAIROBI_TIMESTAMP}`);
  };

  it('when a push is sent, then Daraja gets the documented body: numbers where numeric, the Nairobi Timestamp, a Password of shortcode+passkey+timestamp', async () => {
    const tk = await insertPendingTicket(db, { push: false, price: 35, quantity: 2 });
    const sent = pushEndpoint(() => [200, accepted('ws_CO_documented_body')]);
    expect(await t.services.payments.pushes.startPush(tk.ticketId)).toEqual({ kind: 'accepted', checkoutRequestId: 'ws_CO_documented_body' });

    expectPushBodyFor(sent, tk);
    const body = sent[0]!.body;
    for (const field of ['BusinessShortCode', 'Amount', 'PartyA', 'PartyB', 'PhoneNumber']) expect(typeof body[field], field).toBe('number');
    expect(body.Amount).toBe(70);
    expect(sent[0]!.authorization).toBe('Bearer tok');
    expect((await attemptsOf(db, tk.ticketId))[0]).toMatchObject({ status: 'Accepted', checkoutRequestId: 'ws_CO_documented_body', amount: 70, phoneNumber: tk.phone });
  });

  it('when the push times out, then the attempt is Unknown and the ticket stays Pending holding its tickets', async () => {
    const sent = pushEndpoint(() => [200, accepted('ws_CO_never')], TIMEOUT_MS + 2000);
    const tk = await insertPendingTicket(db, { push: false });
    const started = Date.now();
    expect(await t.services.payments.pushes.startPush(tk.ticketId)).toEqual({ kind: 'unknown' });
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 1000);

    expectPushBodyFor(sent, tk);
    expect(await ticketRow(db, tk.ticketId)).toMatchObject({ paymentStatus: 'Pending', holdsTickets: 1, failureReason: null });
    expect(await ticketsHeld(db, tk.movieId)).toBe(3);
    expect((await attemptsOf(db, tk.ticketId))[0]).toMatchObject({ status: 'Unknown', errorCode: 'DARAJA_NETWORK', checkoutRequestId: null });
    expect(await notificationKinds(db, tk.ticketId)).toEqual([]);
  });

  it('when Daraja answers a 502 HTML page, then the push is unknown (it may have gone through) and the ticket stays Pending', async () => {
    const sent = pushEndpoint(() => [502, '<html>Bad gateway</html>']);
    const tk = await insertPendingTicket(db, { push: false });
    expect(await t.services.payments.pushes.startPush(tk.ticketId)).toEqual({ kind: 'unknown' });
    expectPushBodyFor(sent, tk);
    expect((await ticketRow(db, tk.ticketId)).paymentStatus).toBe('Pending');
  });

  it('when Daraja answers spike arrest 500.003.02, then the ticket is Failed with a plain "busy" reason and released', async () => {
    const sent = pushEndpoint(() => [500, { requestId: 'r-1', errorCode: '500.003.02', errorMessage: 'Spike arrest violation' }]);
    const tk = await insertPendingTicket(db, { push: false });
    expect(await t.services.payments.pushes.startPush(tk.ticketId)).toEqual({ kind: 'refused', reason: CUSTOMER_MESSAGES.darajaBusy, errorCode: '500.003.02' });
    expectPushBodyFor(sent, tk);
    expect(await ticketRow(db, tk.ticketId)).toMatchObject({ paymentStatus: 'Failed', failureReason: CUSTOMER_MESSAGES.darajaBusy, holdsTickets: 0 });
    expect(await ticketsHeld(db, tk.movieId)).toBe(0);
  });

  it('when a failure callback beats the push answer, then it is unmatched until the CheckoutRequestID is stored, and then applied', async () => {
    const id = 'ws_CO_beats_the_answer_1';
    const tk = await insertPendingTicket(db, { push: false });
    let outcomeBeforeAnswer: string | undefined;
    const sent = pushEndpoint(async () => {
      await postCallback(failureCallback({ checkoutRequestId: id, resultCode: 1032, resultDesc: 'Request cancelled by user' }));
      outcomeBeforeAnswer = (await inboxRowsFor(db, id))[0]?.outcome;
      return [200, accepted(id)];
    });
    expect(await t.services.payments.pushes.startPush(tk.ticketId)).toEqual({ kind: 'accepted', checkoutRequestId: id });

    expectPushBodyFor(sent, tk);
    expect(outcomeBeforeAnswer).toBe('unmatched');
    expect((await inboxRowsFor(db, id)).map((r) => r.outcome)).toEqual(['applied']);
    expect(await ticketRow(db, tk.ticketId)).toMatchObject({ paymentStatus: 'Failed', failureReason: 'You cancelled the payment on your phone.' });
    expect(await ticketsHeld(db, tk.movieId)).toBe(0);
  });

  it('when a success callback beats the push answer, then it is matched by phone and amount at once, and the answer stores the same id', async () => {
    const id = 'ws_CO_beats_the_answer_2';
    const tk = await insertPendingTicket(db, { push: false, price: 31 });
    const sent = pushEndpoint(async () => {
      await postCallback(successCallback({ checkoutRequestId: id, amount: tk.totalAmount, phone: tk.phone }));
      return [200, accepted(id)];
    });
    expect(await t.services.payments.pushes.startPush(tk.ticketId)).toEqual({ kind: 'accepted', checkoutRequestId: id });

    expectPushBodyFor(sent, tk);
    expect((await inboxRowsFor(db, id)).map((r) => r.outcome)).toEqual(['applied']);
    expect((await ticketRow(db, tk.ticketId)).paymentStatus).toBe('Paid');
    expect((await attemptsOf(db, tk.ticketId))[0]).toMatchObject({ checkoutRequestId: id, merchantRequestId: '29115-34620561-1', status: 'Completed' });
  });
});

describe.each(dialects)('the STK push body for a till (CustomerBuyGoodsOnline) on %s', (dialect) => {
  it('when the app takes payments to a till, then TransactionType is CustomerBuyGoodsOnline and PartyB the till, not the shortcode', async () => {
    const DARAJA = 'http://daraja-till.test';
    const t = await createTestApp(dialect, {
      MPESA_CALLBACK_TOKEN: TOKEN, DARAJA_BASE_URL: DARAJA, DARAJA_SHORTCODE: '600584', DARAJA_TRANSACTION_TYPE: 'CustomerBuyGoodsOnline',
      DARAJA_PARTY_B: '5123456',
    });
    try {
      nock(DARAJA).get('/oauth/v1/generate').query(true).reply(200, { access_token: 'tok', expires_in: '3599' });
      let body: Record<string, unknown> | undefined;
      nock(DARAJA).post('/mpesa/stkpush/v1/processrequest').reply((_uri, b) => {
        body = b as Record<string, unknown>;
        return [200, { MerchantRequestID: 'm-1', CheckoutRequestID: 'ws_CO_till', ResponseCode: '0', ResponseDescription: 'ok', CustomerMessage: 'ok' }];
      });
      const tk = await insertPendingTicket(t.database.db, { push: false });
      expect((await t.services.payments.pushes.startPush(tk.ticketId)).kind).toBe('accepted');
      expect(body).toMatchObject({ BusinessShortCode: 600584, TransactionType: 'CustomerBuyGoodsOnline', PartyB: 5123456, PartyA: Number(tk.phone) });
    } finally {
      await t.close();
    }
  });
});

describe.each(dialects)('STK push when Daraja cannot be reached at all on %s', (dialect) => {
  it('when nothing listens at DARAJA_BASE_URL, then nothing was sent, the ticket is Failed "could not reach M-Pesa" and released', async () => {
    const t = await createTestApp(dialect, { MPESA_CALLBACK_TOKEN: TOKEN, DARAJA_BASE_URL: 'http://127.0.0.1:9', DARAJA_TIMEOUT_MS: '500' });
    try {
      const db = t.database.db;
      const tk = await insertPendingTicket(db, { push: false });
      const result = await t.services.payments.pushes.startPush(tk.ticketId);
      expect(result.kind).toBe('refused');
      expect(await ticketRow(db, tk.ticketId)).toMatchObject({ paymentStatus: 'Failed', failureReason: CUSTOMER_MESSAGES.unreachable, holdsTickets: 0 });
      expect(await ticketsHeld(db, tk.movieId)).toBe(0);
    } finally {
      await t.close();
    }
  });
});
