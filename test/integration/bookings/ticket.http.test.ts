import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toDbTime } from '../../../src/core/db/time.js';
import { CUSTOMER_MESSAGES } from '../../../src/daraja/errors.js';
import { dialects } from '../../support/db.js';
import { buildMovie } from '../../support/builders.js';
import { MANUAL_SIMULATOR, REFUSED_PHONE, SUBSCRIBER_BUSY, answerNextPush, promptsTo } from '../../support/daraja-edge.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import { countRows, postBooking, refFrom, ticketByRef, ticketsHeld, tokenFor, uniquePhone } from './helpers.js';

const STATUS_KEYS = [
  'ref', 'status', 'movieId', 'movieTitle', 'quantity', 'totalAmount', 'mpesaReceiptNumber', 'transactionDate',
  'failureReason', 'phoneNumber', 'confirmedBy', 'ticketCode', 'admitted', 'refundStatus', 'refundedAt',
].sort();

describe.each(dialects)('ticket page, status JSON and retry on %s', (dialect) => {
  let t: TestServer;

  beforeAll(async () => {
    // Pushes go to the built-in simulator over HTTP: an ordinary number is accepted and stays Pending.
    t = await startTestServer(dialect, { ...MANUAL_SIMULATOR, RATE_LIMIT_BOOKINGS_PER_IP: '100000', RATE_LIMIT_PUSHES_PER_PHONE: '100000' });
  });
  afterAll(async () => {
    await t?.close();
  });

  async function book(opts: { price?: number; quantity?: number; maximumTickets?: number; title?: string; phone?: { typed: string; stored: string } } = {}) {
    const movieId = await buildMovie(t.database.db, { price: opts.price ?? 15, maximumTickets: opts.maximumTickets ?? 20, title: opts.title });
    const agent = request.agent(t.app);
    const phone = opts.phone ?? uniquePhone();
    const res = await postBooking(agent, movieId, { quantity: opts.quantity ?? 3, phoneNumber: phone.typed });
    expect(res.status).toBe(303);
    const ref = refFrom(res.headers.location);
    return { movieId, agent, ref, phone, ticket: await ticketByRef(t.database.db, ref) };
  }

  async function markPaid(ticketId: number, p: { receipt: string | null; confirmedBy: 'callback' | 'query'; at: Date }) {
    await t.database.db
      .updateTable('ticket')
      .set({
        paymentStatus: 'Paid',
        mpesaReceiptNumber: p.receipt,
        transactionDate: toDbTime(p.at),
        confirmedBy: p.confirmedBy,
        resultCode: '0',
        nextCheckAt: null,
      })
      .where('ticketId', '=', ticketId)
      .execute();
  }

  async function markFailed(ticketId: number, movieId: number, quantity: number, reason: string) {
    await t.database.db
      .updateTable('ticket')
      .set({ paymentStatus: 'Failed', failureReason: reason, resultCode: '1032', holdsTickets: 0, nextCheckAt: null })
      .where('ticketId', '=', ticketId)
      .execute();
    await t.database.db.updateTable('movie').set((eb) => ({ ticketsHeld: eb('ticketsHeld', '-', quantity) })).where('movieId', '=', movieId).execute();
  }

  it('when a Pending ticket is opened, then it says to check the phone with the total, refreshes without JavaScript, and loads only our script', async () => {
    const { ref, agent, phone } = await book({ price: 15, quantity: 3 });
    const page = await agent.get(`/tickets/${ref}`).expect(200);
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.text).toContain('Check your phone — enter your M-Pesa PIN to pay <strong>KES 45</strong> to TIKITI.');
    expect(page.text).toContain('<noscript><meta http-equiv="refresh" content="5"></noscript>');
    expect(page.text).toContain('<script src="/js/ticket.js" defer></script>');
    expect(page.text).toContain(`data-status-url="/tickets/${ref}/status"`);
    expect(page.text).toContain('2547•••••');
    expect(page.text).not.toContain(phone.stored);
    // Strict CSP: no inline script or style anywhere on the page.
    expect(page.text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(page.text).not.toMatch(/<style|\sstyle="/);
    expect(page.headers['content-security-policy']).toMatch(/script-src 'self'/);
  });

  it('when a Pending ticket\'s status is read, then the JSON has exactly the documented fields, a masked phone and no-store', async () => {
    const { ref, movieId, ticket } = await book({ price: 15, quantity: 3, title: 'Oppenheimer (status test)' });
    const res = await request(t.app).get(`/tickets/${ref}/status`).expect(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(Object.keys(res.body).sort()).toEqual(STATUS_KEYS);
    expect(res.body).toEqual({
      ref,
      status: 'Pending',
      movieId,
      movieTitle: 'Oppenheimer (status test)',
      quantity: 3,
      totalAmount: 45,
      mpesaReceiptNumber: null,
      transactionDate: null,
      failureReason: null,
      phoneNumber: `2547•••••${ticket.phoneNumber.slice(-3)}`,
      confirmedBy: null,
      ticketCode: null,
      admitted: 0,
      refundStatus: null,
      refundedAt: null,
    });
  });

  it('when a ticket is Paid by callback, then the page shows the receipt, the Nairobi transaction date and the booking, and the JSON the ISO date', async () => {
    const { ref, agent, ticket } = await book({ price: 20, quantity: 2, title: 'Paid Movie' });
    await markPaid(ticket.ticketId, { receipt: 'TES1A2B3C4', confirmedBy: 'callback', at: new Date('2025-05-14T17:12:01Z') });
    const page = await agent.get(`/tickets/${ref}`).expect(200);
    expect(page.text).toContain('TES1A2B3C4');
    expect(page.text).toContain('datetime="2025-05-14T20:12:01+03:00"');
    expect(page.text).toMatch(/14 May 2025,? 20:12/);
    expect(page.text).toContain('Paid Movie');
    expect(page.text).toContain('KES 40');
    expect(page.text).not.toContain('http-equiv="refresh"');
    expect(page.text).not.toContain('/js/ticket.js');
    const json = await request(t.app).get(`/tickets/${ref}/status`).expect(200);
    expect(json.body).toMatchObject({
      status: 'Paid',
      mpesaReceiptNumber: 'TES1A2B3C4',
      transactionDate: '2025-05-14T20:12:01+03:00',
      failureReason: null,
      confirmedBy: 'callback',
      totalAmount: 40,
      quantity: 2,
    });
  });

  it('when a ticket is Paid by STK Query without a receipt, then the page says "Payment confirmed, receipt to follow"', async () => {
    const { ref, agent, ticket } = await book();
    await markPaid(ticket.ticketId, { receipt: null, confirmedBy: 'query', at: new Date() });
    const page = await agent.get(`/tickets/${ref}`).expect(200);
    expect(page.text).toContain('Payment confirmed, receipt to follow.');
    const json = await request(t.app).get(`/tickets/${ref}/status`).expect(200);
    expect(json.body).toMatchObject({ status: 'Paid', mpesaReceiptNumber: null, confirmedBy: 'query' });
  });

  it('when a ticket is Failed, then the page gives the stored reason and a Try again form with a CSRF token, and the JSON the reason', async () => {
    const { ref, agent, ticket, movieId } = await book({ quantity: 2 });
    await markFailed(ticket.ticketId, movieId, 2, 'You cancelled the payment on your phone.');
    const page = await agent.get(`/tickets/${ref}`).expect(200);
    expect(page.text).toContain('You cancelled the payment on your phone.');
    expect(page.text).toMatch(new RegExp(`<form method="post" action="/tickets/${ref}/retry"[^>]*>\\s*<input type="hidden" name="_csrf" value="[^"]{20,}">`));
    expect(page.text).toContain('Try again');
    const json = await request(t.app).get(`/tickets/${ref}/status`).expect(200);
    expect(json.body).toMatchObject({ status: 'Failed', failureReason: 'You cancelled the payment on your phone.', mpesaReceiptNumber: null });
  });

  it('when the ref is unknown, malformed or a row id, then the page and the JSON answer 404', async () => {
    const { ticket } = await book();
    const unknown = 'A'.repeat(24);
    await request(t.app).get(`/tickets/${unknown}`).expect(404);
    await request(t.app).get(`/tickets/${ticket.ticketId}`).expect(404);
    await request(t.app).get('/tickets/..%2F..%2Fetc').expect(404);
    await request(t.app).get(`/tickets/${'x'.repeat(500)}`).expect(404);
    const json = await request(t.app).get(`/tickets/${unknown}/status`).expect(404);
    expect(json.body.error.code).toBe('NOT_FOUND');
  });

  it('when a Failed ticket is retried, then it is Pending again with its seats held, a second push is recorded and the first stays', async () => {
    // Daraja refuses the first push (the phone was busy); the retry reaches the simulator, which accepts it.
    answerNextPush(t, 500, SUBSCRIBER_BUSY);
    const { ref, agent, ticket, movieId, phone } = await book({ quantity: 2, price: 10 });
    expect(await ticketByRef(t.database.db, ref)).toMatchObject({ paymentStatus: 'Failed', holdsTickets: 0, failureReason: CUSTOMER_MESSAGES.subscriberBusy });
    expect(await ticketsHeld(t.database.db, movieId)).toBe(0);
    expect(promptsTo(t, phone.stored)).toEqual([]);

    const token = await tokenFor(agent, movieId);
    const res = await agent.post(`/tickets/${ref}/retry`).type('form').send({ _csrf: token });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe(`/tickets/${ref}`);

    const after = await ticketByRef(t.database.db, ref);
    expect(after).toMatchObject({ paymentStatus: 'Pending', holdsTickets: 1, failureReason: null, resultCode: null, totalAmount: 20 });
    expect(after.pendingSince >= ticket.pendingSince).toBe(true);
    expect(after.nextCheckAt).not.toBeNull();
    expect(await ticketsHeld(t.database.db, movieId)).toBe(2);
    const pushes = await t.database.db.selectFrom('pushrequest').selectAll().where('ticketId', '=', ticket.ticketId).orderBy('pushRequestId').execute();
    expect(pushes.map((p) => p.status)).toEqual(['Refused', 'Accepted']);
    expect(pushes[1]!.checkoutRequestId).toMatch(/^ws_CO_/);
    expect(promptsTo(t, phone.stored)).toMatchObject([{ checkoutRequestId: pushes[1]!.checkoutRequestId, amount: 20 }]);
  });

  it('when a Pending or Paid ticket is retried, then 303 back and nothing changes', async () => {
    const { ref, agent, ticket, movieId } = await book();
    const token = await tokenFor(agent, movieId);
    const pushesBefore = await countRows(t.database.db, 'pushrequest');
    await agent.post(`/tickets/${ref}/retry`).type('form').send({ _csrf: token }).expect(303);
    expect(await countRows(t.database.db, 'pushrequest')).toBe(pushesBefore);
    expect(await ticketsHeld(t.database.db, movieId)).toBe(3);

    await markPaid(ticket.ticketId, { receipt: 'TES9Z8Y7X6', confirmedBy: 'callback', at: new Date() });
    await agent.post(`/tickets/${ref}/retry`).type('form').send({ _csrf: token }).expect(303);
    expect(await ticketByRef(t.database.db, ref)).toMatchObject({ paymentStatus: 'Paid', mpesaReceiptNumber: 'TES9Z8Y7X6', holdsTickets: 1 });
    expect(await countRows(t.database.db, 'pushrequest')).toBe(pushesBefore);
  });

  it('when the seats of a Failed ticket were taken meanwhile, then retry answers 409 with the reason and the ticket stays Failed', async () => {
    const { ref, agent, movieId } = await book({ quantity: 3, maximumTickets: 4, phone: REFUSED_PHONE });
    // Someone else books 2 of the 4 seats: only 2 left, the failed booking wanted 3.
    expect((await postBooking(request.agent(t.app), movieId, { quantity: 2 })).status).toBe(303);
    const pushesBefore = await countRows(t.database.db, 'pushrequest');
    const token = await tokenFor(agent, movieId);
    const res = await agent.post(`/tickets/${ref}/retry`).type('form').send({ _csrf: token });
    expect(res.status).toBe(409);
    expect(res.text).toContain('Only 2 tickets are left for this show. Your booking was for 3');
    expect(await ticketByRef(t.database.db, ref)).toMatchObject({ paymentStatus: 'Failed', holdsTickets: 0 });
    expect(await ticketsHeld(t.database.db, movieId)).toBe(2);
    expect(await countRows(t.database.db, 'pushrequest')).toBe(pushesBefore);
  });

  it('when two retries of one Failed ticket race, then its seats are held once and one new push is sent', async () => {
    answerNextPush(t, 500, SUBSCRIBER_BUSY);
    const { ref, agent, movieId, ticket, phone } = await book({ quantity: 2 });
    const token = await tokenFor(agent, movieId);
    const results = await Promise.all(
      Array.from({ length: 5 }, () => agent.post(`/tickets/${ref}/retry`).type('form').send({ _csrf: token })),
    );
    expect(results.every((r) => r.status === 303)).toBe(true);
    expect(await ticketsHeld(t.database.db, movieId)).toBe(2);
    const pushes = await t.database.db.selectFrom('pushrequest').select('status').where('ticketId', '=', ticket.ticketId).execute();
    expect(pushes).toHaveLength(2);
    expect(promptsTo(t, phone.stored)).toHaveLength(1);
  });

  it('when retry is posted without a CSRF token, then 403 and the ticket stays Failed', async () => {
    const { ref, agent } = await book({ phone: REFUSED_PHONE });
    const res = await agent.post(`/tickets/${ref}/retry`).type('form').send({});
    expect(res.status).toBe(403);
    expect(await ticketByRef(t.database.db, ref)).toMatchObject({ paymentStatus: 'Failed' });
  });
});
