import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOOKING_MESSAGES } from '../../../src/bookings/booking.schema.js';
import { PHONE_MESSAGES } from '../../../src/daraja/phone.js';
import { fromDbTime } from '../../../src/core/db/time.js';
import { CUSTOMER_MESSAGES } from '../../../src/daraja/errors.js';
import { dialects } from '../../support/db.js';
import { buildMovie } from '../../support/builders.js';
import { MANUAL_SIMULATOR, REFUSED_PHONE, UNANSWERED_PHONE, promptsTo } from '../../support/daraja-edge.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import { countRows, postBooking, refFrom, ticketByRef, ticketsHeld, uniquePhone } from './helpers.js';

const escapeHtml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&#34;').replace(/'/g, '&#39;');

describe.each(dialects)('POST /bookings on %s', (dialect) => {
  let t: TestServer;

  beforeAll(async () => {
    // The real payments path: pushes go over HTTP to the built-in simulator, which accepts an ordinary number and
    // leaves it Pending, and refuses 254700000007. Limits high here: the rate-limit tests have their own apps.
    t = await startTestServer(dialect, { ...MANUAL_SIMULATOR, RATE_LIMIT_BOOKINGS_PER_IP: '100000', RATE_LIMIT_PUSHES_PER_PHONE: '100000' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('when a valid booking is posted, then 303 to an opaque ref, a Pending ticket holding its seats with the server-computed total, and one push', async () => {
    const movieId = await buildMovie(t.database.db, { price: 15, maximumTickets: 10 });
    const phone = uniquePhone();
    const agent = request.agent(t.app);
    const before = Date.now();
    // A forged total or price in the form is ignored: the server multiplies.
    const res = await postBooking(agent, movieId, {
      customerName: '  Amina Wanjiru  ',
      phoneNumber: phone.typed.replace(/^0(\d{3})(\d{3})(\d{3})$/, '0$1 $2-$3'),
      quantity: ' 3 ',
      email: 'amina@example.com',
    }).then((r) => r);
    expect(res.status).toBe(303);
    const ref = refFrom(res.headers.location);

    const row = await ticketByRef(t.database.db, ref);
    expect(row).toMatchObject({
      movieId,
      customerName: 'Amina Wanjiru',
      phoneNumber: phone.stored,
      email: 'amina@example.com',
      quantity: 3,
      totalAmount: 45,
      paymentStatus: 'Pending',
      holdsTickets: 1,
      mpesaReceiptNumber: null,
      failureReason: null,
    });
    const pendingSince = fromDbTime(row.pendingSince).getTime();
    expect(pendingSince).toBeGreaterThanOrEqual(before - 5);
    expect(fromDbTime(row.nextCheckAt!).getTime() - pendingSince).toBe(t.config.paymentTimeoutSeconds * 1000);
    expect(await ticketsHeld(t.database.db, movieId)).toBe(3);
    expect(promptsTo(t, phone.stored)).toMatchObject([{ amount: 45 }]);
    const pushes = await t.database.db.selectFrom('pushrequest').selectAll().where('ticketId', '=', row.ticketId).execute();
    expect(pushes).toHaveLength(1);
    expect(pushes[0]).toMatchObject({ phoneNumber: phone.stored, amount: 45 });

    // The ref: 144 random bits in base64url, not the row id, and different every time.
    expect(ref).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(Buffer.from(ref, 'base64url')).toHaveLength(18);
    expect(ref).not.toBe(String(row.ticketId));
    expect(await agent.get(`/tickets/${row.ticketId}`).then((r) => r.status)).toBe(404);
    const again = refFrom((await postBooking(agent, movieId, { quantity: 1 })).headers.location);
    expect(again).not.toBe(ref);
  });

  it('when the form carries a total, price or status of its own, then they are ignored', async () => {
    const movieId = await buildMovie(t.database.db, { price: 20 });
    const agent = request.agent(t.app);
    const token = /name="_csrf" value="([^"]+)"/.exec((await agent.get(`/movies/${movieId}`)).text)![1]!;
    const res = await agent
      .post('/bookings')
      .type('form')
      .send({ _csrf: token, movieId: String(movieId), customerName: 'Otieno', phoneNumber: uniquePhone().typed, quantity: '2', totalAmount: '1', price: '1', paymentStatus: 'Paid' })
      .expect(303);
    const row = await ticketByRef(t.database.db, refFrom(res.headers.location));
    expect(row).toMatchObject({ totalAmount: 40, paymentStatus: 'Pending' });
  });

  const invalid: Array<[string, Record<string, string>, string, string]> = [
    ['an empty name', { customerName: '   ' }, 'customerName', BOOKING_MESSAGES.nameRequired],
    ['a 101-character name', { customerName: 'N'.repeat(101) }, 'customerName', BOOKING_MESSAGES.nameTooLong],
    ['a name with a control character', { customerName: 'Ami\u0007na' }, 'customerName', BOOKING_MESSAGES.nameControl],
    ['a name with a bidi override', { customerName: 'Ami\u202Ena' }, 'customerName', BOOKING_MESSAGES.nameControl],
    ['letters in the phone', { phoneNumber: '07I2 345 678' }, 'phoneNumber', PHONE_MESSAGES.letters],
    ['a short phone', { phoneNumber: '0712 345' }, 'phoneNumber', PHONE_MESSAGES.tooShort],
    ['a foreign phone', { phoneNumber: '+255 712 345 678' }, 'phoneNumber', PHONE_MESSAGES.notKenyan],
    ['an empty phone', { phoneNumber: '' }, 'phoneNumber', PHONE_MESSAGES.empty],
    ['quantity 0', { quantity: '0' }, 'quantity', BOOKING_MESSAGES.quantityMin],
    ['quantity -1', { quantity: '-1' }, 'quantity', BOOKING_MESSAGES.quantityMin],
    ['quantity 11', { quantity: '11' }, 'quantity', BOOKING_MESSAGES.quantityMax(10)],
    ['quantity 2.5', { quantity: '2.5' }, 'quantity', BOOKING_MESSAGES.quantityWhole],
    ['quantity abc', { quantity: 'abc' }, 'quantity', BOOKING_MESSAGES.quantityWhole],
    ['a huge quantity', { quantity: '99999999999999999999999' }, 'quantity', BOOKING_MESSAGES.quantityMax(10)],
    ['quantity 1e1', { quantity: '1e1' }, 'quantity', BOOKING_MESSAGES.quantityWhole],
    ['an empty quantity', { quantity: '' }, 'quantity', BOOKING_MESSAGES.quantityRequired],
    ['a bad email', { email: 'amina@' }, 'email', BOOKING_MESSAGES.email],
  ];

  it.each(invalid)('when the form has %s, then 422 with its message beside the field, the typed values kept, and nothing stored or pushed', async (_what, fields, field, message) => {
    const movieId = await buildMovie(t.database.db);
    const pushesBefore = await countRows(t.database.db, 'pushrequest');
    const promptsBefore = promptsTo(t).length;
    const agent = request.agent(t.app);
    const typed = { customerName: 'Wanjiku Kamau', phoneNumber: '0712 345 678', quantity: '2', email: 'w@example.com', ...fields };
    const res = await postBooking(agent, movieId, typed);
    expect(res.status).toBe(422);
    expect(res.text).toContain(`id="${field}-error">${escapeHtml(message)}</p>`);
    expect(res.text).toContain('aria-invalid="true"');
    for (const [k, v] of Object.entries(typed)) {
      if (v === '' || /[\u0000-\u001f]/.test(v)) continue;
      expect(res.text).toContain(`name="${k}"`);
      expect(res.text).toContain(`value="${escapeHtml(v)}"`);
    }
    expect(res.text).toMatch(/name="_csrf" value="[^"]{20,}"/);
    expect(await countRows(t.database.db, 'ticket', movieId)).toBe(0);
    expect(await countRows(t.database.db, 'pushrequest')).toBe(pushesBefore);
    expect(promptsTo(t)).toHaveLength(promptsBefore);
    expect(await ticketsHeld(t.database.db, movieId)).toBe(0);
  });

  it('when a field is sent twice, then 422 and nothing stored', async () => {
    const movieId = await buildMovie(t.database.db);
    const agent = request.agent(t.app);
    const token = /name="_csrf" value="([^"]+)"/.exec((await agent.get(`/movies/${movieId}`)).text)![1]!;
    const res = await agent
      .post('/bookings')
      .type('form')
      .send(`_csrf=${encodeURIComponent(token)}&movieId=${movieId}&customerName=A&phoneNumber=0712345678&quantity=1&quantity=9`);
    expect(res.status).toBe(422);
    expect(await countRows(t.database.db, 'ticket', movieId)).toBe(0);
  });

  it('when the name holds HTML, then it is escaped on the form and on the ticket page', async () => {
    const movieId = await buildMovie(t.database.db);
    const agent = request.agent(t.app);
    const name = '<script>alert("x")</script><img src=x onerror=alert(1)>';
    const bad = await postBooking(agent, movieId, { customerName: name, quantity: '0' });
    expect(bad.status).toBe(422);
    expect(bad.text).not.toContain('<script>alert');
    expect(bad.text).not.toContain('<img src=x');
    expect(bad.text).toContain('&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;');

    const ok = await postBooking(agent, movieId, { customerName: name });
    expect(ok.status).toBe(303);
    const page = await agent.get(ok.headers.location!).expect(200);
    expect(page.text).not.toContain('<script>alert');
    expect(page.text).not.toContain('<img src=x');
    expect(page.text).toContain('&lt;script&gt;');
    const row = await ticketByRef(t.database.db, refFrom(ok.headers.location));
    expect(row.customerName).toBe(name); // stored as typed, escaped when shown
  });

  it('when the movie does not exist or the id is not a number, then 404 and nothing stored', async () => {
    const agent = request.agent(t.app);
    const movieId = await buildMovie(t.database.db);
    const token = /name="_csrf" value="([^"]+)"/.exec((await agent.get(`/movies/${movieId}`)).text)![1]!;
    const ticketsBefore = await countRows(t.database.db, 'ticket');
    for (const id of ['99999999', 'abc', '', '1.5', '-3']) {
      const res = await agent
        .post('/bookings')
        .type('form')
        .send({ _csrf: token, movieId: id, customerName: 'A', phoneNumber: '0712345678', quantity: '1' });
      expect(res.status).toBe(404);
      expect(res.text).toContain('We could not find that movie.');
    }
    expect(await countRows(t.database.db, 'ticket')).toBe(ticketsBefore);
  });

  it('when the show has already started, then 422 saying booking is closed, and nothing stored', async () => {
    const movieId = await buildMovie(t.database.db, { showTime: new Date(Date.now() - 60_000) });
    const agent = request.agent(t.app);
    // The page no longer shows a form, so take a token from another movie's page (same browser, same cookie).
    const other = await buildMovie(t.database.db);
    const token = /name="_csrf" value="([^"]+)"/.exec((await agent.get(`/movies/${other}`)).text)![1]!;
    const res = await agent
      .post('/bookings')
      .type('form')
      .send({ _csrf: token, movieId: String(movieId), customerName: 'Late Comer', phoneNumber: '0712345678', quantity: '1' });
    expect(res.status).toBe(422);
    expect(res.text).toContain('This show has started; booking is closed.');
    expect(await countRows(t.database.db, 'ticket', movieId)).toBe(0);
    expect(await ticketsHeld(t.database.db, movieId)).toBe(0);
  });

  it('when the show is sold out, then 409 with the reason, the form values kept, and nothing stored', async () => {
    const movieId = await buildMovie(t.database.db, { maximumTickets: 3 });
    const agent = request.agent(t.app);
    expect((await postBooking(agent, movieId, { quantity: 3 })).status).toBe(303);
    const pushesBefore = await countRows(t.database.db, 'pushrequest');
    const res = await postBooking(agent, movieId, { quantity: 1, customerName: 'Too Late' });
    expect(res.status).toBe(409);
    expect(res.text).toContain('This show is sold out.');
    expect(await countRows(t.database.db, 'ticket', movieId)).toBe(1);
    expect(await countRows(t.database.db, 'pushrequest')).toBe(pushesBefore);
    expect(await ticketsHeld(t.database.db, movieId)).toBe(3);
  });

  it('when fewer tickets are left than asked, then 409 "Only 2 tickets are left for this show." with the values kept', async () => {
    const movieId = await buildMovie(t.database.db, { maximumTickets: 5 });
    const agent = request.agent(t.app);
    expect((await postBooking(agent, movieId, { quantity: 3 })).status).toBe(303);
    const res = await postBooking(agent, movieId, { quantity: 4, customerName: 'Baraka', phoneNumber: '0712 345 678' });
    expect(res.status).toBe(409);
    expect(res.text).toContain('Only 2 tickets are left for this show.');
    expect(res.text).toContain('value="Baraka"');
    // As typed, not as stored: the customer sees their own number back, not 254712345678.
    expect(res.text).toContain('value="0712 345 678"');
    expect(res.text).not.toContain('254712345678');
    expect(res.text).toMatch(/id="form-error" tabindex="-1"/);
    expect(res.text).toContain('value="4"');
    expect(await countRows(t.database.db, 'ticket', movieId)).toBe(1);
    expect(await ticketsHeld(t.database.db, movieId)).toBe(3);
  });

  it('when 30 bookings race for a 5-seat show, then exactly 5 are taken and never more than 5 seats held', async () => {
    const movieId = await buildMovie(t.database.db, { maximumTickets: 5 });
    const agent = request.agent(t.app);
    const token = /name="_csrf" value="([^"]+)"/.exec((await agent.get(`/movies/${movieId}`)).text)![1]!;
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        agent
          .post('/bookings')
          .type('form')
          .send({ _csrf: token, movieId: String(movieId), customerName: `Racer ${i}`, phoneNumber: uniquePhone().typed, quantity: '1' }),
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 303)).toHaveLength(5);
    expect(statuses.filter((s) => s === 409)).toHaveLength(25);
    expect(await ticketsHeld(t.database.db, movieId)).toBe(5);
    expect(await countRows(t.database.db, 'ticket', movieId)).toBe(5);
  });

  it('when the form is posted without a CSRF token or with a wrong one, then 403 with a friendly page and nothing stored', async () => {
    const movieId = await buildMovie(t.database.db);
    const agent = request.agent(t.app);
    await agent.get(`/movies/${movieId}`);
    const fields = { movieId: String(movieId), customerName: 'Forged', phoneNumber: '0712345678', quantity: '1' };
    const missing = await agent.post('/bookings').type('form').send(fields);
    expect(missing.status).toBe(403);
    expect(missing.text).toContain('This form has expired or was not sent from our site.');
    const wrong = await agent.post('/bookings').type('form').send({ ...fields, _csrf: 'x'.repeat(40) });
    expect(wrong.status).toBe(403);
    // A token from another browser (another cookie) does not work either.
    const other = request.agent(t.app);
    const foreign = /name="_csrf" value="([^"]+)"/.exec((await other.get(`/movies/${movieId}`)).text)![1]!;
    expect((await agent.post('/bookings').type('form').send({ ...fields, _csrf: foreign })).status).toBe(403);
    expect(await countRows(t.database.db, 'ticket', movieId)).toBe(0);
  });

  it('when Daraja refuses the push, then still 303 to the ticket, which shows Failed with the reason and Try again', async () => {
    const movieId = await buildMovie(t.database.db, { price: 10 });
    const agent = request.agent(t.app);
    const res = await postBooking(agent, movieId, { quantity: 2, phoneNumber: REFUSED_PHONE.typed });
    expect(res.status).toBe(303);
    const ref = refFrom(res.headers.location);
    const ticket = await ticketByRef(t.database.db, ref);
    expect(ticket).toMatchObject({ paymentStatus: 'Failed', holdsTickets: 0, failureReason: CUSTOMER_MESSAGES.subscriberBusy });
    expect(await ticketsHeld(t.database.db, movieId)).toBe(0);
    const pushes = await t.database.db.selectFrom('pushrequest').selectAll().where('ticketId', '=', ticket.ticketId).execute();
    expect(pushes).toMatchObject([{ status: 'Refused', errorCode: '500.001.1001', checkoutRequestId: null }]);
    const page = await agent.get(`/tickets/${ref}`).expect(200);
    expect(page.text).toContain(escapeHtml(CUSTOMER_MESSAGES.subscriberBusy));
    expect(page.text).toContain(`action="/tickets/${ref}/retry"`);
    expect(page.text).toContain('Try again');
  });
});

describe.each(dialects)('POST /bookings when the push gets no answer on %s', (dialect) => {
  let t: TestServer;

  beforeAll(async () => {
    // 254700000008's answer is held past this app's 1 s DARAJA_TIMEOUT_MS. The token is fetched first, so the whole
    // budget goes to the push however slow the runner.
    t = await startTestServer(dialect, { ...MANUAL_SIMULATOR, DARAJA_TIMEOUT_MS: '1000' });
    await t.services.daraja.getAccessToken();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('when the push gets no answer, then 303 to the ticket, which stays Pending', async () => {
    const movieId = await buildMovie(t.database.db);
    const res = await postBooking(request.agent(t.app), movieId, { phoneNumber: UNANSWERED_PHONE.typed });
    expect(res.status).toBe(303);
    const ticket = await ticketByRef(t.database.db, refFrom(res.headers.location));
    expect(ticket).toMatchObject({ paymentStatus: 'Pending', holdsTickets: 1 });
    const pushes = await t.database.db.selectFrom('pushrequest').selectAll().where('ticketId', '=', ticket.ticketId).execute();
    expect(pushes).toMatchObject([{ status: 'Unknown', errorCode: 'DARAJA_NETWORK', checkoutRequestId: null }]);
  });
});
