import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../support/app.js';
import { dialects } from '../../support/db.js';
import { buildMovie, buildTicket } from '../../support/builders.js';
import { ADMIN_ENV, listedTicketIds, operator } from './helpers.js';

describe.each(dialects)('admin tickets: ticket codes, receipts and the door on %s', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect, ADMIN_ENV);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('when the operator searches a ticket code or an M-Pesa receipt, however typed, then that ticket alone is listed, with how many are in', async () => {
    const movieId = await buildMovie(t.database.db);
    const a = await buildTicket(t.database.db, { movieId, quantity: 4, admitted: 3 });
    const b = await buildTicket(t.database.db, { movieId });
    const byCode = await operator(t.app).get(`/admin/tickets?find=${encodeURIComponent(` ${a.ticketCode!.toLowerCase().slice(0, 4)}-${a.ticketCode!.slice(4)}`)}`).expect(200);
    expect(listedTicketIds(byCode.text)).toEqual([a.ticketId]);
    expect(byCode.text).toContain('<td class="num" data-label="In">3</td>');
    const byReceipt = await operator(t.app).get(`/admin/tickets?find=${b.mpesaReceiptNumber}`).expect(200);
    expect(listedTicketIds(byReceipt.text)).toEqual([b.ticketId]);
    const bad = await operator(t.app).get('/admin/tickets?find=%21%21').expect(422);
    expect(bad.text).toContain('Enter a ticket code (8 letters and digits) or an M-Pesa receipt');
  });
});

describe.each(dialects)('admin: failure reasons in Daraja\'s words on %s', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect, ADMIN_ENV);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('when a ticket failed, then its admin page gives the ResultCode and Daraja\'s text beside what the customer was told', async () => {
    const movieId = await buildMovie(t.database.db);
    const tk = await buildTicket(t.database.db, { movieId, paymentStatus: 'Failed', resultCode: '1032', failureReason: 'You cancelled the payment on your phone.' });
    await t.database.db.insertInto('pushrequest').values({
      ticketId: tk.ticketId, checkoutRequestId: `ws_CO_${tk.ticketId}x`, merchantRequestId: null, phoneNumber: tk.phoneNumber, amount: 20,
      status: 'Completed', resultCode: '1032', resultDesc: 'Request cancelled by user', errorCode: null, errorMessage: null,
      createdAt: '2030-01-01 00:00:00.000', answeredAt: null, completedAt: null,
    }).execute();
    const page = await operator(t.app).get(`/admin/tickets/${tk.ticketId}`).expect(200);
    expect(page.text).toContain('<dd id="daraja-reason">ResultCode 1032: Request cancelled by user</dd>');
    const list = await operator(t.app).get(`/admin/tickets?movie=${movieId}`).expect(200);
    expect(list.text).toContain('ResultCode 1032: You cancelled the payment on your phone.');
  });
});
