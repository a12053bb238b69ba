import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../../support/db.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import { waitFor } from '../../support/wait.js';
import { REFUND_ENV, askRefund, paidTicket, refundJson, refundRows, reversalsOf, reversed, waitForRefund } from './helpers.js';

// Refunds end to end: the admin API records the refund, the client sends the reversal to the built-in simulator, the
// simulator posts the result to ResultURL, and the app applies it.

describe.each(dialects)('refunds through the simulator on %s', (dialect) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(dialect, { ...REFUND_ENV, PAYMENT_TIMEOUT_SECONDS: '1' });
  });
  afterAll(async () => {
    await s?.close();
  });

  const ticketRow = (ticketId: number) => s.database.db.selectFrom('ticket').selectAll().where('ticketId', '=', ticketId).executeTakeFirstOrThrow();
  const held = async (movieId: number) => (await s.database.db.selectFrom('movie').select('ticketsHeld').where('movieId', '=', movieId).executeTakeFirstOrThrow()).ticketsHeld;

  it('when a late payment flagged for refund is refunded with one request, then it ends refunded: ticket, status JSON, inbox, audit and a Refunded message, once', async () => {
    const t = await paidTicket(s, { late: true });
    const res = await askRefund(s, { ref: t.ref, reason: 'Paid after the show sold out' }).expect(202);
    expect(res.body).toEqual({ refundId: expect.any(Number), status: 'requested' });
    const done = await waitForRefund(s, res.body.refundId, 'refunded');
    expect(done).toMatchObject({ ref: t.ref, amount: 30, transactionId: t.receipt, reason: 'Paid after the show sold out', failureReason: null });

    const ticket = await ticketRow(t.ticketId);
    expect(ticket).toMatchObject({ paymentStatus: 'Paid', needsRefund: 0, holdsTickets: 0 });
    expect(ticket.refundedAt).not.toBeNull();
    const status = (await request(s.baseUrl).get(`/tickets/${t.ref}/status`).expect(200)).body;
    expect(status).toMatchObject({ status: 'Paid', refundStatus: 'refunded', refundedAt: expect.stringMatching(/\+03:00$/) });
    const page = await request(s.baseUrl).get(`/tickets/${t.ref}`).expect(200);
    expect(page.text).toContain('<h1>Refunded</h1>');
    expect(page.text).toContain('KES 30 was sent back to your M-Pesa');

    const [refund] = await refundRows(s.database.db, t.ticketId);
    expect(refund).toMatchObject({ status: 'refunded', activeTicketId: t.ticketId, conversationId: expect.stringMatching(/^AG_/), resultCode: '0' });
    // The inbox row is finished (outcome, ticket) just after the refund turns refunded.
    const inbox = await waitFor('the applied result in the inbox', async () => {
      const rows = await s.database.db.selectFrom('callbackinbox').selectAll().where('ticketId', '=', t.ticketId).where('source', '=', 'reversal').execute();
      return rows.length > 0 ? rows : undefined;
    });
    expect(inbox.map((r) => r.outcome)).toEqual(['applied']);
    const notes = await s.database.db.selectFrom('notification').selectAll().where('ticketId', '=', t.ticketId).execute();
    // One Refunded message per channel the customer has (the log or email, and an SMS where SMS is on).
    expect(notes.length).toBeGreaterThan(0);
    expect(new Set(notes.map((n) => n.kind))).toEqual(new Set(['Refunded']));
    expect(new Set(notes.map((n) => n.channel)).size).toBe(notes.length);
    const audit = await s.database.db.selectFrom('auditlog').select('action').where('ticketId', '=', t.ticketId).orderBy('auditId').execute();
    expect(audit.map((a) => a.action)).toEqual(['refund.requested', 'refund.refunded']);
    expect(reversalsOf(s, t.receipt)).toBe(1);

    // The same result delivered again (Daraja repeating itself, or to the other instance): 200, and nothing changes.
    const again = await request(s.baseUrl).post(`/api/payments/result/${s.config.callbackToken}`).type('application/json').send(inbox[0]!.body).expect(200);
    expect(again.body).toEqual({ ResultCode: 0, ResultDesc: 'Success' });
    const after = await s.database.db.selectFrom('callbackinbox').select('outcome').where('ticketId', '=', t.ticketId).where('source', '=', 'reversal').orderBy('callbackId').execute();
    expect(after.map((r) => r.outcome)).toEqual(['applied', 'duplicate']);
    expect((await ticketRow(t.ticketId)).refundedAt).toBe(ticket.refundedAt);
    expect(await s.database.db.selectFrom('notification').select('notificationId').where('ticketId', '=', t.ticketId).execute()).toHaveLength(notes.length);
    expect(await s.database.db.selectFrom('auditlog').select('auditId').where('ticketId', '=', t.ticketId).execute()).toHaveLength(2);
    // A second refund of a refunded ticket is refused.
    expect((await askRefund(s, { ref: t.ref, reason: 'again' }).expect(409)).body).toMatchObject({ refundId: res.body.refundId, status: 'refunded' });
  });

  it('when a Paid ticket holding seats is refunded, then its seats are released', async () => {
    const t = await paidTicket(s, { quantity: 3 });
    expect(await held(t.movieId)).toBe(3);
    const res = await askRefund(s, { ref: t.ref, reason: 'Customer asked' }).expect(202);
    await waitForRefund(s, res.body.refundId, 'refunded');
    expect(await held(t.movieId)).toBe(0);
  });

  it('when 20 refund requests for one ticket arrive at once, then one is accepted, 19 are 409, and one reversal is sent', async () => {
    const t = await paidTicket(s, { late: true });
    const answers = await Promise.all(Array.from({ length: 20 }, () => askRefund(s, { ref: t.ref, reason: 'double click' })));
    expect(answers.map((a) => a.status).sort()).toEqual([202, ...Array(19).fill(409)]);
    const id = answers.find((a) => a.status === 202)!.body.refundId;
    await waitForRefund(s, id, 'refunded');
    expect(await refundRows(s.database.db, t.ticketId)).toHaveLength(1);
    expect(reversalsOf(s, t.receipt)).toBe(1);
  });

  it('when the reversal result is non-zero (254700000012), then the refund is failed with the reason and a new one can be asked for', async () => {
    const t = await paidTicket(s, { phone: '254700000012', late: true });
    const first = await askRefund(s, { ref: t.ref, reason: 'Owed' }).expect(202);
    const failed = await waitForRefund(s, first.body.refundId, 'failed');
    expect(failed.failureReason).toMatch(/insufficient/i);
    expect((await ticketRow(t.ticketId)).refundedAt).toBeNull();
    const second = await askRefund(s, { ref: t.ref, reason: 'Try again' }).expect(202);
    expect(second.body.refundId).not.toBe(first.body.refundId);
    await waitForRefund(s, second.body.refundId, 'failed');
    expect(reversalsOf(s, t.receipt)).toBe(2);
    expect((await refundRows(s.database.db, t.ticketId)).map((r) => [r.status, r.activeTicketId])).toEqual([['failed', null], ['failed', null]]);
  });

  it('when Daraja refuses the reversal at once (254700000011), then the refund is failed with Daraja\'s words', async () => {
    const t = await paidTicket(s, { phone: '254700000011', late: true });
    const res = await askRefund(s, { ref: t.ref, reason: 'Owed' }).expect(202);
    const failed = await waitForRefund(s, res.body.refundId, 'failed');
    expect(failed.failureReason).toMatch(/cannot be reversed/);
    expect(reversalsOf(s, t.receipt)).toBe(1);
    expect(reversed(s, t.receipt)).toBe(false);
  });

  it('when the result never comes (254700000013), then Transaction Status settles it as refunded, without a second reversal', async () => {
    const t = await paidTicket(s, { phone: '254700000013', late: true });
    const res = await askRefund(s, { ref: t.ref, reason: 'Owed' }).expect(202);
    await waitForRefund(s, res.body.refundId, 'accepted');
    // The result wait is PAYMENT_TIMEOUT_SECONDS (1 s here); each run asks Transaction Status about what is due.
    await waitFor('settled by Transaction Status', async () => {
      await s.services.refunds.reconciler.runOnce();
      return (await refundJson(s, res.body.refundId)).status === 'refunded';
    });
    const [refund] = await refundRows(s.database.db, t.ticketId);
    expect(refund!.statusConversationId).not.toBeNull();
    expect((await ticketRow(t.ticketId)).refundedAt).not.toBeNull();
    expect(reversalsOf(s, t.receipt)).toBe(1);
    expect(reversed(s, t.receipt)).toBe(true);
    const audit = await s.database.db.selectFrom('auditlog').select('detail').where('ticketId', '=', t.ticketId).where('action', '=', 'refund.refunded').execute();
    expect(audit[0]!.detail).toContain('Transaction Status');
  });

  it('when a ticket is not Paid, or no reason is given, then the refund is refused with a plain message and nothing is recorded', async () => {
    const t = await paidTicket(s, { late: true });
    const noReason = await askRefund(s, { ref: t.ref, reason: '  ' }).expect(422);
    expect(JSON.stringify(noReason.body)).toMatch(/reason/);
    expect((await askRefund(s, { ref: 'no-such-ticket-ref-123', reason: 'x' })).status).toBe(404);
    expect(await refundRows(s.database.db, t.ticketId)).toHaveLength(0);
  });
});
