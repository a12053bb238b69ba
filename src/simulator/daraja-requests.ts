import { parseDarajaTimestamp } from '../core/time.js';
import { MAX_ACCOUNT_REFERENCE, MAX_AMOUNT, MAX_TRANSACTION_DESC, MIN_AMOUNT } from '../daraja/constants.js';
import { FAILURES, invalidField, type Checked, type DarajaFailure } from './daraja-answers.js';

export const TRANSACTION_TYPES = ['CustomerPayBillOnline', 'CustomerBuyGoodsOnline'] as const;
export type TransactionType = (typeof TRANSACTION_TYPES)[number];

/** A push that passed every check, with Daraja's loosely typed fields normalised. */
export interface CheckedStkPush {
  businessShortCode: string;
  timestamp: string;
  transactionType: TransactionType;
  amount: number;
  partyA: string;
  partyB: string;
  phoneNumber: string;
  callbackUrl: string;
  accountReference: string;
  transactionDesc: string;
}

export interface StkQueryRequest {
  businessShortCode: string;
  checkoutRequestId: string;
}

/** What the checks compare against: the simulator's passkey, accepted shortcodes and clock. */
export interface CheckContext {
  passkey: string;
  shortcodes?: readonly string[];
  now: Date;
}

/** Daraja refuses a Timestamp far from its own clock; the exact window is not published, five minutes is generous. */
const TIMESTAMP_SKEW_MS = 5 * 60 * 1000;
const PHONE = /^254[71]\d{8}$/;

type Fields = Record<string, unknown>;

/** Daraja takes numeric fields as JSON numbers or as strings of digits. */
function digits(value: unknown, pattern: RegExp): string | undefined {
  const s = typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? String(value)
    : typeof value === 'string' ? value : undefined;
  return s !== undefined && pattern.test(s) ? s : undefined;
}

function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

const shortcode = (value: unknown) => digits(value, /^\d{5,7}$/);
const phone = (value: unknown) => digits(value, PHONE);

function amount(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  return Number.isInteger(n) && n >= MIN_AMOUNT && n <= MAX_AMOUNT ? n : undefined;
}

function callbackUrl(value: unknown): string | undefined {
  if (typeof value !== 'string' || /\s/.test(value)) return undefined;
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '' ? value : undefined;
  } catch {
    return undefined;
  }
}

function timestamp(value: unknown, now: Date): string | undefined {
  const s = digits(value, /^\d{14}$/);
  const at = s === undefined ? undefined : parseDarajaTimestamp(s);
  return at !== undefined && Math.abs(at.getTime() - now.getTime()) <= TIMESTAMP_SKEW_MS ? s : undefined;
}

function fieldsOf(body: unknown): Fields {
  return typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Fields) : {};
}

interface Signed {
  businessShortCode: string;
  password: string;
  timestamp: string;
}

/** The three fields push and query both lead with: BusinessShortCode, Password and Timestamp, well formed. */
function checkSigned(f: Fields, ctx: CheckContext): Checked<Signed> {
  const businessShortCode = shortcode(f.BusinessShortCode);
  if (businessShortCode === undefined) return { ok: false, error: invalidField('BusinessShortCode') };
  const password = f.Password;
  if (typeof password !== 'string' || password === '') return { ok: false, error: invalidField('Password') };
  const ts = timestamp(f.Timestamp, ctx.now);
  if (ts === undefined) return { ok: false, error: invalidField('Timestamp') };
  return { ok: true, value: { businessShortCode, password, timestamp: ts } };
}

/**
 * Checked once every field is well formed: the shortcode is one this simulator serves, and the Password is
 * base64(shortcode + passkey + timestamp) — Daraja answers "Wrong credentials" otherwise.
 */
function checkCredentials(s: Signed, ctx: CheckContext): DarajaFailure | undefined {
  if (ctx.shortcodes && !ctx.shortcodes.includes(s.businessShortCode)) return FAILURES.merchantDoesNotExist;
  const decoded = Buffer.from(s.password, 'base64').toString('utf8');
  return decoded === s.businessShortCode + ctx.passkey + s.timestamp ? undefined : FAILURES.wrongCredentials;
}

/** Checks an STK push body the way Daraja does: the first bad field in Daraja's parameter order is reported. */
export function checkStkPush(body: unknown, ctx: CheckContext): Checked<CheckedStkPush> {
  const f = fieldsOf(body);
  const fail = (field: string): Checked<CheckedStkPush> => ({ ok: false, error: invalidField(field) });

  const signed = checkSigned(f, ctx);
  if (!signed.ok) return signed;
  const { businessShortCode, timestamp: ts } = signed.value;
  const transactionType = TRANSACTION_TYPES.find((t) => t === f.TransactionType);
  if (transactionType === undefined) return fail('TransactionType');
  const amt = amount(f.Amount);
  if (amt === undefined) return fail('Amount');
  const partyA = phone(f.PartyA);
  if (partyA === undefined) return fail('PartyA');
  const partyB = shortcode(f.PartyB);
  if (partyB === undefined) return fail('PartyB');
  const phoneNumber = phone(f.PhoneNumber);
  if (phoneNumber === undefined) return fail('PhoneNumber');
  const url = callbackUrl(f.CallBackURL);
  if (url === undefined) return fail('CallBackURL');
  const accountReference = text(f.AccountReference);
  if (accountReference === undefined || accountReference === '' || accountReference.length > MAX_ACCOUNT_REFERENCE) {
    return fail('AccountReference');
  }
  // TransactionDesc is the one optional field.
  const transactionDesc = f.TransactionDesc === undefined ? '' : text(f.TransactionDesc);
  if (transactionDesc === undefined || transactionDesc.length > MAX_TRANSACTION_DESC) return fail('TransactionDesc');

  const failure = checkCredentials(signed.value, ctx);
  if (failure) return { ok: false, error: failure };
  return {
    ok: true,
    value: {
      businessShortCode, timestamp: ts, transactionType, amount: amt, partyA, partyB, phoneNumber,
      callbackUrl: url, accountReference, transactionDesc,
    },
  };
}

/** Checks an STK query body: shortcode, Password and Timestamp as for a push, and a CheckoutRequestID. */
export function checkStkQuery(body: unknown, ctx: CheckContext): Checked<StkQueryRequest> {
  const f = fieldsOf(body);
  const signed = checkSigned(f, ctx);
  if (!signed.ok) return signed;
  const checkoutRequestId = f.CheckoutRequestID;
  if (typeof checkoutRequestId !== 'string' || checkoutRequestId === '') {
    return { ok: false, error: invalidField('CheckoutRequestID') };
  }

  const failure = checkCredentials(signed.value, ctx);
  if (failure) return { ok: false, error: failure };
  return { ok: true, value: { businessShortCode: signed.value.businessShortCode, checkoutRequestId } };
}
