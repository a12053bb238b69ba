import { randomBytes } from 'node:crypto';
import type { Config } from '../core/config.js';
import type { DatabaseHandle } from '../core/db/database.js';
import type { ConfirmedBy, PaymentStatus } from '../core/db/schema.js';
import { fromDbTime, toDbTime } from '../core/db/time.js';
import { NotFoundError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { formatNairobi, toNairobiIso } from '../core/time.js';
import { maskPhone } from '../daraja/phone.js';
import { GENERIC_FAILURE } from '../daraja/result-codes.js';
import { findMovie, holdTickets } from '../movies/movie.repository.js';
import type { PushStartResult } from '../payments/payment.service.js';
import { inTransaction } from '../core/db/transaction.js';
import { fieldErrors, toMovieView, type MovieView } from '../movies/movie.service.js';
import { bookingFormSchema, formValues, type BookingInput } from './booking.schema.js';
import { findTicketByRef, insertTicket, reopenFailedTicket, type TicketWithMovie } from './ticket.repository.js';

export type { PushStartResult };

/** The one thing bookings needs from PaymentService (src/payments); tests can stand in for it. */
export interface PushStarter {
  /** Records the attempt, sends the STK push, stores the CheckoutRequestID; a refusal fails the ticket. Never throws for Daraja errors. */
  startPush(ticketId: number): Promise<PushStartResult>;
}

export interface BookingServiceDeps {
  database: DatabaseHandle;
  payments: PushStarter;
  config: Readonly<Pick<Config, 'maxTicketsPerBooking' | 'paymentTimeoutSeconds'>> & {
    daraja: Readonly<Pick<Config['daraja'], 'accountReference'>>;
  };
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

export type ValidateResult = { ok: true; booking: BookingInput } | { ok: false; status: 422; form: BookingForm };
export type BookResult =
  | { ok: true; ref: string; ticketId: number; push: PushStartResult }
  | { ok: false; status: 409 | 422; form: BookingForm };
export type RetryResult =
  | { kind: 'retried'; push: PushStartResult }
  | { kind: 'unchanged' }
  | { kind: 'refused'; reason: string };

/** A ticket as its page shows it: every string ready, no logic left for the view. */
export interface TicketView {
  ref: string;
  status: PaymentStatus;
  movieId: number;
  movieTitle: string;
  showTimeIso: string;
  showTimeDisplay: string;
  customerName: string;
  phoneMasked: string;
  quantity: number;
  totalAmount: number;
  mpesaReceiptNumber: string | null;
  transactionDateIso: string | null;
  transactionDateDisplay: string | null;
  failureReason: string | null;
  confirmedBy: ConfirmedBy | null;
  /** Paid on the strength of an STK Query: no receipt number yet (contract §6). */
  receiptToFollow: boolean;
  /** Paid after its seats were given away: the money goes back. */
  needsRefund: boolean;
  /** The name on the M-Pesa prompt. */
  payTo: string;
}

/** The status JSON of contract §3, plus the masked phone and how a payment was confirmed. */
export interface TicketStatusJson {
  ref: string;
  status: PaymentStatus;
  movieId: number;
  movieTitle: string;
  quantity: number;
  totalAmount: number;
  mpesaReceiptNumber: string | null;
  transactionDate: string | null;
  failureReason: string | null;
  phoneNumber: string;
  confirmedBy: ConfirmedBy | null;
}

/** 18 random bytes in base64url: 24 characters, 144 bits. */
const REF_PATTERN = /^[A-Za-z0-9_-]{24}$/;

export function newTicketRef(): string {
  return randomBytes(18).toString('base64url');
}

export function isTicketRef(ref: string): boolean {
  return REF_PATTERN.test(ref);
}

/** Thrown inside a transaction to roll it back with an answer for the customer. */
class Refusal extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

export function notEnoughLeftMessage(ticketsLeft: number): string {
  if (ticketsLeft <= 0) return 'This show is sold out.';
  return ticketsLeft === 1 ? 'Only 1 ticket is left for this show.' : `Only ${ticketsLeft} tickets are left for this show.`;
}

export const SHOW_STARTED = 'This show has started; booking is closed.';

/**
 * Bookings: validate the form, hold the seats and write the Pending ticket in one transaction, then ask payments to
 * push. Also the ticket page, its status JSON and the retry of a Failed ticket. Rate limits are the routes' job.
 */
export class BookingService {
  constructor(private readonly deps: BookingServiceDeps) {}

  private get maxTickets(): number {
    return this.deps.config.maxTicketsPerBooking;
  }

  /** Checks the form and the movie (exists, not started). An unknown movie is a 404; anything else wrong a 422 form. */
  async validate(body: unknown): Promise<ValidateResult> {
    const values = formValues(body);
    const parsed = bookingFormSchema(this.maxTickets).safeParse(body ?? {});
    const rawId = (body as Record<string, unknown> | undefined)?.movieId;
    const movieId = parsed.success ? parsed.data.movieId : Number(typeof rawId === 'string' ? rawId.trim() : NaN);
    const movie = Number.isSafeInteger(movieId) && movieId > 0 ? await findMovie(this.deps.database.db, movieId) : undefined;
    if (!movie) throw new NotFoundError('movie');
    const now = this.deps.now();
    const view = toMovieView(movie, now);
    if (!parsed.success) {
      const errors = fieldErrors(parsed.error);
      delete errors.movieId;
      return { ok: false, status: 422, form: this.form(view, values, errors) };
    }
    if (view.started) return { ok: false, status: 422, form: this.form(view, values, {}, SHOW_STARTED) };
    return { ok: true, booking: parsed.data };
  }

  /**
   * Holds the seats and writes the Pending ticket in one transaction (never more than maximumTickets held, whatever
   * the concurrency), then starts the push. The result of the push is the ticket page's business: refused shows
   * Failed there, unknown stays Pending for the reconciler.
   */
  async book(input: BookingInput): Promise<BookResult> {
    const now = this.deps.now();
    const ref = newTicketRef();
    let ticketId: number;
    try {
      ticketId = await inTransaction(this.deps.database, async (tx) => {
        if (!(await holdTickets(tx, input.movieId, input.quantity))) {
          const m = await findMovie(tx, input.movieId);
          throw new Refusal(m ? notEnoughLeftMessage(m.maximumTickets - m.ticketsHeld) : 'This show is sold out.');
        }
        // Price and show time read after the hold, in the same transaction: what the customer pays is what is stored.
        const movie = await findMovie(tx, input.movieId);
        if (!movie) throw new Refusal('This show is no longer on sale.');
        if (fromDbTime(movie.showTime).getTime() <= now.getTime()) throw new Refusal(SHOW_STARTED);
        const at = toDbTime(now);
        return insertTicket(tx, {
          ref,
          movieId: input.movieId,
          customerName: input.customerName,
          phoneNumber: input.phoneNumber,
          email: input.email,
          quantity: input.quantity,
          totalAmount: input.quantity * movie.price,
          paymentStatus: 'Pending',
          holdsTickets: 1,
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
        });
      });
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      const movie = await findMovie(this.deps.database.db, input.movieId);
      if (!movie) throw new NotFoundError('movie');
      const view = toMovieView(movie, this.deps.now());
      const values = {
        customerName: input.customerName,
        phoneNumber: input.phoneNumber,
        quantity: String(input.quantity),
        email: input.email ?? '',
      };
      const status = err.reason === SHOW_STARTED ? 422 : 409;
      return { ok: false, status, form: this.form(view, values, {}, err.reason) };
    }

    const push = await this.startPush(ticketId);
    return { ok: true, ref, ticketId, push };
  }

  /** The ticket behind a reference, as its page shows it; 404 for anything unknown or malformed. */
  async ticket(ref: string): Promise<TicketView> {
    return this.toView(await this.load(ref));
  }

  /** Contract §3's status JSON. */
  async status(ref: string): Promise<TicketStatusJson> {
    const v = await this.ticket(ref);
    return {
      ref: v.ref,
      status: v.status,
      movieId: v.movieId,
      movieTitle: v.movieTitle,
      quantity: v.quantity,
      totalAmount: v.totalAmount,
      mpesaReceiptNumber: v.mpesaReceiptNumber,
      transactionDate: v.transactionDateIso,
      failureReason: v.failureReason,
      phoneNumber: v.phoneMasked,
      confirmedBy: v.confirmedBy,
    };
  }

  /** What the retry route needs before the per-phone limit: the state and the (full) phone to count against. */
  async retryTarget(ref: string): Promise<{ status: PaymentStatus; phoneNumber: string }> {
    const t = await this.load(ref);
    return { status: t.paymentStatus, phoneNumber: t.phoneNumber };
  }

  /**
   * A new push for a Failed ticket: in one transaction it goes back to Pending (conditionally, so two retries at
   * once reopen it once) and holds its seats again; then a new push under a new pushrequest row. A Pending or Paid
   * ticket is left alone.
   */
  async retry(ref: string): Promise<RetryResult> {
    const t = await this.load(ref);
    if (t.paymentStatus !== 'Failed' || t.holdsTickets !== 0) return { kind: 'unchanged' };
    const now = this.deps.now();
    try {
      const reopened = await inTransaction(this.deps.database, async (tx) => {
        if (!(await reopenFailedTicket(tx, t.ticketId, { now, nextCheckAt: this.nextCheckAt(now) }))) return false;
        const movie = await findMovie(tx, t.movieId);
        if (!movie || fromDbTime(movie.showTime).getTime() <= now.getTime()) throw new Refusal(SHOW_STARTED);
        if (!(await holdTickets(tx, t.movieId, t.quantity))) {
          const left = movie.maximumTickets - movie.ticketsHeld;
          throw new Refusal(
            left <= 0
              ? 'This show has sold out since you booked, so we cannot send a new payment request.'
              : `${notEnoughLeftMessage(left)} Your booking was for ${t.quantity}, so we cannot send a new payment request. Please book again.`,
          );
        }
        return true;
      });
      if (!reopened) return { kind: 'unchanged' };
    } catch (err) {
      if (err instanceof Refusal) return { kind: 'refused', reason: err.reason };
      throw err;
    }
    return { kind: 'retried', push: await this.startPush(t.ticketId) };
  }

  private async startPush(ticketId: number): Promise<PushStartResult> {
    try {
      return await this.deps.payments.startPush(ticketId);
    } catch (err) {
      // startPush does not throw for Daraja errors; this is the database or a bug. The ticket is Pending with its
      // seats held, so the reconciler will settle it; the customer still gets their ticket page.
      this.deps.logger.error({ err, ticketId }, 'starting the STK push failed unexpectedly');
      return { kind: 'unknown' };
    }
  }

  private nextCheckAt(now: Date): Date {
    return new Date(now.getTime() + this.deps.config.paymentTimeoutSeconds * 1000);
  }

  private async load(ref: string): Promise<TicketWithMovie> {
    const t = isTicketRef(ref) ? await findTicketByRef(this.deps.database.db, ref) : undefined;
    if (!t) throw new NotFoundError('ticket');
    return t;
  }

  private form(movie: MovieView, values: Record<string, string>, errors: Record<string, string>, formError?: string): BookingForm {
    return {
      movie,
      values: { quantity: '1', ...values },
      errors,
      formError,
      maxTickets: Math.min(this.maxTickets, Math.max(movie.ticketsLeft, 1)),
    };
  }

  private toView(t: TicketWithMovie): TicketView {
    const show = fromDbTime(t.showTime);
    const paidAt = t.transactionDate ? fromDbTime(t.transactionDate) : null;
    const failureReason = t.paymentStatus === 'Failed' ? (t.failureReason || GENERIC_FAILURE) : null;
    return {
      ref: t.ref,
      status: t.paymentStatus,
      movieId: t.movieId,
      movieTitle: t.movieTitle,
      showTimeIso: toNairobiIso(show),
      showTimeDisplay: formatNairobi(show),
      customerName: t.customerName,
      phoneMasked: maskPhone(t.phoneNumber),
      quantity: t.quantity,
      totalAmount: t.totalAmount,
      mpesaReceiptNumber: t.mpesaReceiptNumber,
      transactionDateIso: paidAt ? toNairobiIso(paidAt) : null,
      transactionDateDisplay: paidAt ? formatNairobi(paidAt) : null,
      failureReason,
      confirmedBy: t.confirmedBy,
      receiptToFollow: t.paymentStatus === 'Paid' && !t.mpesaReceiptNumber,
      needsRefund: t.paymentStatus === 'Paid' && t.needsRefund === 1 && !t.refundedAt,
      payTo: this.deps.config.daraja.accountReference.toUpperCase(),
    };
  }
}
