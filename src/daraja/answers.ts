import {
  CUSTOMER_MESSAGES, DarajaAuthError, DarajaBusyError, DarajaError, DarajaInvalidRequestError, DarajaSubscriberBusyError,
  DarajaUnexpectedResponseError, type DarajaOperation, type DarajaOutcome,
} from './errors.js';
import { isKnownResultCode } from './result-codes.js';
import type { StkPushAccepted, StkQueryResult } from './types.js';

/**
 * How Daraja's answers are read: which ones mean "the token was refused", "still processing", or one of the typed
 * errors. Daraja and the emulators people build against it say the same thing in several forms; each form is listed
 * in docs/daraja-client.md with the reason it is read the way it is.
 */

/** One HTTP exchange as the client saw it. */
export interface HttpAnswer {
  status: number;
  /** Parsed JSON, or undefined when the body was empty or not JSON. */
  json: unknown;
  text: string;
  durationMs: number;
}

interface Envelope { requestId?: string; errorCode: string; errorMessage?: string }

export const INVALID_TOKEN = '404.001.03';
const BUSY_CODES = new Set(['500.003.02', '500.003.03', '500.003.1001']);
const AUTH_CODES = new Set(['400.008.01', '400.008.02']);
/** 500.001.1001 carries several messages; these mean our shortcode/passkey are wrong. */
const MERCHANT_SETUP_MESSAGE = /merchant does not exist|wrong credentials|invalid credentials/i;
/** …and only this one means the customer's phone is busy with another request. */
const SUBSCRIBER_BUSY_MESSAGE = /unable to lock subscriber|transaction is already in process|in process for the (?:current )?subscriber/i;
/** "Still waiting for the customer", as Daraja words it on a query: "being processed", "still under processing". */
const PROCESSING_MESSAGE = /being processed|under processing/i;
/** Field reports (unconfirmed by Safaricom's pages) of a query answering ResultCode 4999 while still pending. */
const PROCESSING_RESULT_CODES = new Set(['4999']);
/** Words of a refused token in an error message or an Apigee fault (Daraja runs behind Apigee). */
const TOKEN_WORDS = /access[ _-]?token|invalid[ _-]?token|token[ _-]?(?:expired|invalid)|oauth|keymanagement/i;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined;

function envelopeOf(json: unknown): Envelope | undefined {
  if (!isRecord(json) || typeof json.errorCode !== 'string') return undefined;
  const env: Envelope = { errorCode: json.errorCode };
  const requestId = str(json.requestId);
  const errorMessage = str(json.errorMessage);
  if (requestId !== undefined) env.requestId = requestId;
  if (errorMessage !== undefined) env.errorMessage = errorMessage;
  return env;
}

/** An Apigee fault, `{"fault":{"faultstring":"…","detail":{"errorcode":"…"}}}`, as its two strings. */
function faultOf(json: unknown): string | undefined {
  if (!isRecord(json) || !isRecord(json.fault)) return undefined;
  const detail = isRecord(json.fault.detail) ? str(json.fault.detail.errorcode) : undefined;
  return `${str(json.fault.faultstring) ?? ''} ${detail ?? ''}`;
}

/**
 * Whether a push or query was refused because of its access token, in any form: Daraja's 404.001.03, an HTTP 401 or
 * 403 (an emulator that forgot its tokens on a restart answers 401 with no envelope), an envelope whose message is
 * about the token, or an Apigee fault about it. Each is a refusal, so nothing was charged and the call may be repeated
 * once with a new token.
 */
export function isTokenRefused(answer: HttpAnswer): boolean {
  if (answer.status === 401 || answer.status === 403) return true;
  const env = envelopeOf(answer.json);
  if (env?.errorCode === INVALID_TOKEN) return true;
  if (env && TOKEN_WORDS.test(env.errorMessage ?? '')) return true;
  const fault = faultOf(answer.json);
  return fault !== undefined && TOKEN_WORDS.test(fault);
}

