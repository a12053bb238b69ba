import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TICKET_CODE_ALPHABET, normaliseTicketCode } from '../../../src/bookings/ticket-code.js';
import { ticketQrMatrix } from '../../../src/bookings/ticket-qr.js';
import { NO_ANSWER_REASON } from '../../../src/payments/result-applier.js';
import { insertPendingTicket } from '../../../src/store/ticket.repository.js';
import { buildMovie, buildTicket, ticketValues } from '../../support/builders.js';
import { dialects } from '../../support/db.js';
import { MANUAL_SIMULATOR } from '../../support/daraja-edge.js';
import { decodeModules, decodeQrSvg } from '../../support/qr.js';
import { startTestServer, type TestServer } from '../../support/server.js';

const CODE = new RegExp(`^[${TICKET_CODE_ALPHABET}]{8}$`);

describe('ticket codes', () => {
  it('when a code is typed in lower case with spaces or dashes, then it reads as the code; anything else is no code', () => {
    expect(normaliseTicketCode(' k7m2-q9xa ')).toBe('K7M2Q9XA');
    expect(normaliseTicketCode('K7M2Q9X')).toBeUndefined();
    expect(normaliseTicketCode('K7M2Q9X0')).toBeUndefined(); // 0 is not in the alphabet
    expect(normaliseTicketCode(42)).toBeUndefined();
  });

  it('when the QR matrix of a code is decoded, then it gives exactly the code', () => {
    expect(decodeModules(ticketQrMatrix('K7M2Q9XA'), 6, 4)).toBe('K7M2Q9XA');
  });
});

describe.each(dialects)('the ticket code and QR code on %s', (dialect) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(dialect, MANUAL_SIMULATOR);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('when a booking is written, then its ticket has a code of 8 unambiguous characters', async () => {
    const movieId = await buildMovie(t.database.db);
    const row = ticketValues({ movieId, paymentStatus: 'Pending' });
    const { ticketCode: _, paymentStatus: __, holdsTickets: ___, ...rest } = row;
    const id = await insertPendingTicket(t.database.db, rest, () => 'K7M2Q9XB');
    const stored = await t.database.db.selectFrom('ticket').select(['ticketCode', 'admitted']).where('ticketId', '=', id).executeTakeFirstOrThrow();
    expect(stored).toEqual({ ticketCode: 'K7M2Q9XB', admitted: 0 });
  });

  it('when the code drawn is already taken, then the insert is tried again with another and the transaction goes on', async () => {
    const movieId = await buildMovie(t.database.db);
    await buildTicket(t.database.db, { movieId, ticketCode: 'TAKEN234' });
    const codes = ['TAKEN234', 'TAKEN234', 'FRESH567'];
    const { ticketCode: _, paymentStatus: __, holdsTickets: ___, ...rest } = ticketValues({ movieId, paymentStatus: 'Pending' });
    const id = await t.database.db.transaction().execute(async (tx) => insertPendingTicket(tx, rest, () => codes.shift()!));
    const stored = await t.database.db.selectFrom('ticket').select('ticketCode').where('ticketId', '=', id).executeTakeFirstOrThrow();
    expect(stored.ticketCode).toBe('FRESH567');
    expect(codes).toEqual([]);
  });

  it('when a Paid ticket is opened, then it reads as a ticket with its code and a QR code that decodes to exactly the code', async () => {
    const movieId = await buildMovie(t.database.db, { title: 'Sura Mbili' });
    const tk = await buildTicket(t.database.db, { movieId, quantity: 2, customerName: 'Akinyi Otieno' });
    const page = await request(t.app).get(`/tickets/${tk.ref}`).expect(200);
    expect(tk.ticketCode).toMatch(CODE);
    expect(page.text).toContain('<title>Your ticket · Sura Mbili · Tikiti</title>');
    expect(page.text).toContain(`<p class="ticket-code" id="ticket-code">${tk.ticketCode}</p>`);
    expect(page.text).toContain('Show this at the door');
    expect(page.text).toContain('It admits 2 people.');
    expect(page.text).toContain('Akinyi Otieno');
    expect(page.text).toContain('(Nairobi time)');
    const svg = /<svg class="ticket-qr"[\s\S]*?<\/svg>/.exec(page.text)?.[0];
    expect(svg).toBeDefined();
    expect(decodeQrSvg(svg!)).toBe(tk.ticketCode);
    // Drawn on the server: no image request, no script, and the CSP is the site's usual one.
    expect(page.text).not.toMatch(/<img[^>]+qr/i);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['content-security-policy']).toContain("style-src 'self'");
    const json = await request(t.app).get(`/tickets/${tk.ref}/status`).expect(200);
    expect(json.body).toMatchObject({ status: 'Paid', ticketCode: tk.ticketCode, admitted: 0 });
  });

  it('when a ticket is Pending or Failed, then neither page nor JSON shows its code, and neither calls itself a ticket', async () => {
    const movieId = await buildMovie(t.database.db, { title: 'Kati Kati' });
    for (const status of ['Pending', 'Failed'] as const) {
      const tk = await buildTicket(t.database.db, { movieId, paymentStatus: status });
      const page = await request(t.app).get(`/tickets/${tk.ref}`).expect(200);
      expect(page.text).not.toContain(tk.ticketCode!);
      expect(page.text).not.toContain('class="ticket-qr"');
      expect(page.text).not.toMatch(/your ticket|it is your ticket|show (this|it) at the door/i);
      const json = await request(t.app).get(`/tickets/${tk.ref}/status`).expect(200);
      expect(json.body).toMatchObject({ status, ticketCode: null, admitted: 0 });
    }
  });

  it('when a booking expired with no answer from M-Pesa, then its page says so and does not claim no money was taken', async () => {
    const movieId = await buildMovie(t.database.db);
    const tk = await buildTicket(t.database.db, { movieId, paymentStatus: 'Failed', resultCode: null, failureReason: NO_ANSWER_REASON });
    const page = await request(t.app).get(`/tickets/${tk.ref}`).expect(200);
    expect(page.text).toContain('<h1>Booking expired</h1>');
    expect(page.text).toContain('If money left your M-Pesa for it, you do not lose it');
    expect(page.text).not.toContain('No money was taken');
    const failed = await buildTicket(t.database.db, { movieId, paymentStatus: 'Failed' });
    expect((await request(t.app).get(`/tickets/${failed.ref}`)).text).toContain('No money was taken');
  });
});
