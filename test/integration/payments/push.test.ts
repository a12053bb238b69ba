import nock from 'nock';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '../../../src/core/db/database.js';
import { CUSTOMER_MESSAGES } from '../../../src/daraja/errors.js';
import { createTestApp, type TestApp } from '../../support/app.js';
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
    const result = await t.deps.services.payments.startPush(tk.ticketId);
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
    const prompt = t.deps.simulator!.prompts().find((p) => p.checkoutRequestId === checkoutRequestId);
    expect(paid).toMatchObject({ mpesaReceiptNumber: prompt?.mpesaReceiptNumber, confirmedBy: 'callback', holdsTickets: 1 });
    expect(paid.transactionDate).not.toBeNull();
    expect((await attemptsOf(db, tk.ticketId))[0]).toMatchObject({ status: 'Completed', resultCode: '0' });
    expect(await notificationKinds(db, tk.ticketId)).toEqual(['Paid']);
  });

  it('when the push to 254700000007 is refused at once, then the ticket is Failed with the subscriber-busy sentence and its tickets released', async () => {
    const tk = await insertPendingTicket(db, { phone: '254700000007', price: 20, push: false });
    const result = await t.deps.services.payments.startPush(tk.ticketId);

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
    expect((await t.deps.services.payments.startPush(tk.ticketId)).kind).toBe('accepted');
    const failed = await waitFor('Failed', async () => {
      const r = await ticketRow(db, tk.ticketId);
      return r.paymentStatus === 'Failed' ? r : undefined;
    });
    expect(failed).toMatchObject({ failureReason: 'You cancelled the payment on your phone.', resultCode: '1032', holdsTickets: 0 });
    expect(await ticketsHeld(db, tk.movieId)).toBe(0);
  });

  it('when 254700000006 pays and the callback is delivered twice, then the ticket is Paid once and the copy is a duplicate', async () => {
    const tk = await insertPendingTicket(db, { phone: '254700000006', price: 22, push: false });
    const result = await t.deps.services.payments.startPush(tk.ticketId);
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
    await t.deps.services.payments.startPush(tk.ticketId); // refused → Failed
    await expect(t.deps.services.payments.startPush(tk.ticketId)).rejects.toMatchObject({ code: 'TICKET_NOT_PENDING' });
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
    const result = await t.deps.services.payments.startPush(tk.ticketId);
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
    expect(attempt!.checkoutRequestId).toBe(t.deps.simulator!.prompts().find((p) => p.phoneNumber === '254700000008')?.checkoutRequestId);
  });
});

