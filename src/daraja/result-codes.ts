/**
 * Customer-facing sentences for the ResultCode of an STK callback or query. Codes come from Daraja's result-code
 * table and from what integrators report in the field; the wording is ours.
 */
const MERCHANT_SETUP =
  'We could not take M-Pesa payments because of a set-up problem on our side. Please try again later.';
const AMOUNT_LIMIT = 'M-Pesa did not allow this amount: it is outside your M-Pesa transaction or balance limits.';

const SENTENCES: Record<string, string> = {
  '0': 'The payment went through.',
  '1': 'Your M-Pesa balance was not enough.',
  '2': AMOUNT_LIMIT, // below the minimum transaction amount
  '3': AMOUNT_LIMIT, // above the maximum transaction amount
  '4': AMOUNT_LIMIT, // daily limit reached
  '8': AMOUNT_LIMIT, // account balance limit reached
  '17': 'M-Pesa blocked a repeat of the same payment within two minutes. Wait two minutes and try again.',
  '1001': 'Another M-Pesa request was in progress on your phone. Wait a minute and try again.', // unable to lock subscriber
  '1019': 'The payment request expired before it was completed.',
  '1025': 'M-Pesa could not send the payment prompt to your phone. Please try again.',
  '1032': 'You cancelled the payment on your phone.',
  '1037': 'Your phone could not be reached.',
  '2001': 'The PIN was wrong.',
  '2028': MERCHANT_SETUP, // not permitted by product assignment: TransactionType or PartyB wrong
  '8006': 'Your M-Pesa PIN is locked. Call Safaricom customer care to unlock it.',
  SFC_IC0003: MERCHANT_SETUP, // operator does not exist: TransactionType or PartyB wrong
};

/**
 * Whether Daraja's result-code table gives this code a meaning of its own: such a code is final whatever its ResultDesc
 * says (a query answering 1032 "…being processed" was still cancelled).
 */
export function isKnownResultCode(resultCode: string): boolean {
  return Object.hasOwn(SENTENCES, String(resultCode).trim());
}

export const GENERIC_FAILURE = 'M-Pesa did not complete the payment. Please try again.';

/** One sentence a customer can read, for a ResultCode (string, as normalised by the callback schema). */
export function describeResultCode(resultCode: string, resultDesc?: string): string {
  const code = String(resultCode).trim();
  const known = SENTENCES[code];
  if (known !== undefined) return known;
  return cleanResultDesc(resultDesc) ?? GENERIC_FAILURE;
}

/**
 * Daraja's ResultDesc tidied for people: drops internal prefixes such as "[STK_CB - ]", collapses whitespace, starts
 * with a capital and ends with a full stop. Undefined when nothing readable is left.
 */
function cleanResultDesc(desc: string | undefined): string | undefined {
  if (typeof desc !== 'string') return undefined;
  let s = desc.replace(/^\s*\[[^\]]*\]\s*/, '').replace(/\s+/g, ' ').trim();
  if (!/[A-Za-z]{2}/.test(s)) return undefined;
  if (s.length > 200) s = `${s.slice(0, 197).trimEnd()}…`;
  s = s.charAt(0).toUpperCase() + s.slice(1);
  return /[.!?…]$/.test(s) ? s : `${s}.`;
}
