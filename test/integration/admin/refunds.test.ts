import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../support/app.js';
import { dialects } from '../../support/db.js';
import { buildMovie, buildTicket } from '../../support/builders.js';
import { insertRefund } from '../../../src/store/refund.repository.js';
import { ADMIN_ENV, at, auditRows, operator, tokenIn } from './helpers.js';

describe.each(dialects)('admin refunds on %s', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect, ADMIN_ENV);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('when refunds are listed, then only Paid tickets flagged and not yet refunded show, longest waiting first, with full phones', async () => {
    const movie = await buildMovie(t.database.db, { title: 'Sold Out Show' });
    const older = await buildTicket(t.database.db, { movieId: movie, paymentStatus: 'Paid', needsRefund: 1, holdsTickets: 0, createdAt: at('2025-01-01T10:00:00Z'), phoneNumber: '254711000001' });
    const newer = await buildTicket(t.database.db, { movieId: movie, paymentStatus: 'Paid', needsRefund: 1, holdsTickets: 0, createdAt: at('2025-01-02T10:00:00Z') });
    const done = await buildTicket(t.database.db, { movieId: movie, paymentStatus: 'Paid', needsRefund: 1, refundedAt: at('2025-01-03T10:00:00Z') });
    const normal = await buildTicket(t.database.db, { movieId: movie, paymentStatus: 'Paid' });
    const failed = await buildTicket(t.database.db, { movieId: movie, paymentStatus: 'Failed', needsRefund: 1 });
    const res = await operator(t.app).get('/admin/refunds').expect(200);
    const due = /<table id="refunds-table".*?<\/table>/s.exec(res.text)?.[0] ?? '';
    const ids = [...due.matchAll(/<tr data-ticket-id="(\d+)">/g)].map((m) => Number(m[1]));
    const mine = ids.filter((id) => [older.ticketId, newer.ticketId, done.ticketId, normal.ticketId, failed.ticketId].includes(id));
    expect(mine).toEqual([older.ticketId, newer.ticketId]);
    expect(due).toContain('254711000001');
    expect(due).toContain('Sold Out Show');
    const recent = /<table id="refunded-table".*?<\/table>/s.exec(res.text)?.[0] ?? '';
    expect(recent).toContain(`#${done.ticketId}`);
  });

  it('when an operator marks a ticket refunded, then refundedAt is set, an audit row names them, and it leaves the list', async () => {
    const movie = await buildMovie(t.database.db);
    const tk = await buildTicket(t.database.db, { movieId: movie, paymentStatus: 'Paid', needsRefund: 1, holdsTickets: 0, totalAmount: 45, mpesaReceiptNumber: 'RFD123ABC' });
    const agent = operator(t.app);
    const page = await agent.get('/admin/refunds').expect(200);
    expect(page.text).toContain(`action="/admin/refunds/${tk.ticketId}"`);
    const before = Date.now();
    const res = await agent.post(`/admin/refunds/${tk.ticketId}`).type('form').send({ _csrf: tokenIn(page.text), note: 'Reversal OEI2AK4Q16' }).expect(303);
    expect(res.headers.location).toBe(`/admin/refunds?refunded=${tk.ticketId}`);

    const row = await t.database.db.selectFrom('ticket').selectAll().where('ticketId', '=', tk.ticketId).executeTakeFirstOrThrow();
    expect(row.refundedAt).not.toBeNull();
    expect(new Date(`${row.refundedAt!.replace(' ', 'T')}Z`).getTime()).toBeGreaterThanOrEqual(before - 1000);
    expect(row.paymentStatus).toBe('Paid');
    expect(row.needsRefund).toBe(1);
    const audit = await auditRows(t.database.db, { ticketId: tk.ticketId });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor: 'ops', action: 'refund.marked', ticketId: tk.ticketId, callbackId: null });
    expect(JSON.parse(audit[0]!.detail!)).toEqual({ amount: 45, phoneNumber: row.phoneNumber, receipt: 'RFD123ABC', note: 'Reversal OEI2AK4Q16' });

    const after = await agent.get(res.headers.location!).expect(200);
    expect(after.text).toContain(`Ticket ${tk.ticketId} is marked refunded.`);
    const due = /<table id="refunds-table".*?<\/table>/s.exec(after.text)?.[0] ?? '';
    expect(due).not.toContain(`data-ticket-id="${tk.ticketId}"`);
    const timeline = await agent.get(`/admin/tickets/${tk.ticketId}`).expect(200);
    expect(timeline.text).toContain('refund.marked by ops');
  });

  it('when an M-Pesa reversal of an owed ticket is under way, then marking it refunded by hand is refused (the money would go back twice)', async () => {
    const movie = await buildMovie(t.database.db);
    const tk = await buildTicket(t.database.db, { movieId: movie, paymentStatus: 'Paid', needsRefund: 1, holdsTickets: 0, totalAmount: 45, mpesaReceiptNumber: 'RFD777XYZ' });
    const now = new Date();
    await insertRefund(t.database.db, { ticketId: tk.ticketId, amount: 45, transactionId: 'RFD777XYZ', reason: 'late payment', actor: 'ops', now, nextAttemptAt: now });
    const agent = operator(t.app);
    const token = tokenIn((await agent.get('/admin/refunds')).text);
    const res = await agent.post(`/admin/refunds/${tk.ticketId}`).type('form').send({ _csrf: token }).expect(409);
    expect(res.text).toContain('An M-Pesa reversal of it is under way or done');
    const row = await t.database.db.selectFrom('ticket').select('refundedAt').where('ticketId', '=', tk.ticketId).executeTakeFirstOrThrow();
    expect(row.refundedAt).toBeNull();
    expect(await auditRows(t.database.db, { ticketId: tk.ticketId })).toEqual([]);
  });

  it('when a ticket is marked refunded twice, or was never owed a refund, then 409 and no second audit row', async () => {
    const movie = await buildMovie(t.database.db);
    const tk = await buildTicket(t.database.db, { movieId: movie, paymentStatus: 'Paid', needsRefund: 1, holdsTickets: 0 });
    const normal = await buildTicket(t.database.db, { movieId: movie, paymentStatus: 'Paid' });
    const agent = operator(t.app);
    const token = tokenIn((await agent.get('/admin/refunds')).text);
    await agent.post(`/admin/refunds/${tk.ticketId}`).type('form').send({ _csrf: token }).expect(303);
    const again = await agent.post(`/admin/refunds/${tk.ticketId}`).type('form').send({ _csrf: token }).expect(409);
    expect(again.text).toContain('It was already marked refunded.');
    const first = await t.database.db.selectFrom('ticket').select('refundedAt').where('ticketId', '=', tk.ticketId).executeTakeFirstOrThrow();
    expect(await auditRows(t.database.db, { ticketId: tk.ticketId })).toHaveLength(1);
    const never = await agent.post(`/admin/refunds/${normal.ticketId}`).type('form').send({ _csrf: token }).expect(409);
    expect(never.text).toContain('not a paid ticket waiting for a refund');
    const n = await t.database.db.selectFrom('ticket').select('refundedAt').where('ticketId', '=', normal.ticketId).executeTakeFirstOrThrow();
    expect(n.refundedAt).toBeNull();
    expect(await auditRows(t.database.db, { ticketId: normal.ticketId })).toHaveLength(0);
    const still = await t.database.db.selectFrom('ticket').select('refundedAt').where('ticketId', '=', tk.ticketId).executeTakeFirstOrThrow();
    expect(still.refundedAt).toBe(first.refundedAt);
    await agent.post('/admin/refunds/99999999').type('form').send({ _csrf: token }).expect(404);
  });
});
