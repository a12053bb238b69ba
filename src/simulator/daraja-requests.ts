import { FAILURES, MAY_REFUSE, invalidField, type Checked, type DarajaFailure } from './daraja-answers.js';
import { MAX_ACCOUNT_REFERENCE, MAX_AMOUNT, MAX_TRANSACTION_DESC, MIN_AMOUNT, parseDarajaTimestamp } from './daraja-protocol.js';

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
  /** What was let through that the real Daraja may refuse (each starts with MAY_REFUSE); empty in strict mode. */
  warnings: string[];
}

export interface StkQueryRequest {
  businessShortCode: string;
  checkoutRequestId: string;
  warnings: string[];
}

/** What the checks compare against: the simulator's passkey, accepted shortcodes and clock. */
export interface CheckContext {
  passkey: string;
  shortcodes?: readonly string[];
  now: Date;
  /**
   * Refuse what the real Daraja may refuse, instead of letting it through with a warning: a Timestamp that is not
   * Nairobi time, a TransactionDesc over 13 characters, a TransactionType with stray spaces. Nobody has reported the
   * real Daraja refusing these, and popular clients send them, so the default lets them through.
   */
  strict: boolean;
}

/**
 * How far from Nairobi time a Timestamp may be before the simulator warns (or, strict, refuses). Safaricom publishes
 * no window; "Invalid Timestamp" reports are mostly UTC clocks, three hours behind, yet Safaricom's own Node library
 * sends UTC and is used in production, so nothing certain is known.
 */
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

const UTC_OFFSET_MS = 3 * 60 * 60 * 1000;

/** A well-formed Timestamp, and a warning when it is not within five minutes of Nairobi time. */
function timestamp(value: unknown, now: Date): { value: string; warning?: string } | undefined {
  const s = digits(value, /^\d{14}$/);
  const at = s === undefined ? undefined : parseDarajaTimestamp(s);
  if (s === undefined || at === undefined) return undefined;
  const off = at.getTime() - now.getTime();
  if (Math.abs(off) <= TIMESTAMP_SKEW_MS) return { value: s };
  const utc = Math.abs(off + UTC_OFFSET_MS) <= TIMESTAMP_SKEW_MS;
  const minutes = Math.round(Math.abs(off) / 60_000);
  return {
    value: s,
    warning: `${MAY_REFUSE} Timestamp ${s} is ${minutes} minutes ${off < 0 ? 'behind' : 'ahead of'} Nairobi time (UTC+3)${utc ? '; it looks like UTC' : ''}.`,
  };
}

function fieldsOf(body: unknown): Fields {
  return typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Fields) : {};
}

interface Signed {
  businessShortCode: string;
  password: string;
  timestamp: string;
  warnings: string[];
}

/** The three fields push and query both lead with: BusinessShortCode, Password and Timestamp, well formed. */
function checkSigned(f: Fields, ctx: CheckContext): Checked<Signed> {
  const businessShortCode = shortcode(f.BusinessShortCode);
  if (businessShortCode === undefined) return { ok: false, error: invalidField('BusinessShortCode') };
  const password = f.Password;
  if (typeof password !== 'string' || password === '') return { ok: false, error: invalidField('Password') };
  const ts = timestamp(f.Timestamp, ctx.now);
  if (ts === undefined || (ts.warning && ctx.strict)) return { ok: false, error: invalidField('Timestamp') };
  return { ok: true, value: { businessShortCode, password, timestamp: ts.value, warnings: ts.warning ? [ts.warning] : [] } };
}

/** One of Daraja's two TransactionTypes; stray spaces around it are let through with a warning unless strict. */
function transactionType(value: unknown, ctx: CheckContext, warnings: string[]): TransactionType | undefined {
  const exact = TRANSACTION_TYPES.find((t) => t === value);
  if (exact !== undefined || ctx.strict || typeof value !== 'string') return exact;
  const trimmed = TRANSACTION_TYPES.find((t) => t === value.trim());
  if (trimmed !== undefined) warnings.push(`${MAY_REFUSE} TransactionType ${JSON.stringify(value)} has stray spaces.`);
  return trimmed;
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
  const { businessShortCode, timestamp: ts, warnings } = signed.value;
  const type = transactionType(f.TransactionType, ctx, warnings);
  if (type === undefined) return fail('TransactionType');
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
  // TransactionDesc is the one optional field. Clients send longer ones (Safaricom's own Node library: 20 characters).
  const transactionDesc = f.TransactionDesc === undefined ? '' : text(f.TransactionDesc);
  if (transactionDesc === undefined) return fail('TransactionDesc');
  if (transactionDesc.length > MAX_TRANSACTION_DESC) {
    if (ctx.strict) return fail('TransactionDesc');
    warnings.push(`${MAY_REFUSE} TransactionDesc is ${transactionDesc.length} characters; Daraja documents at most ${MAX_TRANSACTION_DESC}.`);
  }

  const failure = checkCredentials(signed.value, ctx);
  if (failure) return { ok: false, error: failure };
  return {
    ok: true,
    value: {
      businessShortCode, timestamp: ts, transactionType: type, amount: amt, partyA, partyB, phoneNumber,
      callbackUrl: url, accountReference, transactionDesc, warnings,
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
  return { ok: true, value: { businessShortCode: signed.value.businessShortCode, checkoutRequestId, warnings: signed.value.warnings } };
}
