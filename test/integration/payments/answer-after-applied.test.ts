import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../support/app.js';
import { dialects } from '../../support/db.js';
import { waitFor } from '../../support/wait.js';
import { TOKEN, failureCallback, insertPendingTicket, successCallback, ticketRow } from './helpers.js';

// The app as it runs (no test hold on the answer): the 200 promises only that the body is durable, but while the
// applier keeps up the answer also waits for the row to be applied, so whoever reads the ticket next sees the result.
describe.each(dialects)('a callback answered after it is applied on %s', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect, { MPESA_CALLBACK_TOKEN: TOKEN }, { settleCallbacks: false });
  });
  afterAll(async () => {
    await t?.close();
  });
  const statusNow = async (ticketId: number) => (await ticketRow(t.database.db, ticketId)).paymentStatus;
  // On SQLite the applier's work (one connection, synchronous statements) is done before the process returns to its
  // sockets whether or not the answer waits, so only MySQL, whose applier runs on other pool connections, can tell.
  const quiet = dialect === 'mysql' ? it : it.skip;
  const post = (body: unknown) =>
    request(t.app).post(`/api/payments/callback/${TOKEN}`).set('Content-Type', 'application/json').send(JSON.stringify(body));

  quiet('when one success arrives at a quiet app, then the ticket is already Paid when the 200 comes', async () => {
    const tk = await insertPendingTicket(t.database.db);
    const res = await post(successCallback({ checkoutRequestId: tk.checkoutRequestId!, amount: tk.totalAmount, phone: tk.phone }));
    expect(res.status).toBe(200);
    expect(await statusNow(tk.ticketId)).toBe('Paid');
  });

  quiet('when one failure arrives at a quiet app, then the ticket is already Failed when the 200 comes', async () => {
    const tk = await insertPendingTicket(t.database.db);
    const res = await post(failureCallback({ checkoutRequestId: tk.checkoutRequestId!, resultCode: 1032, resultDesc: 'Request cancelled by user' }));
    expect(res.status).toBe(200);
    expect(await statusNow(tk.ticketId)).toBe('Failed');
  });

  it('when 150 callbacks arrive at once, then every one is answered 200 and every ticket ends Paid', async () => {
    const tickets = await Promise.all(Array.from({ length: 150 }, () => insertPendingTicket(t.database.db)));
    const answers = await Promise.all(tickets.map((tk) =>
      post(successCallback({ checkoutRequestId: tk.checkoutRequestId!, amount: tk.totalAmount, phone: tk.phone }))));
    expect(answers.map((a) => a.status)).toEqual(Array<number>(150).fill(200));
    await waitFor('every ticket Paid', async () => {
      const rows = await Promise.all(tickets.map((tk) => ticketRow(t.database.db, tk.ticketId)));
      return rows.every((r) => r.paymentStatus === 'Paid');
    }, { timeout: 15_000 });
  });
});
