import request from 'supertest';
import type { Db } from '../../../src/core/db/database.js';
import type { Refund } from '../../../src/core/db/schema.js';
import { buildMovie, buildTicket, type BuiltTicket } from '../../support/builders.js';
import type { TestServer } from '../../support/server.js';
import { waitFor } from '../../support/wait.js';
import { ADMIN_ENV, AUTH } from '../admin/helpers.js';

export { ADMIN_ENV, AUTH };

/** The app with the built-in simulator paying at once, the admin on, and limits out of the way. */
export const REFUND_ENV = {
  ...ADMIN_ENV, SIMULATOR_MODE: 'auto', SIMULATOR_DELAY_MS: '20', RATE_LIMIT_BOOKINGS_PER_IP: '100000', RATE_LIMIT_PUSHES_PER_PHONE: '100000',
  REFUNDS_PER_SECOND: '500',
} as const;

/**
 * A payment the simulator really took (a push to `phone`, paid): its receipt and amount are what a reversal must
 * name. Returns the receipt once the prompt has finished.
 */
export async function payOnSimulator(s: TestServer, phone: string, amount: number): Promise<string> {
  const ack = await s.services.daraja.stkPush({ phoneNumber: phone, amount });
  return waitFor(`receipt for ${ack.checkoutRequestId}`, () => s.services.simulator!.prompts().find((p) => p.checkoutRequestId === ack.checkoutRequestId)?.mpesaReceiptNumber);
}

/**
 * A Paid ticket for a payment the simulator took. By default it holds its seats on a movie of its own; `late` makes it
 * the late payment flagged for refund (seats gone, needsRefund = 1).
 */
export async function paidTicket(s: TestServer, opts: { phone?: string; quantity?: number; price?: number; movieId?: number; late?: boolean } = {}): Promise<BuiltTicket & { movieId: number; receipt: string }> {
  const quantity = opts.quantity ?? 2;
  const price = opts.price ?? 15;
  const phone = opts.phone ?? '254708374149';
  const movieId = opts.movieId ?? await buildMovie(s.database.db, { price, maximumTickets: 100, ticketsHeld: opts.late ? 0 : quantity });
  const receipt = await payOnSimulator(s, phone, quantity * price);
  const t = await buildTicket(s.database.db, {
    movieId, phoneNumber: phone, quantity, totalAmount: quantity * price, paymentStatus: 'Paid', mpesaReceiptNumber: receipt,
    holdsTickets: opts.late ? 0 : 1, needsRefund: opts.late ? 1 : 0,
  });
  return { ...t, movieId, receipt };
}

export function askRefund(s: TestServer, body: Record<string, unknown>) {
  return request(s.baseUrl).post('/admin/api/refunds').set('Authorization', AUTH).send(body);
}

export async function refundJson(s: TestServer, refundId: number) {
  return (await request(s.baseUrl).get(`/admin/api/refunds/${refundId}`).set('Authorization', AUTH).expect(200)).body as Record<string, unknown>;
}

/** A refund reaching `status`: a reversal and its result travel over HTTP, so a loaded runner gets twice the usual wait. */
export function waitForRefund(s: TestServer, refundId: number, status: string) {
  return waitFor(`refund ${refundId} ${status}`, async () => {
    const r = await refundJson(s, refundId);
    return r.status === status ? r : undefined;
  }, { timeout: 20_000 });
}

export async function refundRows(db: Db, ticketId: number): Promise<Refund[]> {
  return db.selectFrom('refund').selectAll().where('ticketId', '=', ticketId).orderBy('refundId').execute();
}

/** How many reversal requests of this receipt reached the simulator (it would refuse a second one, but counts it). */
export function reversalsOf(s: TestServer, receipt: string): number {
  return s.services.simulator!.reversalRequests(receipt);
}

/** Whether the simulator reversed this payment (credited the phone). */
export function reversed(s: TestServer, receipt: string): boolean {
  return s.services.simulator!.reversals().some((r) => r.receipt === receipt);
}
