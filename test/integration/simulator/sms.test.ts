import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../../support/db.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import { waitFor } from '../../support/wait.js';
import { buildMovie } from '../../support/builders.js';
import { postBooking, refFrom, ticketByRef } from '../bookings/helpers.js';

// SMS_PROVIDER=simulator (the default in simulator mode): the app's Africa's Talking client posts to the built-in
// simulator's look-alike over HTTP, and the simulated phone shows the message next to M-Pesa's confirmation.

describe.each(dialects)("the simulator's Africa's Talking look-alike on %s", (dialect) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(dialect, { SIMULATOR_MODE: 'auto', SIMULATOR_DELAY_MS: '20', RATE_LIMIT_PUSHES_PER_PHONE: '1000', RATE_LIMIT_BOOKINGS_PER_IP: '1000' });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('when a booking is paid, then its SMS reaches the phone through the look-alike: in GET /simulator/sms and on the phone page', async () => {
    expect(s.config.sms.provider).toBe('simulator');
    const movieId = await buildMovie(s.database.db, { price: 15, title: 'Sms Through Simulator' });
    const agent = request.agent(s.baseUrl);
    const ref = refFrom((await postBooking(agent, movieId, { phoneNumber: '0708 374 149', quantity: 2 })).headers.location);
    await waitFor('paid', async () => ((await request(s.baseUrl).get(`/tickets/${ref}/status`)).body.status === 'Paid' ? true : undefined));
    const { ticketCode } = await ticketByRef(s.database.db, ref);
    await s.services.notifications.runOnce();

    const list = await request(s.baseUrl).get('/simulator/sms?phone=254708374149').expect(200);
    const ours = (list.body as { to: string; message: string; at: string }[]).filter((m) => m.message.includes(ticketCode!));
    expect(ours).toHaveLength(1);
    expect(ours[0]).toEqual({ to: '+254708374149', message: expect.stringContaining(`/t/${ref}`), at: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/) });
    expect(Object.keys(ours[0]!).sort()).toEqual(['at', 'message', 'to']);
    expect(ours[0]!.message).toContain('Sms Through Simulator');
    expect(ours[0]!.message.length).toBeLessThanOrEqual(160);
    const sms = await s.database.db.selectFrom('notification').selectAll().where('channel', '=', 'sms')
      .where('ticketId', '=', (await ticketByRef(s.database.db, ref)).ticketId).executeTakeFirstOrThrow();
    expect(sms).toMatchObject({ status: 'sent', recipient: '+254708374149' });

    const phone = await request(s.baseUrl).get('/simulator/phone').expect(200);
    expect(phone.text).toContain('Messages to +254708374149');
    expect(phone.text).toContain(ticketCode!);
    expect(phone.text).toMatch(/<strong>MPESA<\/strong>[\s\S]*Confirmed\. Ksh30\.00 sent to TIKITI/);

    // The short link opens the ticket.
    const short = await request(s.baseUrl).get(`/t/${ref}`).expect(303);
    expect(short.headers.location).toBe(`/tickets/${ref}`);
  });

  it("when the look-alike is sent a bad number or no key, then it answers as Africa's Talking does", async () => {
    const bad = await request(s.baseUrl).post('/simulator/africastalking/version1/messaging').set('apiKey', 'x')
      .type('form').send({ username: 'sandbox', to: '+1555', message: 'hi' }).expect(201);
    expect(bad.body.SMSMessageData.Recipients[0]).toMatchObject({ statusCode: 403, status: 'InvalidPhoneNumber' });
    await request(s.baseUrl).post('/simulator/africastalking/version1/messaging').type('form').send({ username: 'sandbox', to: '+254708374149', message: 'hi' }).expect(401);
    await request(s.baseUrl).get('/simulator/sms?phone=12').expect(400);
  });
});
