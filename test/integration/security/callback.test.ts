import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Ticket } from '../../../src/core/db/schema.js';
import { createTestApp, type TestApp } from '../../support/app.js';
import { dialects } from '../../support/db.js';
import {
  inboxRowsFor, insertPendingTicket, lastInboxRow, newCheckoutId, successCallback, ticketRow, ticketsHeld, type PendingTicket,
} from '../payments/helpers.js';

// A pass-through spy on the constant-time primitive, so a plain === on the token makes a test fail.
const spy = vi.hoisted(() => ({ timingSafeEqual: undefined as unknown as ReturnType<typeof vi.fn> }));
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  spy.timingSafeEqual = vi.fn(actual.timingSafeEqual);
  return { ...actual, default: { ...actual, timingSafeEqual: spy.timingSafeEqual }, timingSafeEqual: spy.timingSafeEqual };
});

const TOKEN = 'hardening_0123456789abcdef0123456789abcdef';
const SAFARICOM_IP = '196.201.214.200';
const ACK = { ResultCode: 0, ResultDesc: 'Success' };

/** The ticket fields a forged callback must never move. */
const untouched = (t: Ticket) => ({
  paymentStatus: t.paymentStatus, mpesaReceiptNumber: t.mpesaReceiptNumber, transactionDate: t.transactionDate,
  holdsTickets: t.holdsTickets, confirmedBy: t.confirmedBy, failureReason: t.failureReason,
});

