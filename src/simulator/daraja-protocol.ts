// What the simulator knows of Daraja's protocol and of the app around it, kept in this folder so that src/simulator
// imports nothing outside itself and another app can run it alone. The Daraja client (src/daraja) states the same
// paths, limits and Nairobi clock for its side; they are a few lines, and each side is checked against the other by
// the tests that run the client against the simulator.

/** The paths of the calls, relative to Daraja's host. */
export const PATHS = {
  token: '/oauth/v1/generate',
  stkPush: '/mpesa/stkpush/v1/processrequest',
  stkQuery: '/mpesa/stkpushquery/v1/query',
  reversal: '/mpesa/reversal/v1/request',
  transactionStatus: '/mpesa/transactionstatus/v1/query',
} as const;

/** Safaricom's public sandbox Lipa na M-Pesa passkey (shortcode 174379), the simulator's default. */
export const SANDBOX_PASSKEY = 'bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919';

/** Daraja's per-transaction limits for M-Pesa Express (whole shillings) and its field lengths. */
export const MIN_AMOUNT = 1;
export const MAX_AMOUNT = 250_000;
export const MAX_ACCOUNT_REFERENCE = 12;
export const MAX_TRANSACTION_DESC = 13;

/** An expected failure as a value, the shape of the app's src/core/result.ts. */
export type Result<T, E> = { ok: true; value: T } | { ok: false; error: E };

/** pino's shape (the fields first, then the message), so the app's logger fits as it is. */
export interface SimulatorLogger {
  debug(fields: Record<string, unknown>, message?: string): void;
  info(fields: Record<string, unknown>, message?: string): void;
  warn(fields: Record<string, unknown>, message?: string): void;
  error(fields: Record<string, unknown>, message?: string): void;
}

const nothing = () => {};
export const silentLogger: SimulatorLogger = { debug: nothing, info: nothing, warn: nothing, error: nothing };

// Nairobi is UTC+3 all year (no daylight saving), so a fixed offset is exact.
const NAIROBI_OFFSET_MS = 3 * 60 * 60 * 1000;
const pad = (n: number) => String(n).padStart(2, '0');

/** YYYYMMDDHHmmss on the Nairobi wall clock, as Daraja's Timestamp and TransactionDate are. */
export function darajaTimestamp(at: Date): string {
  const n = new Date(at.getTime() + NAIROBI_OFFSET_MS);
  return (
    `${n.getUTCFullYear()}${pad(n.getUTCMonth() + 1)}${pad(n.getUTCDate())}` +
    `${pad(n.getUTCHours())}${pad(n.getUTCMinutes())}${pad(n.getUTCSeconds())}`
  );
}

/** Reads YYYYMMDDHHmmss as Nairobi time; undefined when it is not a real date. */
export function parseDarajaTimestamp(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(value);
  if (!m) return undefined;
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const utc = Date.UTC(y, mo - 1, d, h, mi, se) - NAIROBI_OFFSET_MS;
  return darajaTimestamp(new Date(utc)) === m[0] ? new Date(utc) : undefined;
}

/** '254708374149' → '2547•••••149', for log lines. */
export function maskPhone(phone: string): string {
  return phone.length < 8 ? '•'.repeat(phone.length) : `${phone.slice(0, 4)}${'•'.repeat(phone.length - 7)}${phone.slice(-3)}`;
}
