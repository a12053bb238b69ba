import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotificationSender } from '../../../src/notifications/notification.sender.js';
import type { Notifier, OutgoingMessage } from '../../../src/notifications/notifier.js';
import { silentLogger } from '../../../src/core/logger.js';
import { dialects } from '../../support/db.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import { waitFor } from '../../support/wait.js';
import { buildMovie } from '../../support/builders.js';
import { postBooking, refFrom, ticketByRef, ticketsHeld, tokenFor } from './helpers.js';

// The whole flow over real HTTP: the app on a port, the built-in simulator answering pushes and posting callbacks
// back to the app, exactly as in production.

function waitForStatus(baseUrl: string, ref: string, status: string) {
  return waitFor(`ticket ${ref} ${status}`, async () => {
    const res = await request(baseUrl).get(`/tickets/${ref}/status`);
    return res.body.status === status ? res.body : undefined;
  });
}

async function pushesOf(s: TestServer, ticketId: number) {
  return s.database.db.selectFrom('pushrequest').selectAll().where('ticketId', '=', ticketId).orderBy('pushRequestId').execute();
}

const LIMITS = { RATE_LIMIT_BOOKINGS_PER_IP: '1000', RATE_LIMIT_PUSHES_PER_PHONE: '1000' };

describe.each(dialects)('booking and paying through the simulator (auto mode) on %s', (dialect) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(dialect, { ...LIMITS, SIMULATOR_MODE: 'auto', SIMULATOR_DELAY_MS: '50' });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('when 254708374149 books, then the push carries the total, the ticket ends Paid with a receipt, and a Paid notification goes out once', async () => {
    const movieId = await buildMovie(s.database.db, { price: 15, maximumTickets: 10, title: 'Flow Paid' });
    const agent = request.agent(s.baseUrl);
    const res = await postBooking(agent, movieId, { phoneNumber: '0708 374 149', quantity: 3, customerName: 'Amina' });
    expect(res.status).toBe(303);
    const ref = refFrom(res.headers.location);

    const body = await waitForStatus(s.baseUrl, ref, 'Paid');
    expect(body).toMatchObject({ ref, status: 'Paid', quantity: 3, totalAmount: 45, failureReason: null, confirmedBy: 'callback' });
    expect(body.mpesaReceiptNumber).toMatch(/^[A-Z0-9]{10}$/);
    expect(body.transactionDate).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+03:00$/);

    const ticket = await ticketByRef(s.database.db, ref);
    expect(ticket).toMatchObject({ paymentStatus: 'Paid', holdsTickets: 1, mpesaReceiptNumber: body.mpesaReceiptNumber });
    expect(await ticketsHeld(s.database.db, movieId)).toBe(3);
    const pushes = await pushesOf(s, ticket.ticketId);
    expect(pushes).toHaveLength(1);
    // What Daraja (the simulator) was sent: our phone and our total.
    const prompt = s.services.simulator!.prompts().find((p) => p.checkoutRequestId === pushes[0]!.checkoutRequestId);
    expect(prompt).toMatchObject({ phoneNumber: '254708374149', amount: 45 });

    const page = await agent.get(`/tickets/${ref}`).expect(200);
    expect(page.text).toContain(body.mpesaReceiptNumber);
    expect(page.text).toContain('Flow Paid');

    const sent: OutgoingMessage[] = [];
    const log: Notifier = { channel: 'log', send: async (m) => void sent.push(m) };
    const sender = new NotificationSender({ db: s.database.db, logger: silentLogger, now: () => new Date(), publicBaseUrl: s.baseUrl, log });
    await sender.runOnce();
    await sender.runOnce();
    const mine = sent.filter((m) => m.text.includes(ref));
    expect(mine).toHaveLength(1);
    expect(mine[0]!.text).toContain(`M-Pesa receipt: ${body.mpesaReceiptNumber}`);
    expect(mine[0]!.to).toBe('2547•••••149');
  });

  it('when 254700000001 cancels, then the ticket is Failed with the reason and Try again sends a new push under a new pushrequest', async () => {
    const movieId = await buildMovie(s.database.db, { price: 10, maximumTickets: 10 });
    const agent = request.agent(s.baseUrl);
    const res = await postBooking(agent, movieId, { phoneNumber: '254700000001', quantity: 2 });
    expect(res.status).toBe(303);
    const ref = refFrom(res.headers.location);

    const failed = await waitForStatus(s.baseUrl, ref, 'Failed');
    expect(failed.failureReason).toBe('You cancelled the payment on your phone.');
    expect(await ticketsHeld(s.database.db, movieId)).toBe(0);
    const page = await agent.get(`/tickets/${ref}`).expect(200);
    expect(page.text).toContain('You cancelled the payment on your phone.');
    expect(page.text).toContain('Try again');

    const ticket = await ticketByRef(s.database.db, ref);
    const first = await pushesOf(s, ticket.ticketId);
    expect(first).toHaveLength(1);

    const retry = await agent.post(`/tickets/${ref}/retry`).type('form').send({ _csrf: await tokenFor(agent, movieId) });
    expect(retry.status).toBe(303);
    expect(retry.headers.location).toBe(`/tickets/${ref}`);
    const pushes = await pushesOf(s, ticket.ticketId);
    expect(pushes).toHaveLength(2);
    expect(pushes[0]!.checkoutRequestId).toBe(first[0]!.checkoutRequestId);
    expect(pushes[1]!.checkoutRequestId).toBeTruthy();
    expect(pushes[1]!.checkoutRequestId).not.toBe(pushes[0]!.checkoutRequestId);
    // The same test number cancels again: Failed again, seats released again.
    await waitForStatus(s.baseUrl, ref, 'Failed');
    expect(await ticketsHeld(s.database.db, movieId)).toBe(0);
  });

  it('when Daraja refuses the push at once (254700000007), then 303 to a Failed ticket with a plain reason and the seats released', async () => {
    const movieId = await buildMovie(s.database.db, { maximumTickets: 10 });
    const agent = request.agent(s.baseUrl);
    const res = await postBooking(agent, movieId, { phoneNumber: '254700000007', quantity: 2 });
    expect(res.status).toBe(303);
    const ref = refFrom(res.headers.location);
    const ticket = await ticketByRef(s.database.db, ref);
    expect(ticket.paymentStatus).toBe('Failed');
    expect(ticket.failureReason).toBeTruthy();
    expect(await ticketsHeld(s.database.db, movieId)).toBe(0);
    const page = await agent.get(`/tickets/${ref}`).expect(200);
    expect(page.text).toContain('Try again');
  });
});

