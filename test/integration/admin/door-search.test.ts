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
