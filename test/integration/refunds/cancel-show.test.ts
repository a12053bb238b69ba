import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildMovie, buildTicket } from '../../support/builders.js';
import { dialects } from '../../support/db.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import { waitFor } from '../../support/wait.js';
import { AUTH, REFUND_ENV, payOnSimulator } from './helpers.js';

// Cancelling a show of 200 Paid tickets: every one refunded by one reversal, paced, with a share of Daraja's
// spike-arrest refusals thrown in by the simulator, and the counts end 200 / 0 / 0. About 3 s on an idle machine per
// database (most of it paying the 200 tickets first); the generous timeouts are for a loaded CI runner.

const TICKETS = 200;

describe.each(dialects)('cancelling a show on %s', (dialect) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(dialect, { ...REFUND_ENV, SIMULATOR_DELAY_MS: '5', DARAJA_TIMEOUT_MS: '30000' });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('when a show of 200 Paid tickets is cancelled with spike arrest refusing every 4th reversal, then all 200 are refunded once each and the counts end 200/0/0', async () => {
    const movieId = await buildMovie(s.database.db, { price: 10, maximumTickets: TICKETS, ticketsHeld: TICKETS });
    const phones = Array.from({ length: TICKETS }, (_, i) => `25471${String(i).padStart(7, '0')}`);
    const receipts: string[] = [];
    for (let i = 0; i < TICKETS; i += 20) {
      receipts.push(...await Promise.all(phones.slice(i, i + 20).map((p) => payOnSimulator(s, p, 10))));
    }
    for (let i = 0; i < TICKETS; i++) {
      await buildTicket(s.database.db, { movieId, phoneNumber: phones[i]!, quantity: 1, totalAmount: 10, paymentStatus: 'Paid', mpesaReceiptNumber: receipts[i]!, holdsTickets: 1 });
    }
    s.services.simulator!.setSpikeArrest(4);
    try {
      const res = await request(s.baseUrl).post(`/admin/api/movies/${movieId}/cancel`).set('Authorization', AUTH).send({ reason: 'Projector broken' }).expect(202);
      expect(res.body.total).toBe(TICKETS);

      let last: unknown;
      const counts = await waitFor('all refunded', async () => {
        const c = (await request(s.baseUrl).get(`/admin/api/movies/${movieId}/cancel`).set('Authorization', AUTH).expect(200)).body;
        last = c;
        return c.refunded === TICKETS ? c : undefined;
      }, { timeout: 45_000, interval: 100 }).catch(async (e: unknown) => {
        const states = await s.database.db.selectFrom('refund').select(['status', 'sendingSince', 'attempts']).execute();
        throw new Error(`${String(e)}; counts ${JSON.stringify(last)}; refunds ${JSON.stringify(states.filter((r) => r.status !== 'refunded').slice(0, 10))}`);
      });
      expect(counts).toEqual({ total: TICKETS, refunded: TICKETS, failed: 0, inFlight: 0 });
    } finally {
      s.services.simulator!.setSpikeArrest(0);
    }

    for (const r of receipts) expect(s.services.simulator!.reversalRequests(r)).toBe(1);
    const refunds = await s.database.db.selectFrom('refund').innerJoin('ticket', 'ticket.ticketId', 'refund.ticketId')
      .select(['refund.status', 'refund.attempts', 'refund.actor']).where('ticket.movieId', '=', movieId).execute();
    expect(refunds).toHaveLength(TICKETS);
    expect(refunds.every((r) => r.status === 'refunded' && r.actor === 'cancel')).toBe(true);
    // Spike arrest did refuse some, and they were sent again.
    expect(refunds.some((r) => r.attempts > 1)).toBe(true);
    const m = await s.database.db.selectFrom('movie').select(['ticketsHeld', 'cancelledAt']).where('movieId', '=', movieId).executeTakeFirstOrThrow();
    expect(m.ticketsHeld).toBe(0);
    expect(m.cancelledAt).not.toBeNull();

    // The show left the catalogue; its page says cancelled and takes no booking.
    const list = (await request(s.baseUrl).get('/api/movies').expect(200)).body as Array<{ movieId: number }>;
    expect(list.map((x) => x.movieId)).not.toContain(movieId);
    const page = await request(s.baseUrl).get(`/movies/${movieId}`).expect(200);
    expect(page.text).toContain('This show has been cancelled: Projector broken');
    expect(page.text).not.toContain('action="/bookings"');
    // Cancelling again records nothing new.
    const again = await request(s.baseUrl).post(`/admin/api/movies/${movieId}/cancel`).set('Authorization', AUTH).send({ reason: 'again' }).expect(202);
    expect(again.body).toEqual({ total: TICKETS, refunded: TICKETS, failed: 0, inFlight: 0 });
  }, 90_000);
});