describe.each(dialects)('cancel, then Try again and pay on the simulator phone (manual mode) on %s', (dialect) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(dialect, { ...LIMITS, SIMULATOR_MODE: 'manual' });
  });
  afterAll(async () => {
    await s?.close();
  });

  function promptFor(checkoutRequestId: string) {
    return waitFor('a pending prompt', () => s.services.simulator!.prompts().find((x) => x.checkoutRequestId === checkoutRequestId && x.status === 'pending'));
  }

  it('when the customer cancels on the phone, retries and enters 1234, then the ticket ends Paid with a receipt and both pushes stay recorded', async () => {
    const movieId = await buildMovie(s.database.db, { price: 12, maximumTickets: 4 });
    const agent = request.agent(s.baseUrl);
    const res = await postBooking(agent, movieId, { phoneNumber: '0712 345 678', quantity: 2 });
    const ref = refFrom(res.headers.location);
    const ticket = await ticketByRef(s.database.db, ref);
    const [firstPush] = await pushesOf(s, ticket.ticketId);
    await promptFor(firstPush!.checkoutRequestId!);
    await request(s.baseUrl).post(`/simulator/phone/prompts/${firstPush!.checkoutRequestId}/cancel`).set('Accept', 'application/json').expect(200);
    expect((await waitForStatus(s.baseUrl, ref, 'Failed')).failureReason).toBe('You cancelled the payment on your phone.');

    await agent.post(`/tickets/${ref}/retry`).type('form').send({ _csrf: await tokenFor(agent, movieId) }).expect(303);
    expect(await ticketByRef(s.database.db, ref)).toMatchObject({ paymentStatus: 'Pending', holdsTickets: 1 });
    expect(await ticketsHeld(s.database.db, movieId)).toBe(2);
    const pushes = await pushesOf(s, ticket.ticketId);
    expect(pushes).toHaveLength(2);
    await promptFor(pushes[1]!.checkoutRequestId!);
    await request(s.baseUrl)
      .post(`/simulator/phone/prompts/${pushes[1]!.checkoutRequestId}/pin`)
      .set('Accept', 'application/json')
      .send({ pin: '1234' })
      .expect(200);

    const paid = await waitForStatus(s.baseUrl, ref, 'Paid');
    expect(paid.mpesaReceiptNumber).toMatch(/^[A-Z0-9]{10}$/);
    expect(paid.totalAmount).toBe(24);
    expect(await ticketsHeld(s.database.db, movieId)).toBe(2);
    const final = await pushesOf(s, ticket.ticketId);
    expect(final.map((p) => p.checkoutRequestId)).toEqual([firstPush!.checkoutRequestId, pushes[1]!.checkoutRequestId]);
  });
});