/** What the body looked like, for a log line, without echoing it (it could be large, or a token). */
function describeBody(answer: HttpAnswer): string {
  const t = answer.text.trimStart();
  if (t === '') return 'an empty body';
  if (t.startsWith('<')) return 'an HTML page';
  if (answer.json === undefined) return 'a body that is not JSON';
  return 'JSON without the expected fields';
}

function truncate(text: string): string {
  return text.length > 2000 ? `${text.slice(0, 2000)}…` : text;
}

/** The token endpoint's body must never be kept whole: it holds the access token. */
function redactTokenBody(json: unknown, text: string): unknown {
  if (isRecord(json)) return { ...json, ...('access_token' in json ? { access_token: '[redacted]' } : {}) };
  return truncate(text);
}

/**
 * The answer with `secret` cut out wherever it appears: some gateways echo the refused token in their message
 * ("Invalid Access Token - <token>"), and these strings end up in logs.
 */
export function withoutSecret(answer: HttpAnswer, secret: string | undefined): HttpAnswer {
  if (!secret || !answer.text.includes(secret)) return answer;
  const text = answer.text.split(secret).join('[redacted]');
  let json: unknown;
  try { json = text.trim() === '' ? undefined : JSON.parse(text); } catch { json = undefined; }
  return { ...answer, text, json };
}

export function readPushAnswer(answer: HttpAnswer, timestamp: string): StkPushAccepted {
  const j = answer.json;
  if (answer.status >= 200 && answer.status < 300 && isRecord(j)) {
    const checkoutRequestId = str(j.CheckoutRequestID);
    const responseCode = str(j.ResponseCode) ?? '0';
    if (checkoutRequestId && responseCode === '0') {
      return {
        merchantRequestId: str(j.MerchantRequestID) ?? '',
        checkoutRequestId,
        responseCode,
        responseDescription: str(j.ResponseDescription) ?? '',
        customerMessage: str(j.CustomerMessage) ?? '',
        timestamp,
      };
    }
  }
  throw answerError('stkpush', answer);
}

/**
 * A query's answer. "Still processing" comes in three forms: Daraja's 500.001.1001 "The transaction is being
 * processed" (an error envelope, whatever the HTTP status), a 200 with ResultCode 4999, and a 200 whose ResultDesc
 * says it is being processed under a code Daraja's table does not know (an emulator's 9999). A 200 with a code the
 * table knows is final, whatever its ResultDesc says.
 */
export function readQueryAnswer(answer: HttpAnswer): StkQueryResult {
  const j = answer.json;
  const env = envelopeOf(j);
  if (env?.errorCode === '500.001.1001' && PROCESSING_MESSAGE.test(env.errorMessage ?? '')) return { state: 'processing' };
  if (answer.status >= 200 && answer.status < 300 && isRecord(j) && !env) {
    const resultCode = str(j.ResultCode)?.trim();
    const resultDesc = str(j.ResultDesc) ?? '';
    if (resultCode === '0') return { state: 'paid', resultCode: '0', resultDesc };
    if (resultCode !== undefined && PROCESSING_RESULT_CODES.has(resultCode)) return { state: 'processing' };
    if (resultCode && !isKnownResultCode(resultCode) && PROCESSING_MESSAGE.test(resultDesc)) return { state: 'processing' };
    if (resultCode) return { state: 'failed', resultCode, resultDesc };
  }
  throw answerError('stkquery', answer);
}

