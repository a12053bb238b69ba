import type { Db, Tx } from '../core/db/database.js';
import type { NewTicket, Ticket } from '../core/db/schema.js';
import { toDbTime } from '../core/db/time.js';

/** A ticket with the movie fields its pages and JSON show. */
export type TicketWithMovie = Ticket & { movieTitle: string; showTime: string };

export async function insertTicket(tx: Db | Tx, ticket: NewTicket): Promise<number> {
  const r = await tx.insertInto('ticket').values(ticket).executeTakeFirstOrThrow();
  return Number(r.insertId);
}

export async function findTicketByRef(db: Db | Tx, ref: string): Promise<TicketWithMovie | undefined> {
  return db
    .selectFrom('ticket')
    .innerJoin('movie', 'movie.movieId', 'ticket.movieId')
    .selectAll('ticket')
    .select(['movie.title as movieTitle', 'movie.showTime as showTime'])
    .where('ticket.ref', '=', ref)
    .executeTakeFirst();
}

/**
 * Moves a Failed ticket back to Pending for a new push, holding its tickets again (the caller holds them in the same
 * transaction). Conditional on Failed, so two retries at once reopen it only once. True when this call reopened it.
 */
export async function reopenFailedTicket(
  tx: Db | Tx,
  ticketId: number,
  at: { now: Date; nextCheckAt: Date },
): Promise<boolean> {
  const now = toDbTime(at.now);
  const r = await tx
    .updateTable('ticket')
    .set({
      paymentStatus: 'Pending',
      holdsTickets: 1,
      failureReason: null,
      resultCode: null,
      confirmedBy: null,
      pendingSince: now,
      nextCheckAt: toDbTime(at.nextCheckAt),
      updatedAt: now,
    })
    .where('ticketId', '=', ticketId)
    .where('paymentStatus', '=', 'Failed')
    .where('holdsTickets', '=', 0)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}
