/** Where the app sends its Daraja calls: the built-in simulator, Safaricom's sandbox or production. */
export type DarajaEnv = 'simulator' | 'sandbox' | 'production';

/** Daraja hosts: the same paths exist on both. */
export const SANDBOX_BASE_URL = 'https://sandbox.safaricom.co.ke';
export const PRODUCTION_BASE_URL = 'https://api.safaricom.co.ke';

/** Safaricom's public sandbox Lipa na M-Pesa shortcode and passkey (published in the Daraja simulator pages). */
export const SANDBOX_SHORTCODE = '174379';
export const SANDBOX_PASSKEY = 'bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919';

/**
 * Words Safaricom's URL rules tell integrators to keep out of callback URLs (any case). A CallBackURL containing one is
 * refused or silently never called; developers have lost days to it.
 */
export const FORBIDDEN_URL_WORDS = ['mpesa', 'm-pesa', 'safaricom', 'exe', 'exec', 'cmd', 'sql', 'query'];

export const PATHS = {
  token: '/oauth/v1/generate',
  stkPush: '/mpesa/stkpush/v1/processrequest',
  stkQuery: '/mpesa/stkpushquery/v1/query',
  reversal: '/mpesa/reversal/v1/request',
  transactionStatus: '/mpesa/transactionstatus/v1/query',
} as const;

/** Daraja's per-transaction limits for M-Pesa Express (whole shillings). */
export const MIN_AMOUNT = 1;
export const MAX_AMOUNT = 250_000;
export const MAX_ACCOUNT_REFERENCE = 12;
export const MAX_TRANSACTION_DESC = 13;

/** The forbidden words found in a URL (case-insensitive), in list order; empty when the URL is clean. */
export function forbiddenWordsIn(url: string): string[] {
  const lower = url.toLowerCase();
  return FORBIDDEN_URL_WORDS.filter((w) => lower.includes(w));
}
