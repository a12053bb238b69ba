import type { DatabaseHandle } from '../core/db/database.js';
import type { Movie, PaymentStatus } from '../core/db/schema.js';
import { fromDbTime, toDbTime } from '../core/db/time.js';
import { inTransaction } from '../core/db/transaction.js';
import type { Logger } from '../core/logger.js';
import { err, ok, type Result } from '../core/result.js';
import { toMovieView, type MovieView } from '../movies/movie-view.js';
import type { PushOutcome } from '../payments/push.service.js';
import { findMovie, holdTickets } from '../store/movie.repository.js';
import { normalizePhone } from '../daraja/phone.js';
import { latestRefunds } from '../store/refund.repository.js';
import {
  findPaidRefByPhoneAndCode, findTicketByRef, insertPendingTicket, reopenFailed, type TicketWithMovie,
} from '../store/ticket.repository.js';
import type { BookingFormProblems, BookingInput } from './booking.schema.js';
import { newTicketCode, normaliseTicketCode } from './ticket-code.js';
import { ticketQrSvg } from './ticket-qr.js';
import { isTicketRef, newTicketRef } from './ticket-ref.js';
import { toStatusJson, toTicketView, type TicketStatusJson, type TicketView } from './ticket-view.js';

/** The one thing bookings needs from payments (src/payments/push.service.ts). */
export interface PushStarter {
  /** Records the attempt, sends the STK push, stores the CheckoutRequestID; a refusal fails the ticket. Never throws for Daraja errors. */
  startPush(ticketId: number): Promise<PushOutcome>;
}

export interface BookingServiceDeps {
  database: DatabaseHandle;
  pushes: PushStarter;
  config: { maxTicketsPerBooking: number; paymentTimeoutSeconds: number; accountReference: string };
  logger: Logger;
  now: () => Date;
}

/** The booking form to show again, with what was typed and what is wrong. */
export interface BookingForm {
  movie: MovieView;
  values: Record<string, string>;
  errors: Record<string, string>;
  formError?: string;
  maxTickets: number;
}

/** Why a booking was not taken. Every refusal but an unknown movie comes with the form to show again. */
export type BookingRefusal =
  | { kind: 'movie_not_found' }
  | { kind: 'invalid'; form: BookingForm }
  | { kind: 'show_started'; form: BookingForm }
  | { kind: 'not_enough_left'; form: BookingForm };

export type Booked = { ref: string; ticketId: number; push: PushOutcome };

/** Why a retry sent no new push. */
export type RetryRefusal =
  | { kind: 'not_found' }
  /** Pending or Paid: nothing to retry; the page shows where it stands. */
  | { kind: 'not_failed' }
  /** Its seats could not be held again, or the show has started. */
  | { kind: 'cannot_hold'; reason: string };

export function notEnoughLeftMessage(ticketsLeft: number): string {
  if (ticketsLeft <= 0) return 'This show is sold out.';
  return ticketsLeft === 1 ? 'Only 1 ticket is left for this show.' : `Only ${ticketsLeft} tickets are left for this show.`;
}

export const SHOW_STARTED = 'This show has started; booking is closed.';
export const SHOW_CANCELLED = 'This show has been cancelled; booking is closed. Paid tickets are refunded to M-Pesa.';

/** Thrown inside a transaction to roll it back with an answer for the customer. */
class Refusal extends Error {
  constructor(readonly kind: 'show_started' | 'not_enough_left', readonly reason: string) {
    super(reason);
  }
}

const started = (movie: Movie, now: Date) => fromDbTime(movie.showTime).getTime() <= now.getTime();

/**
 * Bookings: hold the seats and write the Pending ticket in one transaction, then ask payments to push. Also the ticket
 * page, its status JSON and the retry of a Failed ticket. Forms are parsed by the routes (booking.schema.ts); rate
 * limits are the routes' job too.
 */
export class BookingService {
  constructor(private readonly deps: BookingServiceDeps) {}

