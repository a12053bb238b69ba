import type { CallbackInboxRow, ConfirmedBy } from '../core/db/schema.js';
import { fromDbTime } from '../core/db/time.js';
import { err, ok, type Result } from '../core/result.js';
import { parseStkCallback } from '../daraja/index.js';

/** A final answer about one push attempt, from a callback, an STK Query or an operator. */
export type PaymentResult =
  | {
    kind: 'paid';
    resultDesc: string;
    /** Absent when confirmed by STK Query, which carries no receipt ("confirmed, receipt to follow"). */
    receipt: string | null;
    transactionDate: Date;
    /** From the callback's metadata; checked against the ticket when present. */
    amount?: number;
    phone?: string;
    confirmedBy: ConfirmedBy;
  }
  | { kind: 'failed'; resultCode: string; resultDesc: string };

/** An inbox body read as a result for one CheckoutRequestID, or why it cannot be. */
export type ReadInbox = Result<{ checkoutRequestId: string; result: PaymentResult }, string>;

/** Our CheckoutRequestID column is 64 wide; Daraja's ids are about 32. A longer one cannot be ours. */
const MAX_CHECKOUT_ID = 64;

/**
 * Reads an inbox row's stored body: a Daraja callback (source 'callback'), or the STK Query answer we stored
 * (source 'query'). Never throws.
 */
export function readInboxBody(row: Pick<CallbackInboxRow, 'source' | 'body' | 'receivedAt'>): ReadInbox {
  let json: unknown;
  try {
    json = JSON.parse(row.body);
  } catch {
    return err(row.body.trim() === '' ? 'empty body' : 'body is not JSON');
  }
  const receivedAt = fromDbTime(row.receivedAt);
  if (row.source === 'query') return readQueryBody(json, receivedAt);

  const parsed = parseStkCallback(json);
  if (!parsed.ok) return err(parsed.error);
  const cb = parsed.value;
  if (cb.checkoutRequestId.length > MAX_CHECKOUT_ID) return err('CheckoutRequestID is too long to be a Daraja id');
  if (!cb.succeeded) {
    return ok({ checkoutRequestId: cb.checkoutRequestId, result: { kind: 'failed', resultCode: cb.resultCode, resultDesc: cb.resultDesc } });
  }
  const missing = missingEvidence(cb);
  if (missing !== undefined) return err(missing);
  const result: PaymentResult = {
    kind: 'paid',
    resultDesc: cb.resultDesc,
    receipt: cb.mpesaReceiptNumber ?? null,
    // A success without a readable TransactionDate still records the payment; when it arrived is the best we know.
    transactionDate: cb.transactionDate ?? receivedAt,
    confirmedBy: 'callback',
  };
  if (cb.amount !== undefined) result.amount = cb.amount;
  if (cb.phoneNumber !== undefined) result.phone = cb.phoneNumber;
  return ok({ checkoutRequestId: cb.checkoutRequestId, result });
}

/** What a receipt number looks like: letters and digits (Daraja's are 10, e.g. TEE2QR5JMI), at most our column's 20. */
const RECEIPT = /^[A-Za-z0-9]{1,20}$/;

/**
 * Why a success callback is no evidence of a payment, or undefined when it is. Daraja's success always carries the
 * receipt, the amount and the paying phone; a "ResultCode 0" without them (or with a receipt that is not one) proves
 * nothing, so it never makes a ticket Paid: its row is 'invalid' for an operator, and the ticket stays Pending for
 * the reconciler's STK Query, which asks Daraja itself. See docs/adr/0037-a-receipt-pays-one-ticket.md.
 */
function missingEvidence(cb: { mpesaReceiptNumber?: string; amount?: number; phoneNumber?: string }): string | undefined {
  const absent = [
    cb.mpesaReceiptNumber === undefined ? 'MpesaReceiptNumber' : undefined,
    cb.amount === undefined ? 'Amount' : undefined,
    cb.phoneNumber === undefined ? 'PhoneNumber' : undefined,
  ].filter((n) => n !== undefined);
  if (absent.length > 0) return `a success without ${absent.join(', ')} in its CallbackMetadata is no evidence of a payment`;
  if (!RECEIPT.test(cb.mpesaReceiptNumber!)) return 'a success whose MpesaReceiptNumber is not letters and digits is no evidence of a payment';
  return undefined;
}

/** The body we store for an STK Query answer (the client returns it already read, so we keep its fields). */
export function queryInboxBody(checkoutRequestId: string, answer: { resultCode: string; resultDesc: string }): string {
  return JSON.stringify({ CheckoutRequestID: checkoutRequestId, ResultCode: answer.resultCode, ResultDesc: answer.resultDesc });
}

function readQueryBody(json: unknown, receivedAt: Date): ReadInbox {
  const j = json as { CheckoutRequestID?: unknown; ResultCode?: unknown; ResultDesc?: unknown } | null;
  const id = typeof j?.CheckoutRequestID === 'string' ? j.CheckoutRequestID : '';
  const code = typeof j?.ResultCode === 'string' || typeof j?.ResultCode === 'number' ? String(j.ResultCode).trim() : '';
  const desc = typeof j?.ResultDesc === 'string' ? j.ResultDesc : '';
  if (id === '' || code === '') return err('not an STK Query answer');
  if (code === '0') {
    // The query knows no receipt; the payment is dated when we learned of it.
    return ok({ checkoutRequestId: id, result: { kind: 'paid', resultDesc: desc, receipt: null, transactionDate: receivedAt, confirmedBy: 'query' } });
  }
  return ok({ checkoutRequestId: id, result: { kind: 'failed', resultCode: code, resultDesc: desc } });
}

/** A callback's PhoneNumber as 254XXXXXXXXX when it is a plain number; undefined when masked or hashed. */
export function plainPhone(phone: string): string | undefined {
  const digits = phone.replace(/[\s+-]/g, '');
  if (!/^\d+$/.test(digits)) return undefined;
  if (/^0[17]\d{8}$/.test(digits)) return `254${digits.slice(1)}`;
  return digits;
}

/**
 * Whether a callback's PhoneNumber is the ticket's. Safaricom has been reported to mask numbers in some callbacks
 * ("2547****149"): masked digits match any digit; a value we cannot read at all (a hash) is 'unknown', not a mismatch,
 * because refusing a payment that was taken would lose the money.
 */
export function comparePhone(callbackPhone: string, ticketPhone: string): 'same' | 'different' | 'unknown' {
  const plain = plainPhone(callbackPhone);
  if (plain !== undefined) return plain === ticketPhone ? 'same' : 'different';
  const compact = callbackPhone.replace(/[\s+-]/g, '');
  if (/^[\d*•xX]+$/.test(compact) && /\d/.test(compact)) {
    if (compact.length !== ticketPhone.length) return 'different';
    for (let i = 0; i < compact.length; i++) {
      const c = compact.charAt(i);
      if (/\d/.test(c) && c !== ticketPhone.charAt(i)) return 'different';
    }
    return 'same';
  }
  return 'unknown';
}
