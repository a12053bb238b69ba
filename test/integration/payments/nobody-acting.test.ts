import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csrfFrom } from '../../support/app.js';
import { buildMovie } from '../../support/builders.js';
import { dialects } from '../../support/db.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import { waitFor } from '../../support/wait.js';

// The two "hard" test numbers (docs/simulator.md) end Paid with nobody acting — booked through POST /bookings on
// the real app, with the app's own background jobs (the reconciler) running, as in production.

describe.each(dialects)('payments that settle with nobody acting on %s', (dialect) => {
  let t: TestServer;
  let movieId: number;
  beforeAll(async () => {
    t = await startTestServer(dialect, {
      PAYMENT_TIMEOUT_SECONDS: '1', RECONCILE_INTERVAL_SECONDS: '1', DARAJA_TIMEOUT_MS: '800',
      RATE_LIMIT_BOOKINGS_PER_IP: '1000', RATE_LIMIT_PUSHES_PER_PHONE: '1000',
    });
    movieId = await buildMovie(t.database.db, { title: 'Nobody acting', price: 35, maximumTickets: 20 });
    t.services.startJobs();
  });
  afterAll(async () => {
    await t?.close();
  });

  const book = async (phoneNumber: string, quantity: number) => {
    const agent = request.agent(t.baseUrl);
    const csrf = await csrfFrom(agent, `/movies/${movieId}`);
    const res = await agent.post('/bookings').type('form')
      .send({ _csrf: csrf, movieId: String(movieId), customerName: 'Njeri', phoneNumber, quantity: String(quantity) });
    expect(res.status).toBe(303);
    const ref = /^\/tickets\/([A-Za-z0-9_-]+)$/.exec(res.headers.location ?? '')?.[1];
    expect(ref).toBeTruthy();
    return ref!;
  };
  const paid = (ref: string) =>
    waitFor(`ticket ${ref} Paid`, async () => {
      const r = await request(t.baseUrl).get(`/tickets/${ref}/status`);
      return r.body?.status === 'Paid' ? r.body : undefined;
    });
  const row = (ref: string) => t.database.db.selectFrom('ticket').selectAll().where('ref', '=', ref).executeTakeFirstOrThrow();

  it('when 254700000005 books (accepted, no callback ever), then the reconciler\'s STK Query makes it Paid, receipt to follow', async () => {
    const ref = await book('0700 000 005', 2);
    const body = await paid(ref);
    expect(body).toMatchObject({ status: 'Paid', totalAmount: 70, mpesaReceiptNumber: null });
    expect(await row(ref)).toMatchObject({ paymentStatus: 'Paid', confirmedBy: 'query', mpesaReceiptNumber: null, holdsTickets: 1 });
  });

  it('when 254700000008 books (the push is never answered, yet paid with a callback), then the ticket ends Paid with its receipt', async () => {
    const ref = await book('0700 000 008', 3);
    const body = await paid(ref);
    expect(body.mpesaReceiptNumber).toMatch(/^[A-Z0-9]{10}$/);
    const ticket = await row(ref);
    expect(ticket).toMatchObject({ paymentStatus: 'Paid', confirmedBy: 'callback', holdsTickets: 1 });
    const [attempt] = await t.database.db.selectFrom('pushrequest').selectAll().where('ticketId', '=', ticket.ticketId).execute();
    expect(attempt).toMatchObject({ status: 'Completed', resultCode: '0' });
    expect(attempt!.checkoutRequestId).toMatch(/^ws_CO_/);
  });
});
