import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Agent } from 'supertest';
import type { Db } from '../../../src/core/db/database.js';
import { csrfFrom } from '../../support/app.js';

/** A Kenyan test phone nobody else in the run uses: 07XXXXXXXX typed, 2547XXXXXXXX stored. */
export function uniquePhone(): { typed: string; stored: string } {
  const n = String(randomBytes(4).readUInt32BE() % 100_000_000).padStart(8, '0');
  return { typed: `07${n}`, stored: `2547${n}` };
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
