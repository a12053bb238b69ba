import type { DatabaseHandle } from '../core/db/database.js';
import type { Movie } from '../core/db/schema.js';
import { fromDbTime } from '../core/db/time.js';
import { inTransaction } from '../core/db/transaction.js';
import { err, ok, type Result } from '../core/result.js';
import { formatNairobi, toNairobiIso } from '../core/time.js';
import { activeRefundForTicket } from '../store/refund.repository.js';
import { insertAudit } from '../store/audit.repository.js';
import { moviesShowingFrom } from '../store/movie.repository.js';
import { admit, findTicketByCode, type TicketWithMovie } from '../store/ticket.repository.js';

/**
 * The door: looks a ticket up by its code and lets people in on it. An admission is one conditional update (store:
 * `admit`) and its audit row, in one transaction; a refusal says why in words door staff can act on.
 * See docs/adr/0030-admission-is-one-conditional-update.md.
 */

export type Refusal = 'not_paid' | 'refunded' | 'other_show' | 'already_admitted' | 'too_many';

export interface DoorTicket {
  ticketCode: string;
  movieId: number;
  movieTitle: string;
  showTime: string;
  showTimeDisplay: string;
  customerName: string;
  quantity: number;
  admitted: number;
  /** Why it would be refused at this show (with all remaining people), or null when it can be admitted. */
  refusal: { error: Refusal; message: string } | null;
}

export interface Admitted {
  ticketCode: string;
  movieTitle: string;
  customerName: string;
  quantity: number;
  admitted: number;
  admittedNow: number;
}

export type AdmitFailure = { kind: 'not_found' } | { kind: 'refused'; error: Refusal; message: string };

/** The shows a door chooses from: started up to 6 hours ago, or starting within the next 18 (a night's shows). */
export const DOOR_WINDOW = { beforeMs: 6 * 3600_000, afterMs: 18 * 3600_000 };

const plural = (n: number) => (n === 1 ? '1 person' : `${n} people`);

/** Why this ticket cannot let `n` (or, with undefined, all not yet in) in at `movieId`, or null. In the door's order. */
function refusalOf(t: TicketWithMovie, movieId: number, n: number | undefined, refunding: boolean): { error: Refusal; message: string } | null {
  if (t.paymentStatus !== 'Paid') {
    return { error: 'not_paid', message: `Not paid: this booking is ${t.paymentStatus === 'Pending' ? 'still waiting for its M-Pesa payment' : 'unpaid (its payment failed)'}. Do not let it in.` };
  }
  if (t.refundedAt !== null || t.needsRefund === 1) {
    return { error: 'refunded', message: t.refundedAt !== null ? 'Refunded: the money for this ticket was given back, so it no longer admits anyone.' : 'Owed a refund: this ticket\'s seats were not kept, so it does not admit anyone. Send the customer to the box office.' };
  }
  if (refunding) {
    return { error: 'refunded', message: 'Being refunded: the money for this ticket is being sent back through M-Pesa, so it no longer admits anyone.' };
  }
  if (t.movieId !== movieId) {
    return { error: 'other_show', message: `Another show: this ticket is for ${t.movieTitle} at ${formatNairobi(fromDbTime(t.showTime))}.` };
  }
  const left = t.quantity - t.admitted;
  if (left <= 0) {
    const when = t.lastAdmittedAt ? ` The last of them came in at ${formatNairobi(fromDbTime(t.lastAdmittedAt))}${t.lastAdmittedBy ? `, let in by ${t.lastAdmittedBy}` : ''}.` : '';
    return { error: 'already_admitted', message: `Already in: all ${plural(t.quantity)} on this ticket have been let in.${when}` };
  }
  if (n !== undefined && n > left) {
    return { error: 'too_many', message: `Too many: only ${plural(left)} of ${t.quantity} on this ticket ${left === 1 ? 'is' : 'are'} not yet in.` };
  }
  return null;
}

export class DoorService {
  constructor(private readonly deps: { database: DatabaseHandle; now: () => Date }) {}

  /** Whether a refund of the ticket is in flight or done (store/refund.repository.ts): the admission refuses it too. */
  private async refunding(ticketId: number): Promise<boolean> {
    return (await activeRefundForTicket(this.deps.database.db, ticketId)) !== undefined;
  }

  /** Shows in the door's window, soonest first. */
  async shows(): Promise<Array<{ movieId: number; title: string; showTimeDisplay: string; showTimeIso: string }>> {
    const now = this.deps.now().getTime();
    const rows: Movie[] = await moviesShowingFrom(this.deps.database.db, new Date(now - DOOR_WINDOW.beforeMs), 50);
    return rows
      .filter((m) => fromDbTime(m.showTime).getTime() <= now + DOOR_WINDOW.afterMs)
      .map((m) => ({ movieId: m.movieId, title: m.title, showTimeDisplay: formatNairobi(fromDbTime(m.showTime)), showTimeIso: toNairobiIso(fromDbTime(m.showTime)) }));
  }

  /** What the door sees for a code at a show, before admitting. */
  async lookup(ticketCode: string, movieId: number): Promise<DoorTicket | undefined> {
    const t = await findTicketByCode(this.deps.database.db, ticketCode);
    if (!t?.ticketCode) return undefined;
    return {
      ticketCode: t.ticketCode, movieId: t.movieId, movieTitle: t.movieTitle, showTime: toNairobiIso(fromDbTime(t.showTime)),
      showTimeDisplay: formatNairobi(fromDbTime(t.showTime)), customerName: t.customerName, quantity: t.quantity,
      admitted: t.admitted, refusal: refusalOf(t, movieId, undefined, await this.refunding(t.ticketId)),
    };
  }

  /**
   * Lets `n` people in on the ticket (all not yet in when undefined), as door user `by`. The update itself decides:
   * when it changes nothing, the ticket is read again and the reason given is the one that holds now.
   */
  async admit(p: { ticketCode: string; movieId: number; n?: number; by: string }): Promise<Result<Admitted, AdmitFailure>> {
    const { database } = this.deps;
    // Each lost race means another door let people in, which can happen at most `quantity` times: this ends.
    for (let attempt = 0; attempt < 100; attempt++) {
      const t = await findTicketByCode(database.db, p.ticketCode);
      if (!t) return err({ kind: 'not_found' });
      const refusal = refusalOf(t, p.movieId, p.n, await this.refunding(t.ticketId));
      if (refusal) return err({ kind: 'refused', ...refusal });
      const n = p.n ?? t.quantity - t.admitted;
      const now = this.deps.now();
      const done = await inTransaction(database, async (tx) => {
        if (!(await admit(tx, { ticketId: t.ticketId, movieId: p.movieId, n, by: p.by, now }))) return false;
        await insertAudit(tx, {
          at: now, actor: p.by, action: 'door.admit', ticketId: t.ticketId,
          detail: `let in ${plural(n)} at the door: ${t.admitted + n} of ${t.quantity} now in`,
        });
        return true;
      });
      if (done) {
        return ok({
          ticketCode: t.ticketCode!, movieTitle: t.movieTitle, customerName: t.customerName, quantity: t.quantity,
          admitted: t.admitted + n, admittedNow: n,
        });
      }
      // Another door admitted on this ticket between our read and our update: read again and decide afresh.
    }
    throw new Error('door: an admission kept losing races');
  }
}
