import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { ExpectStatic } from 'vitest';
import type { Db } from '../../../src/core/db/database.js';
import { postBooking, postCallback, type FormSession, type Sent } from '../../support/process.js';
import { waitFor } from '../../support/wait.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Movies whose ticketsHeld is not the sum of the quantities of their tickets that hold seats. */
export async function heldDrift(db: Db): Promise<Array<{ movieId: number; ticketsHeld: number; holding: number }>> {
  const movies = await db.selectFrom('movie').select(['movieId', 'ticketsHeld']).execute();
  const sums = await db.selectFrom('ticket').select(['movieId', sql<number>`sum(quantity)`.as('holding')])
    .where('holdsTickets', '=', 1).groupBy('movieId').execute();
  const holding = new Map(sums.map((s) => [s.movieId, Number(s.holding)]));
  return movies
    .map((m) => ({ movieId: m.movieId, ticketsHeld: m.ticketsHeld, holding: holding.get(m.movieId) ?? 0 }))
    .filter((m) => m.ticketsHeld !== m.holding);
}

export async function countWhere(db: Db, table: 'ticket' | 'callbackinbox', column: 'paymentStatus' | 'outcome', value: string): Promise<number> {
  const r = await db.selectFrom(table as 'ticket').select(sql<number>`count(*)`.as('n')).where(column as 'paymentStatus', '=', value as 'Pending').executeTakeFirstOrThrow();
  return Number(r.n);
}

/** Polls until no ticket is Pending and no inbox row is 'received', or fails after `ms` with what is left. */
export async function waitSettled(db: Db, ms: number, expect?: ExpectStatic): Promise<void> {
  let left = '';
  try {
    await waitFor('every ticket settled and every callback processed', async () => {
      const pending = await countWhere(db, 'ticket', 'paymentStatus', 'Pending');
      const received = await countWhere(db, 'callbackinbox', 'outcome', 'received');
      left = `${pending} tickets Pending, ${received} inbox rows received`;
      return pending === 0 && received === 0;
    }, { timeout: ms, interval: 200, ...(expect ? { expect } : {}) });
  } catch {
    throw new Error(`not settled after ${ms} ms: ${left}`);
  }
}

/** A callback for a payment nobody here asked for (unmatched), carrying `id` as its CheckoutRequestID. */
export function strayCallback(id: string): string {
  return JSON.stringify({
    Body: {
      stkCallback: {
        MerchantRequestID: '29115-34620561-1', CheckoutRequestID: id, ResultCode: 0, ResultDesc: 'The service request is processed successfully.',
        CallbackMetadata: { Item: [{ Name: 'Amount', Value: 1 }, { Name: 'MpesaReceiptNumber', Value: 'TST0000000' }, { Name: 'TransactionDate', Value: 20250514201201 }, { Name: 'PhoneNumber', Value: 254799999999 }] },
      },
    },
  });
}

/** The CheckoutRequestIDs of every callback body in the inbox (whatever its outcome). */
export async function inboxCheckoutIds(db: Db): Promise<string[]> {
  const rows = await db.selectFrom('callbackinbox').select('body').where('source', '=', 'callback').execute();
  return rows.map((r) => {
    try {
      return String((JSON.parse(r.body) as { Body: { stkCallback: { CheckoutRequestID: string } } }).Body.stkCallback.CheckoutRequestID);
    } catch {
      return '';
    }
  });
}

export interface LoadLog {
  bookings: Array<{ name: string; phone: string; sent: Sent }>;
  callbacks: Array<{ id: string; sent: Sent }>;
}

/**
 * A steady stream of bookings (through the form, CSRF and all) and stray callbacks against one app, `workers` of each
 * at a time, until `stop()` says so. Each request is on its own connection and carries a unique marker (the customer
 * name, the CheckoutRequestID), so what the server kept can be matched against what it answered.
 */
export async function load(
  target: { baseUrl: string; session: FormSession; movieId: number },
  opts: { phones: string[]; workers: number; tag: string; stop: () => boolean; log?: LoadLog },
): Promise<LoadLog> {
  // The caller may pass its own log to watch progress while the load runs.
  const log: LoadLog = opts.log ?? { bookings: [], callbacks: [] };
  let seq = 0;
  const booker = async () => {
    while (!opts.stop()) {
      const n = seq++;
      const phone = opts.phones[n % opts.phones.length]!;
      const name = `Load ${opts.tag} ${n}`;
      log.bookings.push({ name, phone, sent: await postBooking(target.baseUrl, target.session, { movieId: target.movieId, customerName: name, phoneNumber: phone, quantity: 1 + (n % 2) }) });
      await sleep(5);
    }
  };
  const caller = async () => {
    while (!opts.stop()) {
      const id = `ws_CO_${opts.tag}_${seq++}_${randomBytes(3).toString('hex')}`;
      log.callbacks.push({ id, sent: await postCallback(target.baseUrl, strayCallback(id)) });
      await sleep(5);
    }
  };
  await Promise.all([...Array.from({ length: opts.workers }, booker), ...Array.from({ length: opts.workers }, caller)]);
  return log;
}
