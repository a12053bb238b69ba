import type { ConfirmedBy, PaymentStatus, Refund, RefundStatus } from '../core/db/schema.js';
import { fromDbTime } from '../core/db/time.js';
import { formatNairobi, toNairobiIso } from '../core/time.js';
import { maskPhone } from '../daraja/phone.js';
import { GENERIC_FAILURE } from '../daraja/result-codes.js';
import { NO_ANSWER_REASON } from '../payments/result-applier.js';
import type { TicketWithMovie } from '../store/ticket.repository.js';

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
  /** Paid on the strength of an STK Query: no receipt number yet. */
  receiptToFollow: boolean;
  /** Paid after its seats were given away: the money goes back. */
  needsRefund: boolean;
  /** The name on the M-Pesa prompt. */
  payTo: string;
  /** The code read at the door: only while Paid (the page, the QR code and the JSON show nothing before). */
  ticketCode: string | null;
  /** People let in at the door so far. */
  admitted: number;
  /** Failed because M-Pesa never answered: money may have been taken, so the page must not say it was not. */
  outcomeUnknown: boolean;
  /** The newest refund's status (null: never refunded), and when the money went back (ISO, Nairobi offset). */
  refundStatus: RefundStatus | null;
  refundedAtIso: string | null;
  refundedAtDisplay: string | null;
}

/** The ticket status JSON (docs), plus the masked phone and how a payment was confirmed. */
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
  ticketCode: string | null;
  admitted: number;
  refundStatus: RefundStatus | null;
  refundedAt: string | null;
}

export function toTicketView(t: TicketWithMovie, payTo: string, latestRefund?: Refund): TicketView {
  const show = fromDbTime(t.showTime);
  const refundedAt = t.refundedAt ? fromDbTime(t.refundedAt) : null;
  const paidAt = t.transactionDate ? fromDbTime(t.transactionDate) : null;
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
    failureReason: t.paymentStatus === 'Failed' ? (t.failureReason || GENERIC_FAILURE) : null,
    confirmedBy: t.confirmedBy,
    receiptToFollow: t.paymentStatus === 'Paid' && !t.mpesaReceiptNumber,
    needsRefund: t.paymentStatus === 'Paid' && t.needsRefund === 1 && !t.refundedAt,
    payTo,
    ticketCode: t.paymentStatus === 'Paid' ? t.ticketCode : null,
    admitted: t.admitted,
    outcomeUnknown: t.paymentStatus === 'Failed' && t.failureReason === NO_ANSWER_REASON,
    refundStatus: latestRefund?.status ?? null,
    refundedAtIso: refundedAt ? toNairobiIso(refundedAt) : null,
    refundedAtDisplay: refundedAt ? formatNairobi(refundedAt) : null,
  };
}

export function toStatusJson(v: TicketView): TicketStatusJson {
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
    ticketCode: v.ticketCode,
    admitted: v.admitted,
    refundStatus: v.refundStatus,
    refundedAt: v.refundedAtIso,
  };
}