/** Maps an answer that is not the success we wanted to one typed error. */
export function answerError(operation: DarajaOperation, answer: HttpAnswer): DarajaError {
  const { status } = answer;
  const env = envelopeOf(answer.json);
  const rawBody = operation === 'token' ? redactTokenBody(answer.json, answer.text) : answer.json ?? truncate(answer.text);
  const where = `Daraja ${operation} answered HTTP ${status}`;

  if (operation !== 'token' && isTokenRefused(answer)) {
    // The client repeats a call once with a new token after any of these forms, so this one came with a fresh token.
    const d = { operation, httpStatus: status, rawBody, ...(env ? { errorCode: env.errorCode, errorMessage: env.errorMessage, requestId: env.requestId } : {}) };
    const said = env ? `${where} ${env.errorCode} "${env.errorMessage ?? ''}"` : `${where} with ${describeBody(answer)}`;
    return new DarajaAuthError(`${said}, refusing the access token even when fresh: is M-Pesa Express enabled on this Daraja app, and are the keys for this environment?`, d);
  }

  if (env) {
    const d = { operation, httpStatus: status, errorCode: env.errorCode, errorMessage: env.errorMessage, requestId: env.requestId, rawBody };
    const said = `${where} ${env.errorCode} "${env.errorMessage ?? ''}" (request ${env.requestId ?? '?'})`;
    const message = env.errorMessage ?? '';
    if (AUTH_CODES.has(env.errorCode) || (operation === 'token' && (status === 400 || status === 401 || status === 403))) {
      return new DarajaAuthError(`${said}: check the consumer key and secret, and that they belong to this environment`, d);
    }
    if (env.errorCode === '400.002.02') {
      const field = /invalid\s+(\w+)/i.exec(message)?.[1];
      const customerMessage = field === 'PhoneNumber' ? CUSTOMER_MESSAGES.phoneRefused
        : field === 'Amount' ? CUSTOMER_MESSAGES.amountRefused : CUSTOMER_MESSAGES.merchantProblem;
      return new DarajaInvalidRequestError(`${said}: Daraja refused a field`, { ...d, customerMessage, ...(field ? { field } : {}) });
    }
    if (env.errorCode === '500.001.1001' && MERCHANT_SETUP_MESSAGE.test(message)) {
      return new DarajaError('DARAJA_MERCHANT_SETUP', `${said}: the shortcode or passkey is wrong (every push fails until DARAJA_SHORTCODE and DARAJA_PASSKEY match; npm run daraja:check explains)`, {
        ...d, outcome: 'refused', customerMessage: CUSTOMER_MESSAGES.merchantProblem,
      });
    }
    if (env.errorCode === '500.001.1001' && operation === 'stkpush' && SUBSCRIBER_BUSY_MESSAGE.test(message)) {
      return new DarajaSubscriberBusyError(`${said}: another STK request is in progress on this phone`, d);
    }
    if (env.errorCode === '500.001.1001' && operation === 'stkpush') {
      // The same code also covers outages and reasons nobody has documented: the customer can only try again.
      return new DarajaError('DARAJA_PUSH_NOT_STARTED', `${said}: Daraja did not start the push`, {
        ...d, outcome: 'refused', customerMessage: CUSTOMER_MESSAGES.pushNotStarted,
      });
    }
    if (BUSY_CODES.has(env.errorCode)) return new DarajaBusyError(`${said}: Daraja is busy or failing`, d);
    return new DarajaError('DARAJA_REFUSED', said, { ...d, outcome: 'refused', customerMessage: CUSTOMER_MESSAGES.merchantProblem });
  }

  const d = { operation, httpStatus: status, rawBody };
  if (operation === 'token' && (status === 400 || status === 401 || status === 403)) {
    return new DarajaAuthError(`${where} with ${describeBody(answer)}: check the consumer key and secret, and that they belong to this environment`, d);
  }
  // A 3xx/4xx without Daraja's envelope (a gateway's page, a wrong base URL) was not acted on. A 5xx or a 2xx we
  // cannot read might have been: the push may have gone through. Token answers never move money.
  const outcome: DarajaOutcome = operation === 'token' || status < 200 || (status >= 300 && status < 500) ? 'refused' : 'unknown';
  return new DarajaUnexpectedResponseError(`${where} with ${describeBody(answer)}`, { ...d, outcome });
}
