/**
 * Whether Daraja may have acted on the request. 'refused': it certainly did not (it answered with its error envelope,
 * the request failed local checks, or nothing reached it). 'unknown': it may have (a timeout after sending, a reset
 * socket, a 5xx or 2xx we cannot read). For an STK push 'unknown' means the prompt may still reach the phone, so the
 * ticket must stay Pending until a callback or a query settles it.
 */
export type DarajaOutcome = 'refused' | 'unknown';
export type DarajaOperation = 'token' | 'stkpush' | 'stkquery' | 'reversal' | 'transactionstatus';
export type DarajaNetworkKind = 'timeout' | 'refused' | 'dns' | 'reset' | 'other';

export interface DarajaErrorDetails {
  outcome: DarajaOutcome;
  customerMessage: string;
  operation?: DarajaOperation;
  httpStatus?: number;
  errorCode?: string;
  errorMessage?: string;
  requestId?: string;
  rawBody?: unknown;
}

export const CUSTOMER_MESSAGES = {
  merchantProblem: 'We could not start the M-Pesa payment because of a problem on our side. Please try again later.',
  subscriberBusy: 'Another M-Pesa request is in progress on your phone. Wait a minute and try again.',
  pushNotStarted: 'M-Pesa could not start the payment. Please try again.',
  darajaBusy: 'M-Pesa is busy right now. Please try again in a few minutes.',
  unreachable: 'We could not reach M-Pesa. Please try again in a few minutes.',
  unknown:
    'M-Pesa did not answer in time. If a payment prompt reaches your phone you can still complete it; this page will update.',
  phoneRefused: 'M-Pesa did not accept this phone number. Check that it is a Safaricom M-Pesa number.',
  amountRefused: 'M-Pesa did not accept this amount. It must be a whole number of shillings from 1 to 250,000.',
} as const;

/**
 * Base of every Daraja failure. `message` is for logs (codes, status, request id; never a secret); `customerMessage`
 * is fit to show a customer; `code` is stable UPPER_SNAKE for logs and tests.
 *
 * A plain Error, not the app's AppError, so that this folder imports nothing outside itself. Nothing lets one reach
 * the app's error handler (the push service, the reconciler and daraja:check catch every one); one that did would be
 * answered as an internal error, never with its log message.
 */
export class DarajaError extends Error {
  readonly code: string;
  readonly outcome: DarajaOutcome;
  readonly customerMessage: string;
  readonly operation?: DarajaOperation;
  readonly httpStatus?: number;
  readonly errorCode?: string;
  readonly errorMessage?: string;
  readonly requestId?: string;
  readonly rawBody?: unknown;

  constructor(code: string, logMessage: string, details: DarajaErrorDetails) {
    super(logMessage);
    this.name = new.target.name;
    this.code = code;
    this.outcome = details.outcome;
    this.customerMessage = details.customerMessage;
    if (details.operation !== undefined) this.operation = details.operation;
    if (details.httpStatus !== undefined) this.httpStatus = details.httpStatus;
    if (details.errorCode !== undefined) this.errorCode = details.errorCode;
    if (details.errorMessage !== undefined) this.errorMessage = details.errorMessage;
    if (details.requestId !== undefined) this.requestId = details.requestId;
    if (details.rawBody !== undefined) this.rawBody = details.rawBody;
  }
}

type Details = Omit<DarajaErrorDetails, 'outcome' | 'customerMessage'> & Partial<Pick<DarajaErrorDetails, 'customerMessage'>>;

/**
 * The consumer key or secret was refused (400.008.01/02, 401), or Daraja refused a freshly fetched access token too
 * (in any of the forms in answers.ts).
 */
export class DarajaAuthError extends DarajaError {
  constructor(logMessage: string, details: Details = {}) {
    super('DARAJA_AUTH_FAILED', logMessage, {
      customerMessage: CUSTOMER_MESSAGES.merchantProblem, ...details, outcome: 'refused',
    });
  }
}

/** A field Daraja would refuse (400.002.02 "Bad Request - Invalid X"), or that we refused before sending. */
export class DarajaInvalidRequestError extends DarajaError {
  /** The Daraja field at fault when known: 'PhoneNumber', 'Amount', 'CallBackURL'… */
  readonly field?: string;
  constructor(logMessage: string, details: Details & { field?: string } = {}) {
    const { field, ...rest } = details;
    super('DARAJA_INVALID_REQUEST', logMessage, {
      customerMessage: CUSTOMER_MESSAGES.merchantProblem, ...rest, outcome: 'refused',
    });
    if (field !== undefined) this.field = field;
  }
}

/**
 * 500.001.1001 on a push whose message says a transaction is already in process for the subscriber: another STK
 * request is being handled on this phone. The same code with other messages is not this (see answers.ts).
 */
export class DarajaSubscriberBusyError extends DarajaError {
  constructor(logMessage: string, details: Details = {}) {
    super('DARAJA_SUBSCRIBER_BUSY', logMessage, {
      customerMessage: CUSTOMER_MESSAGES.subscriberBusy, ...details, outcome: 'refused',
    });
  }
}

/** Daraja is overloaded or failing: 500.003.02 spike arrest, 500.003.03 quota, 500.003.1001 internal error. */
export class DarajaBusyError extends DarajaError {
  constructor(logMessage: string, details: Details = {}) {
    super('DARAJA_BUSY', logMessage, {
      customerMessage: CUSTOMER_MESSAGES.darajaBusy, ...details, outcome: 'refused',
    });
  }
}

/** No usable HTTP answer: timeout, refused connection, DNS failure, reset socket. */
export class DarajaNetworkError extends DarajaError {
  readonly kind: DarajaNetworkKind;
  constructor(logMessage: string, details: Details & { kind: DarajaNetworkKind; outcome: DarajaOutcome }) {
    const { kind, outcome, ...rest } = details;
    super('DARAJA_NETWORK', logMessage, {
      customerMessage: outcome === 'refused' ? CUSTOMER_MESSAGES.unreachable : CUSTOMER_MESSAGES.unknown,
      ...rest,
      outcome,
    });
    this.kind = kind;
  }
}

/** An answer we cannot read as Daraja's: not JSON, an HTML page, a 5xx without the error envelope, missing fields. */
export class DarajaUnexpectedResponseError extends DarajaError {
  constructor(logMessage: string, details: Details & { outcome: DarajaOutcome }) {
    const { outcome, ...rest } = details;
    super('DARAJA_UNEXPECTED_RESPONSE', logMessage, {
      customerMessage: outcome === 'refused' ? CUSTOMER_MESSAGES.merchantProblem : CUSTOMER_MESSAGES.unknown,
      ...rest,
      outcome,
    });
  }
}