  /**
   * Checks a parsed form against its movie before any limit is counted: an unknown movie, field errors, or a show that
   * has started are refused here, with `typed` (what the customer typed) for the form shown again.
   */
  async review(parsed: Result<BookingInput, BookingFormProblems>, typed: Record<string, string>): Promise<Result<BookingInput, BookingRefusal>> {
    const movieId = parsed.ok ? parsed.value.movieId : parsed.error.movieId;
    const movie = movieId === undefined ? undefined : await findMovie(this.deps.database.db, movieId);
    if (!movie) return err({ kind: 'movie_not_found' });
    const view = toMovieView(movie, this.deps.now());
    if (!parsed.ok) return err({ kind: 'invalid', form: this.form(view, typed, parsed.error.errors) });
    if (view.cancelled) return err({ kind: 'show_started', form: this.form(view, typed, {}, SHOW_CANCELLED) });
    if (view.started) return err({ kind: 'show_started', form: this.form(view, typed, {}, SHOW_STARTED) });
    return parsed;
  }

  /**
   * Holds the seats and writes the Pending ticket in one transaction (never more than maximumTickets held, whatever
   * the concurrency), then starts the push. How the push went is the ticket page's business: refused shows Failed
   * there, unknown stays Pending for the reconciler.
   */
  async book(input: BookingInput, typed?: Record<string, string>): Promise<Result<Booked, BookingRefusal>> {
    const { database } = this.deps;
    const now = this.deps.now();
    const ref = newTicketRef();
    let ticketId: number;
    try {
      ticketId = await inTransaction(database, async (tx) => {
        if (!(await holdTickets(tx, input.movieId, input.quantity))) {
          const m = await findMovie(tx, input.movieId);
          if (m?.cancelledAt) throw new Refusal('show_started', SHOW_CANCELLED);
          throw new Refusal('not_enough_left', m ? notEnoughLeftMessage(m.maximumTickets - m.ticketsHeld) : 'This show is sold out.');
        }
        // Price and show time read after the hold, in the same transaction: what the customer pays is what is stored.
        const movie = await findMovie(tx, input.movieId);
        if (!movie) throw new Refusal('not_enough_left', 'This show is no longer on sale.');
        if (started(movie, now)) throw new Refusal('show_started', SHOW_STARTED);
        const at = toDbTime(now);
        return insertPendingTicket(tx, {
          ref,
          movieId: input.movieId,
          customerName: input.customerName,
          phoneNumber: input.phoneNumber,
          email: input.email,
          quantity: input.quantity,
          totalAmount: input.quantity * movie.price,
          mpesaReceiptNumber: null,
          transactionDate: null,
          resultCode: null,
          failureReason: null,
          confirmedBy: null,
          refundedAt: null,
          pendingSince: at,
          nextCheckAt: toDbTime(this.nextCheckAt(now)),
          createdAt: at,
          updatedAt: at,
        }, newTicketCode);
      });
    } catch (e) {
      if (!(e instanceof Refusal)) throw e;
      const movie = await findMovie(database.db, input.movieId);
      if (!movie) return err({ kind: 'movie_not_found' });
      // The form again as the customer typed it (0712 345 678), not as stored (254712345678).
      const form = this.form(toMovieView(movie, this.deps.now()), typed ?? typedValues(input), {}, e.reason);
      return err({ kind: e.kind, form });
    }
    return ok({ ref, ticketId, push: await this.startPush(ticketId) });
  }

  /** The ticket behind a reference, as its page shows it: with its QR code (inline SVG) once Paid. */
  async ticket(ref: string): Promise<Result<TicketView & { qrSvg: string | null }, { kind: 'not_found' }>> {
    const t = await this.load(ref);
    if (!t) return err({ kind: 'not_found' });
    const refund = (await latestRefunds(this.deps.database.db, [t.ticketId])).get(t.ticketId);
    const view = toTicketView(t, this.payTo, refund);
    return ok({ ...view, qrSvg: view.ticketCode ? await ticketQrSvg(view.ticketCode) : null });
  }

  /**
   * Find my ticket: the reference of the Paid ticket with this phone number and code, as typed. One answer for every
   * miss (wrong phone, wrong code, both, not Paid), so a guess learns nothing about which part was right.
   */
  async findTicket(typedPhone: unknown, typedCode: unknown): Promise<Result<string, { kind: 'not_found' }>> {
    const phone = normalizePhone(typeof typedPhone === 'string' ? typedPhone : '');
    const code = normaliseTicketCode(typedCode);
    const ref = phone.ok && code ? await findPaidRefByPhoneAndCode(this.deps.database.db, phone.value, code) : undefined;
    return ref ? ok(ref) : err({ kind: 'not_found' });
  }