describe.each(dialects)('callback hardening on %s', (dialect) => {
  let t: TestApp;
  let listed: TestApp;
  let unproxied: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect, { MPESA_CALLBACK_TOKEN: TOKEN });
    listed = await createTestApp(dialect, { MPESA_CALLBACK_TOKEN: TOKEN, MPESA_CALLBACK_ALLOWED_IPS: `196.201.214.207, ${SAFARICOM_IP}`, TRUST_PROXY: 'loopback' });
    unproxied = await createTestApp(dialect, { MPESA_CALLBACK_TOKEN: TOKEN, MPESA_CALLBACK_ALLOWED_IPS: SAFARICOM_IP, TRUST_PROXY: 'false' });
  });
  afterAll(async () => {
    await t?.close();
    await listed?.close();
    await unproxied?.close();
  });
  beforeEach(() => {
    spy.timingSafeEqual.mockClear();
  });

  const send = (app: TestApp, path: string, body: unknown, xff?: string) => {
    let r = request(app.app).post(path).set('Content-Type', 'application/json');
    if (xff) r = r.set('X-Forwarded-For', xff);
    return r.send(JSON.stringify(body));
  };
  const paidBody = (tk: PendingTicket, over: { amount?: number; phone?: string; id?: string } = {}) =>
    successCallback({ checkoutRequestId: over.id ?? tk.checkoutRequestId!, amount: over.amount ?? tk.totalAmount, phone: over.phone ?? tk.phone });

  it('when a perfect success arrives with a wrong token, then 200, the inbox says rejected and the ticket is untouched', async () => {
    const tk = await insertPendingTicket(t.database.db);
    const before = untouched(await ticketRow(t.database.db, tk.ticketId));
    const wrongPaths = [
      `/api/payments/callback/${TOKEN.slice(0, -1)}`,
      `/api/payments/callback/${TOKEN}x`,
      `/api/payments/callback/${TOKEN.toUpperCase()}`,
      `/api/payments/callback/${'0'.repeat(TOKEN.length)}`,
      '/api/payments/callback/',
      '/api/payments/callback',
      `/api/payments/callback/x/${TOKEN}`,
      `/api/payments/callback/x?token=${TOKEN}`,
    ];
    for (const path of wrongPaths) {
      const res = await send(t, path, paidBody(tk));
      expect(res.status, path).toBe(200);
      expect(res.body, path).toEqual(ACK);
      const row = await lastInboxRow(t.database.db);
      expect(row.outcome, path).toBe('rejected');
      expect(row.detail, path).toBe('wrong token');
    }
    expect(untouched(await ticketRow(t.database.db, tk.ticketId))).toEqual(before);
    expect(before.paymentStatus).toBe('Pending');
    expect(await ticketsHeld(t.database.db, tk.movieId)).toBe(tk.quantity);
  });

  it('when the token is checked, then it goes through the constant-time comparison (equal-length digests), right or wrong', async () => {
    const tk = await insertPendingTicket(t.database.db);
    await send(t, '/api/payments/callback/short', paidBody(tk));
    expect(spy.timingSafeEqual).toHaveBeenCalled();
    for (const [a, b] of spy.timingSafeEqual.mock.calls as Array<[Buffer, Buffer]>) expect(a.length).toBe(b.length);
    spy.timingSafeEqual.mockClear();
    await send(t, `/api/payments/callback/${TOKEN}`, paidBody(tk));
    expect(spy.timingSafeEqual).toHaveBeenCalled();
    expect((await ticketRow(t.database.db, tk.ticketId)).paymentStatus).toBe('Paid');
  });

  it('when MPESA_CALLBACK_ALLOWED_IPS is set and the proxy says the callback came from elsewhere, then it is rejected; from a listed address it is applied', async () => {
    const tk = await insertPendingTicket(listed.database.db);
    for (const xff of ['8.8.8.8', `${SAFARICOM_IP}, 6.6.6.6`, '196.201.214.2', undefined]) {
      const res = await send(listed, `/api/payments/callback/${TOKEN}`, paidBody(tk), xff);
      expect(res.status).toBe(200);
      const row = await lastInboxRow(listed.database.db);
      expect(row.outcome, String(xff)).toBe('rejected');
      expect(row.detail, String(xff)).toMatch(/MPESA_CALLBACK_ALLOWED_IPS/);
    }
    expect((await ticketRow(listed.database.db, tk.ticketId)).paymentStatus).toBe('Pending');

    // ngrok appends the address it saw; what the client wrote before it does not count.
    const res = await send(listed, `/api/payments/callback/${TOKEN}`, paidBody(tk), `6.6.6.6, ${SAFARICOM_IP}`);
    expect(res.body).toEqual(ACK);
    const rows = await inboxRowsFor(listed.database.db, tk.checkoutRequestId!);
    expect(rows.map((r) => r.outcome)).toEqual(['applied']);
    expect(rows[0]!.sourceIp).toBe(SAFARICOM_IP);
    expect((await ticketRow(listed.database.db, tk.ticketId)).paymentStatus).toBe('Paid');
  });

  it('when TRUST_PROXY=false, then a forged X-Forwarded-For naming a Safaricom address does not pass the allow list', async () => {
    const tk = await insertPendingTicket(unproxied.database.db);
    const res = await send(unproxied, `/api/payments/callback/${TOKEN}`, paidBody(tk), SAFARICOM_IP);
    expect(res.body).toEqual(ACK);
    const row = await lastInboxRow(unproxied.database.db);
    expect(row.outcome).toBe('rejected');
    expect(row.sourceIp).not.toBe(SAFARICOM_IP);
    expect((await ticketRow(unproxied.database.db, tk.ticketId)).paymentStatus).toBe('Pending');
  });

  it('when a success with the right token names an unknown CheckoutRequestID, the wrong amount or the wrong phone, then the ticket is never Paid', async () => {
    const db = t.database.db;
    const cases: Array<[string, (tk: PendingTicket) => Record<string, unknown>, string]> = [
      ['unknown id', (tk) => paidBody(tk, { id: newCheckoutId() }), 'unmatched'],
      ['unknown id, amount and phone of nobody', (tk) => paidBody(tk, { id: newCheckoutId(), amount: 1, phone: '254711000000' }), 'unmatched'],
      ['amount lower', (tk) => paidBody(tk, { amount: tk.totalAmount - 1 }), 'mismatch'],
      ['amount 1 shilling', (tk) => paidBody(tk, { amount: 1 }), 'mismatch'],
      ['amount higher', (tk) => paidBody(tk, { amount: tk.totalAmount + 1 }), 'mismatch'],
      ['amount with cents', (tk) => paidBody(tk, { amount: tk.totalAmount - 0.01 }), 'mismatch'],
      ['another phone', (tk) => paidBody(tk, { phone: '254708374149' }), 'mismatch'],
    ];
    for (const [what, body, outcome] of cases) {
      const tk = await insertPendingTicket(db);
      const before = untouched(await ticketRow(db, tk.ticketId));
      const res = await send(t, `/api/payments/callback/${TOKEN}`, body(tk));
      expect(res.body, what).toEqual(ACK);
      expect((await lastInboxRow(db)).outcome, what).toBe(outcome);
      expect(untouched(await ticketRow(db, tk.ticketId)), what).toEqual(before);
    }
  });

  it('when a success with the right token and id carries no Amount, then the ticket is not Paid (invalid: no evidence of a payment)', async () => {
    const db = t.database.db;
    const withoutAmount = (tk: PendingTicket) => {
      const body = paidBody(tk) as { Body: { stkCallback: { CallbackMetadata: { Item: Array<{ Name: string }> } } } };
      const items = body.Body.stkCallback.CallbackMetadata.Item;
      body.Body.stkCallback.CallbackMetadata.Item = items.filter((i) => i.Name !== 'Amount');
      return body;
    };
    const withoutMetadata = (tk: PendingTicket) => {
      const body = paidBody(tk) as { Body: { stkCallback: Record<string, unknown> } };
      delete body.Body.stkCallback.CallbackMetadata;
      return body;
    };
    for (const [what, make] of [['no Amount item', withoutAmount], ['no CallbackMetadata', withoutMetadata]] as const) {
      const tk = await insertPendingTicket(db);
      const before = untouched(await ticketRow(db, tk.ticketId));
      const res = await send(t, `/api/payments/callback/${TOKEN}`, make(tk));
      expect(res.body, what).toEqual(ACK);
      expect(await lastInboxRow(db), what).toMatchObject({ outcome: 'invalid', detail: expect.stringContaining('no evidence of a payment') });
      expect(untouched(await ticketRow(db, tk.ticketId)), what).toEqual(before);
    }
  });

  it('when a forged failure names a Paid ticket, then it stays Paid with its receipt', async () => {
    const db = t.database.db;
    const tk = await insertPendingTicket(db);
    await send(t, `/api/payments/callback/${TOKEN}`, paidBody(tk));
    const paid = untouched(await ticketRow(db, tk.ticketId));
    expect(paid.paymentStatus).toBe('Paid');
    const fail = { Body: { stkCallback: { MerchantRequestID: 'x', CheckoutRequestID: tk.checkoutRequestId, ResultCode: 1032, ResultDesc: 'Request cancelled by user' } } };
    await send(t, `/api/payments/callback/${TOKEN}`, fail);
    expect(untouched(await ticketRow(db, tk.ticketId))).toEqual(paid);
  });
});