describe.each(dialects)('STK push against a misbehaving Daraja (nock) on %s', (dialect) => {
  const DARAJA = 'http://daraja.test';
  let t: TestApp;
  let db: Db;
  beforeAll(async () => {
    t = await createTestApp(dialect, { MPESA_CALLBACK_TOKEN: TOKEN, DARAJA_BASE_URL: DARAJA, DARAJA_TIMEOUT_MS: '300' });
    db = t.database.db;
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

  it('when the push times out, then the attempt is Unknown and the ticket stays Pending holding its tickets', async () => {
    nock(DARAJA).post('/mpesa/stkpush/v1/processrequest').delay(1000).reply(200, accepted('ws_CO_never'));
    const tk = await insertPendingTicket(db, { push: false });
    const started = Date.now();
    expect(await t.deps.services.payments.startPush(tk.ticketId)).toEqual({ kind: 'unknown' });
    expect(Date.now() - started).toBeLessThan(1300);

    expect(await ticketRow(db, tk.ticketId)).toMatchObject({ paymentStatus: 'Pending', holdsTickets: 1, failureReason: null });
    expect(await ticketsHeld(db, tk.movieId)).toBe(3);
    expect((await attemptsOf(db, tk.ticketId))[0]).toMatchObject({ status: 'Unknown', errorCode: 'DARAJA_NETWORK', checkoutRequestId: null });
    expect(await notificationKinds(db, tk.ticketId)).toEqual([]);
  });

  it('when Daraja answers a 502 HTML page, then the push is unknown (it may have gone through) and the ticket stays Pending', async () => {
    nock(DARAJA).post('/mpesa/stkpush/v1/processrequest').reply(502, '<html>Bad gateway</html>');
    const tk = await insertPendingTicket(db, { push: false });
    expect(await t.deps.services.payments.startPush(tk.ticketId)).toEqual({ kind: 'unknown' });
    expect((await ticketRow(db, tk.ticketId)).paymentStatus).toBe('Pending');
  });

  it('when Daraja answers spike arrest 500.003.02, then the ticket is Failed with a plain "busy" reason and released', async () => {
    nock(DARAJA).post('/mpesa/stkpush/v1/processrequest')
      .reply(500, { requestId: 'r-1', errorCode: '500.003.02', errorMessage: 'Spike arrest violation' });
    const tk = await insertPendingTicket(db, { push: false });
    expect(await t.deps.services.payments.startPush(tk.ticketId)).toEqual({ kind: 'refused', reason: CUSTOMER_MESSAGES.darajaBusy, errorCode: '500.003.02' });
    expect(await ticketRow(db, tk.ticketId)).toMatchObject({ paymentStatus: 'Failed', failureReason: CUSTOMER_MESSAGES.darajaBusy, holdsTickets: 0 });
    expect(await ticketsHeld(db, tk.movieId)).toBe(0);
  });

  it('when a failure callback beats the push answer, then it is unmatched until the CheckoutRequestID is stored, and then applied', async () => {
    const id = 'ws_CO_beats_the_answer_1';
    const tk = await insertPendingTicket(db, { push: false });
    let outcomeBeforeAnswer: string | undefined;
    nock(DARAJA).post('/mpesa/stkpush/v1/processrequest').reply(async () => {
      await postCallback(failureCallback({ checkoutRequestId: id, resultCode: 1032, resultDesc: 'Request cancelled by user' }));
      outcomeBeforeAnswer = (await inboxRowsFor(db, id))[0]?.outcome;
      return [200, accepted(id)];
    });
    expect(await t.deps.services.payments.startPush(tk.ticketId)).toEqual({ kind: 'accepted', checkoutRequestId: id });

    expect(outcomeBeforeAnswer).toBe('unmatched');
    expect((await inboxRowsFor(db, id)).map((r) => r.outcome)).toEqual(['applied']);
    expect(await ticketRow(db, tk.ticketId)).toMatchObject({ paymentStatus: 'Failed', failureReason: 'You cancelled the payment on your phone.' });
    expect(await ticketsHeld(db, tk.movieId)).toBe(0);
  });

  it('when a success callback beats the push answer, then it is matched by phone and amount at once, and the answer stores the same id', async () => {
    const id = 'ws_CO_beats_the_answer_2';
    const tk = await insertPendingTicket(db, { push: false, price: 31 });
    nock(DARAJA).post('/mpesa/stkpush/v1/processrequest').reply(async () => {
      await postCallback(successCallback({ checkoutRequestId: id, amount: tk.totalAmount, phone: tk.phone }));
      return [200, accepted(id)];
    });
    expect(await t.deps.services.payments.startPush(tk.ticketId)).toEqual({ kind: 'accepted', checkoutRequestId: id });

    expect((await inboxRowsFor(db, id)).map((r) => r.outcome)).toEqual(['applied']);
    expect((await ticketRow(db, tk.ticketId)).paymentStatus).toBe('Paid');
    expect((await attemptsOf(db, tk.ticketId))[0]).toMatchObject({ checkoutRequestId: id, merchantRequestId: '29115-34620561-1', status: 'Completed' });
  });
});

describe.each(dialects)('STK push when Daraja cannot be reached at all on %s', (dialect) => {
  it('when nothing listens at DARAJA_BASE_URL, then nothing was sent, the ticket is Failed "could not reach M-Pesa" and released', async () => {
    const t = await createTestApp(dialect, { MPESA_CALLBACK_TOKEN: TOKEN, DARAJA_BASE_URL: 'http://127.0.0.1:9', DARAJA_TIMEOUT_MS: '500' });
    try {
      const db = t.database.db;
      const tk = await insertPendingTicket(db, { push: false });
      const result = await t.deps.services.payments.startPush(tk.ticketId);
      expect(result.kind).toBe('refused');
      expect(await ticketRow(db, tk.ticketId)).toMatchObject({ paymentStatus: 'Failed', failureReason: CUSTOMER_MESSAGES.unreachable, holdsTickets: 0 });
      expect(await ticketsHeld(db, tk.movieId)).toBe(0);
    } finally {
      await t.close();
    }
  });
});