  /** The ticket status JSON. */
  async status(ref: string): Promise<Result<TicketStatusJson, { kind: 'not_found' }>> {
    const t = await this.load(ref);
    if (!t) return err({ kind: 'not_found' });
    const refund = (await latestRefunds(this.deps.database.db, [t.ticketId])).get(t.ticketId);
    return ok(toStatusJson(toTicketView(t, this.payTo, refund)));
  }

  /** What the retry route needs before the per-phone limit: the state and the (full) phone to count against. */
  async retryTarget(ref: string): Promise<Result<{ status: PaymentStatus; phoneNumber: string }, { kind: 'not_found' }>> {
    const t = await this.load(ref);
    return t ? ok({ status: t.paymentStatus, phoneNumber: t.phoneNumber }) : err({ kind: 'not_found' });
  }

  /**
   * A new push for a Failed ticket: in one transaction it goes back to Pending (conditionally, so two retries at once
   * reopen it once) and holds its seats again; then a new push under a new pushrequest row.
   */
  async retry(ref: string): Promise<Result<PushOutcome, RetryRefusal>> {
    const t = await this.load(ref);
    if (!t) return err({ kind: 'not_found' });
    if (t.paymentStatus !== 'Failed' || t.holdsTickets !== 0) return err({ kind: 'not_failed' });
    const now = this.deps.now();
    try {
      const reopened = await inTransaction(this.deps.database, async (tx) => {
        if (!(await reopenFailed(tx, t.ticketId, { now, nextCheckAt: this.nextCheckAt(now) }))) return false;
        const movie = await findMovie(tx, t.movieId);
        if (movie?.cancelledAt) throw new Refusal('show_started', SHOW_CANCELLED);
        if (!movie || started(movie, now)) throw new Refusal('show_started', SHOW_STARTED);
        if (!(await holdTickets(tx, t.movieId, t.quantity))) {
          const left = movie.maximumTickets - movie.ticketsHeld;
          throw new Refusal('not_enough_left',
            left <= 0
              ? 'This show has sold out since you booked, so we cannot send a new payment request.'
              : `${notEnoughLeftMessage(left)} Your booking was for ${t.quantity}, so we cannot send a new payment request. Please book again.`,
          );
        }
        return true;
      });
      if (!reopened) return err({ kind: 'not_failed' });
    } catch (e) {
      if (e instanceof Refusal) return err({ kind: 'cannot_hold', reason: e.reason });
      throw e;
    }
    return ok(await this.startPush(t.ticketId));
  }

  private get payTo(): string {
    return this.deps.config.accountReference.toUpperCase();
  }

  private async startPush(ticketId: number): Promise<PushOutcome> {
    try {
      return await this.deps.pushes.startPush(ticketId);
    } catch (e) {
      // startPush does not throw for Daraja errors; this is the database or a bug. The ticket is Pending with its
      // seats held, so the reconciler will settle it; the customer still gets their ticket page.
      this.deps.logger.error({ err: e, ticketId }, 'starting the STK push failed unexpectedly');
      return { kind: 'unknown' };
    }
  }

  private nextCheckAt(now: Date): Date {
    return new Date(now.getTime() + this.deps.config.paymentTimeoutSeconds * 1000);
  }

  private async load(ref: string): Promise<TicketWithMovie | undefined> {
    return isTicketRef(ref) ? findTicketByRef(this.deps.database.db, ref) : undefined;
  }

  private form(movie: MovieView, values: Record<string, string>, errors: Record<string, string>, formError?: string): BookingForm {
    const max = this.deps.config.maxTicketsPerBooking;
    return {
      movie,
      values: { quantity: '1', ...values },
      errors,
      formError,
      maxTickets: Math.min(max, Math.max(movie.ticketsLeft, 1)),
    };
  }
}

/** A valid booking's fields as the form shows them again. */
function typedValues(input: BookingInput): Record<string, string> {
  return {
    customerName: input.customerName,
    phoneNumber: input.phoneNumber,
    quantity: String(input.quantity),
    email: input.email ?? '',
  };
}
