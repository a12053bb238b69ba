import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Agent } from 'supertest';
import { BookingService, type PushStartResult, type PushStarter } from '../../../src/bookings/booking.service.js';
import type { Db } from '../../../src/core/db/database.js';
import { toDbTime } from '../../../src/core/db/time.js';
import { releaseTickets } from '../../../src/movies/movie.repository.js';
import type { TestApp } from '../../support/app.js';
import { csrfFrom } from '../../support/app.js';

/** A Kenyan test phone nobody else in the run uses: 07XXXXXXXX typed, 2547XXXXXXXX stored. */
export function uniquePhone(): { typed: string; stored: string } {
  const n = String(randomBytes(4).readUInt32BE() % 100_000_000).padStart(8, '0');
  return { typed: `07${n}`, stored: `2547${n}` };
}

export type FakeBehaviour = 'accepted' | 'refused' | 'unknown';

/**
 * Stands in for PaymentService.startPush where a test wants a given outcome without Daraja: it writes the
 * pushrequest row the real one writes and, for a refusal, fails the ticket and releases its seats like the real one.
 */
export class FakePayments implements PushStarter {
  readonly calls: number[] = [];
  behaviour: FakeBehaviour = 'accepted';
  refusal = 'M-Pesa is busy with another payment on this phone. Please wait a minute and try again.';

  constructor(private readonly db: Db) {}

  async startPush(ticketId: number): Promise<PushStartResult> {
    this.calls.push(ticketId);
    const t = await this.db.selectFrom('ticket').selectAll().where('ticketId', '=', ticketId).executeTakeFirstOrThrow();
    const now = toDbTime(new Date());
    const checkoutRequestId = `ws_CO_FAKE_${randomBytes(8).toString('hex')}`;
    const status = this.behaviour === 'accepted' ? 'Accepted' : this.behaviour === 'refused' ? 'Refused' : 'Unknown';
    await this.db
      .insertInto('pushrequest')
      .values({
        ticketId,
        checkoutRequestId: this.behaviour === 'accepted' ? checkoutRequestId : null,
        merchantRequestId: null,
        phoneNumber: t.phoneNumber,
        amount: t.totalAmount,
        status,
        resultCode: null,
        resultDesc: null,
        errorCode: this.behaviour === 'refused' ? '500.001.1001' : null,
        errorMessage: null,
        createdAt: now,
        answeredAt: now,
        completedAt: null,
      })
      .execute();
    if (this.behaviour === 'refused') {
      await this.db.transaction().execute(async (tx) => {
        await tx
          .updateTable('ticket')
          .set({ paymentStatus: 'Failed', failureReason: this.refusal, holdsTickets: 0, updatedAt: now })
          .where('ticketId', '=', ticketId)
          .where('paymentStatus', '=', 'Pending')
          .execute();
        await releaseTickets(tx, t.movieId, t.quantity);
      });
      return { kind: 'refused', reason: this.refusal, errorCode: '500.001.1001' };
    }
    return this.behaviour === 'accepted' ? { kind: 'accepted', checkoutRequestId } : { kind: 'unknown' };
  }
}

/** Swaps the app's booking service for one whose pushes go to a FakePayments. */
export function useFakePayments(t: TestApp): FakePayments {
  const fake = new FakePayments(t.database.db);
  t.deps.services.bookings = new BookingService({
    database: t.database,
    payments: fake,
    config: t.config,
    logger: t.deps.logger,
    now: t.deps.now,
  });
  return fake;
}

export interface BookingFields {
  movieId?: string | number;
  customerName?: string;
  phoneNumber?: string;
  quantity?: string | number;
  email?: string;
}

const tokens = new WeakMap<Agent, string>();

/**
 * The agent's CSRF token, read once from a booking form and reused (it stays valid for the agent's cookie), so a
 * sold-out movie whose page has no form can still be posted to.
 */
export async function tokenFor(agent: Agent, movieId: number): Promise<string> {
  let token = tokens.get(agent);
  if (!token) {
    token = await csrfFrom(agent, `/movies/${movieId}`);
    tokens.set(agent, token);
  }
  return token;
}

/** Posts the booking form the way a browser does: GET the movie page (cookie + token), then POST with _csrf. */
export async function postBooking(agent: Agent, movieId: number, fields: BookingFields = {}) {
  const token = await tokenFor(agent, movieId);
  const form: Record<string, string> = {
    _csrf: token,
    movieId: String(movieId),
    customerName: 'Amina Wanjiru',
    phoneNumber: uniquePhone().typed,
    quantity: '2',
  };
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) form[k] = String(v);
  return agent.post('/bookings').type('form').send(form);
}

export async function countRows(db: Db, table: 'ticket' | 'pushrequest' | 'notification', movieId?: number): Promise<number> {
  if (table === 'ticket') {
    let q = db.selectFrom('ticket').select(sql<number>`count(*)`.as('n'));
    if (movieId !== undefined) q = q.where('movieId', '=', movieId);
    return Number((await q.executeTakeFirstOrThrow()).n);
  }
  const r = await db.selectFrom(table).select(sql<number>`count(*)`.as('n')).executeTakeFirstOrThrow();
  return Number(r.n);
}

export async function ticketsHeld(db: Db, movieId: number): Promise<number> {
  const m = await db.selectFrom('movie').select('ticketsHeld').where('movieId', '=', movieId).executeTakeFirstOrThrow();
  return Number(m.ticketsHeld);
}

export async function ticketByRef(db: Db, ref: string) {
  return db.selectFrom('ticket').selectAll().where('ref', '=', ref).executeTakeFirstOrThrow();
}

/** The ref from a 303 to /tickets/{ref}. */
export function refFrom(location: string | undefined): string {
  const m = /^\/tickets\/([A-Za-z0-9_-]+)$/.exec(location ?? '');
  if (!m) throw new Error(`not a ticket location: ${location}`);
  return m[1]!;
}
