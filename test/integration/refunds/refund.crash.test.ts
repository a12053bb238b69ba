import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { createApp } from '../../../src/app.js';
import { buildServices, type Services } from '../../../src/compose.js';
import { toDbTime } from '../../../src/core/db/time.js';
import { silentLogger } from '../../../src/core/logger.js';
import { inTransaction } from '../../../src/core/db/transaction.js';
import { insertInboxRow, takeOverExpiredLeases } from '../../../src/store/callback-inbox.repository.js';
import { insertRefund, takeForSending } from '../../../src/store/refund.repository.js';
import { testConfig } from '../../support/config.js';
import { dialects } from '../../support/db.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import { waitFor } from '../../support/wait.js';
import { REFUND_ENV, askRefund, paidTicket, refundRows, reversalsOf, reversed, waitForRefund } from './helpers.js';

// What a crash, a second instance or a repeat can do to a refund: never send a reversal twice.

const TOKEN = `tok_${randomBytes(20).toString('hex')}`;

describe.each(dialects)('refunds across crashes and instances on %s', (dialect) => {
  let s: TestServer;
  let other: Services;
  beforeAll(async () => {
    s = await startTestServer(dialect, { ...REFUND_ENV, MPESA_CALLBACK_TOKEN: TOKEN });
    // A second instance on the same database and the same Daraja (the first one's simulator), as behind a balancer.
    other = await buildServices(testConfig({
      ...REFUND_ENV, DATABASE_URL: s.database.url, MPESA_CALLBACK_TOKEN: TOKEN, PORT: String(s.port), PUBLIC_BASE_URL: s.baseUrl,
      DARAJA_BASE_URL: `${s.baseUrl}/simulator`,
    }), silentLogger, { database: s.database, migrate: false });
  });
  afterAll(async () => {
    await other?.stop();
    await s?.close();
  });

  const record = async (ticketId: number, amount: number, receipt: string) =>
    insertRefund(s.database.db, { ticketId, amount, transactionId: receipt, reason: 'crash test', actor: 'test', now: new Date(), nextAttemptAt: new Date() });

  it('when the app stopped after recording a refund and before sending it, then the next run sends it exactly once, whichever instances run', async () => {
    const t = await paidTicket(s, { late: true });
    const refundId = await record(t.ticketId, Number(t.totalAmount), t.receipt);
    await Promise.all([s.services.refunds.sender.drain(), other.refunds.sender.drain(), s.services.refunds.reconciler.runOnce(), other.refunds.reconciler.runOnce()]);
    await waitForRefund(s, refundId, 'refunded');
    expect(reversalsOf(s, t.receipt)).toBe(1);
  });

  it('when the app stopped after taking a refund for sending (the reversal may have left), then it is never sent again: Transaction Status settles it', async () => {
    const t = await paidTicket(s, { late: true });
    const refundId = await record(t.ticketId, Number(t.totalAmount), t.receipt);
    expect(await takeForSending(s.database.db, refundId, new Date())).toBe(true);
    // The sender died right there: no answer kept. Ten minutes on, a reconcile run finds it.
    await s.database.db.updateTable('refund').set({ sendingSince: toDbTime(new Date(Date.now() - 600_000)) }).where('refundId', '=', refundId).execute();
    await s.services.refunds.reconciler.runOnce();
    const [row] = await refundRows(s.database.db, t.ticketId);
    expect(row).toMatchObject({ status: 'unknown', statusConversationId: expect.any(String) });
    // The reversal never left, so Transaction Status says the payment stands: the refund is failed, and retryable.
    const failed = await waitForRefund(s, refundId, 'failed');
    expect(failed.failureReason).toMatch(/not reversed/);
    expect(reversalsOf(s, t.receipt)).toBe(0);
    await other.refunds.reconciler.runOnce();
    expect(reversalsOf(s, t.receipt)).toBe(0);
    const retry = await askRefund(s, { ref: t.ref, reason: 'after the crash' }).expect(202);
    await waitForRefund(s, retry.body.refundId, 'refunded');
    expect(reversalsOf(s, t.receipt)).toBe(1);
  });

  it('when a result is delivered to the other instance too, then it is stored there as a duplicate and changes nothing', async () => {
    const t = await paidTicket(s, { late: true });
    const res = await askRefund(s, { ref: t.ref, reason: 'once' }).expect(202);
    await waitForRefund(s, res.body.refundId, 'refunded');
    // The inbox row is finished (outcome, ticket) just after the refund turns refunded.
    const applied = await waitFor('the applied result in the inbox', () => s.database.db.selectFrom('callbackinbox').selectAll()
      .where('ticketId', '=', t.ticketId).where('source', '=', 'reversal').where('outcome', '=', 'applied').executeTakeFirst());
    const before = await s.database.db.selectFrom('ticket').selectAll().where('ticketId', '=', t.ticketId).executeTakeFirstOrThrow();
    const ack = await request(createApp(other)).post(`/api/payments/result/${TOKEN}`).type('application/json').send(applied.body).expect(200);
    expect(ack.body).toEqual({ ResultCode: 0, ResultDesc: 'Success' });
    const rows = await s.database.db.selectFrom('callbackinbox').select('outcome').where('ticketId', '=', t.ticketId).where('source', '=', 'reversal').orderBy('callbackId').execute();
    expect(rows.map((r) => r.outcome)).toEqual(['applied', 'duplicate']);
    expect(await s.database.db.selectFrom('ticket').selectAll().where('ticketId', '=', t.ticketId).executeTakeFirstOrThrow()).toEqual(before);
    const notes = await s.database.db.selectFrom('notification').select(['kind', 'channel']).where('ticketId', '=', t.ticketId).execute();
    expect(notes.every((n) => n.kind === 'Refunded') && new Set(notes.map((n) => n.channel)).size === notes.length).toBe(true);
  });

  it('when the initiator password is wrong, then the refund fails with M-Pesa\'s 2001 and says which settings to fix', async () => {
    const wrong = await buildServices(testConfig({
      ...REFUND_ENV, DATABASE_URL: s.database.url, MPESA_CALLBACK_TOKEN: TOKEN, PORT: String(s.port), PUBLIC_BASE_URL: s.baseUrl,
      DARAJA_BASE_URL: `${s.baseUrl}/simulator`, DARAJA_INITIATOR_PASSWORD: 'not-the-password',
    }), silentLogger, { database: s.database, migrate: false });
    try {
      const t = await paidTicket(s, { late: true });
      const r = await wrong.refunds.service.request({ ticketId: t.ticketId, reason: 'wrong password', actor: 'ops' });
      expect(r.ok).toBe(true);
      const failed = await waitForRefund(s, r.ok ? r.value.refundId : 0, 'failed');
      expect(failed.failureReason).toMatch(/initiator information is invalid.*check DARAJA_INITIATOR_NAME and DARAJA_INITIATOR_PASSWORD/);
      expect(failed.failureReason).not.toContain('not-the-password');
      expect(reversed(s, t.receipt)).toBe(false);
    } finally {
      await wrong.stop();
    }
  });

  it('when a reversal result was stored but the app stopped before applying it, then the refund reconciler applies it and the payments reconciler leaves it alone', async () => {
    const t = await paidTicket(s, { late: true, phone: '254700000013' });
    const res = await askRefund(s, { ref: t.ref, reason: 'owed' }).expect(202);
    const accepted = await waitFor('accepted', async () => {
      const [r] = await refundRows(s.database.db, t.ticketId);
      return r?.status === 'accepted' ? r : undefined;
    });
    const body = JSON.stringify({ Result: { ResultType: 0, ResultCode: 0, ResultDesc: 'The service request is processed successfully.',
      OriginatorConversationID: accepted.originatorConversationId, ConversationID: accepted.conversationId, TransactionID: 'RVX1234567' } });
    const callbackId = await insertInboxRow(s.database.db, { source: 'reversal', sourceIp: '127.0.0.1', body, outcome: 'received', detail: 'result URL', now: new Date(Date.now() - 60_000) });
    await s.services.payments.reconciler.runOnce();
    // Nor does the payments inbox applier's lease takeover take it (it would apply it as a payment callback).
    await inTransaction(s.database, (tx) => takeOverExpiredLeases(tx, 'another-instance', new Date(), new Date(Date.now() + 60_000), 1000));
    expect((await s.database.db.selectFrom('callbackinbox').select('claimedBy').where('callbackId', '=', callbackId).executeTakeFirstOrThrow()).claimedBy).toBeNull();
    const row = () => s.database.db.selectFrom('callbackinbox').select(['outcome', 'ticketId']).where('callbackId', '=', callbackId).executeTakeFirstOrThrow();
    expect((await row()).outcome).toBe('received');
    const report = await s.services.refunds.reconciler.runOnce();
    expect(report.resultsReprocessed).toBe(1);
    expect(await row()).toEqual({ outcome: 'applied', ticketId: t.ticketId });
    expect((await refundRows(s.database.db, t.ticketId))[0]).toMatchObject({ refundId: res.body.refundId, status: 'refunded', reversalTransactionId: 'RVX1234567' });
  });

  it('when a reversal result arrives before the refund has stored the ConversationID Daraja answered with, then it is still applied', async () => {
    const t = await paidTicket(s, { late: true, phone: '254700000013' });
    await askRefund(s, { ref: t.ref, reason: 'owed' }).expect(202);
    const accepted = await waitFor('accepted', async () => {
      const [r] = await refundRows(s.database.db, t.ticketId);
      return r?.status === 'accepted' ? r : undefined;
    });
    // As if the answer to our request were still on its way: the refund does not know its ids yet.
    await s.database.db.updateTable('refund').set({ conversationId: null, originatorConversationId: null }).where('refundId', '=', accepted.refundId).execute();
    const body = JSON.stringify({ Result: { ResultType: 0, ResultCode: 0, ResultDesc: 'The service request is processed successfully.',
      OriginatorConversationID: accepted.originatorConversationId, ConversationID: accepted.conversationId, TransactionID: 'RVX7654321' } });
    const posted = request(s.app).post(`/api/payments/result/${TOKEN}`).set('Content-Type', 'application/json').send(body);
    const answerArrives = new Promise((r) => setTimeout(r, 300)).then(() => s.database.db.updateTable('refund')
      .set({ conversationId: accepted.conversationId, originatorConversationId: accepted.originatorConversationId })
      .where('refundId', '=', accepted.refundId).execute());
    const [res] = await Promise.all([posted, answerArrives]);
    expect(res.status).toBe(200);
    expect((await refundRows(s.database.db, t.ticketId))[0]).toMatchObject({ status: 'refunded', reversalTransactionId: 'RVX7654321' });
    const row = await s.database.db.selectFrom('callbackinbox').select('outcome').where('source', '=', 'reversal').where('body', '=', body).executeTakeFirstOrThrow();
    expect(row.outcome).toBe('applied');
  });

  it('when both instances are asked to refund one ticket at once, then one refund is recorded and one reversal sent', async () => {
    const t = await paidTicket(s, { late: true });
    const results = await Promise.all([
      ...Array.from({ length: 5 }, () => s.services.refunds.service.request({ ticketId: t.ticketId, reason: 'a', actor: 'ops' })),
      ...Array.from({ length: 5 }, () => other.refunds.service.request({ ticketId: t.ticketId, reason: 'b', actor: 'ops2' })),
    ]);
    const won = results.filter((r) => r.ok);
    expect(won).toHaveLength(1);
    expect(results.filter((r) => !r.ok).map((r) => !r.ok && r.error.kind)).toEqual(Array(9).fill('in_flight_or_done'));
    await waitFor('one reversal', () => reversalsOf(s, t.receipt) === 1);
    await waitFor('refunded', async () => (await refundRows(s.database.db, t.ticketId))[0]!.status === 'refunded');
    await Promise.all([s.services.refunds.reconciler.runOnce(), other.refunds.reconciler.runOnce()]);
    expect(await refundRows(s.database.db, t.ticketId)).toHaveLength(1);
    expect(reversalsOf(s, t.receipt)).toBe(1);
  });
});
