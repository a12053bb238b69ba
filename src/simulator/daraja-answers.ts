import { randomBytes } from 'node:crypto';
import type { Result } from './daraja-protocol.js';

/** A synchronous Daraja answer: the HTTP status and the JSON body, ready for `res.status().json()`. */
export interface DarajaAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** One failure of Daraja's error envelope, before a requestId is attached. */
export interface DarajaFailure {
  status: number;
  errorCode: string;
  errorMessage: string;
}

/** A request that passed Daraja's checks, or the failure Daraja would answer with. */
export type Checked<T> = Result<T, DarajaFailure>;

/** The start of every warning about something the simulator let through that Daraja might not. */
export const MAY_REFUSE = 'the real Daraja may refuse this:';

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

let sequence = 0;

/** Daraja's request ids look like `38c2-4f3b-9aa9-1a2ea6ec7e4d1070625`: dash-separated hex and a counter. */
export function darajaRequestId(): string {
  sequence = (sequence + 1) % 10_000_000;
  return `${hex(2)}-${hex(2)}-${hex(2)}-${hex(6)}${sequence}`;
}

/** Daraja's error envelope `{requestId, errorCode, errorMessage}` with its HTTP status. */
export function errorAnswer(failure: DarajaFailure): DarajaAnswer {
  return {
    status: failure.status,
    body: { requestId: darajaRequestId(), errorCode: failure.errorCode, errorMessage: failure.errorMessage },
  };
}

export const invalidField = (field: string): DarajaFailure => ({
  status: 400,
  errorCode: '400.002.02',
  errorMessage: `Bad Request - Invalid ${field}`,
});

/** The failures Daraja answers with, by the names this simulator uses for them. */
export const FAILURES = {
  invalidAuthentication: { status: 400, errorCode: '400.008.01', errorMessage: 'Invalid Authentication passed' },
  invalidGrantType: { status: 400, errorCode: '400.008.02', errorMessage: 'Invalid grant type passed' },
  invalidAccessToken: { status: 404, errorCode: '404.001.03', errorMessage: 'Invalid Access Token' },
  resourceNotFound: { status: 404, errorCode: '404.001.01', errorMessage: 'Resource not found' },
  methodNotAllowed: { status: 405, errorCode: '405.001', errorMessage: 'Method not allowed' },
  invalidPayload: { status: 400, errorCode: '400.002.02', errorMessage: 'Bad Request - Invalid JSON payload' },
  wrongCredentials: { status: 500, errorCode: '500.001.1001', errorMessage: 'Wrong credentials' },
  merchantDoesNotExist: { status: 500, errorCode: '500.001.1001', errorMessage: 'Merchant does not exist' },
  subscriberLocked: {
    status: 500,
    errorCode: '500.001.1001',
    errorMessage: 'Unable to lock subscriber, a transaction is already in process for the current subscriber',
  },
  stillProcessing: { status: 500, errorCode: '500.001.1001', errorMessage: 'The transaction is being processed' },
  internalError: { status: 500, errorCode: '500.003.1001', errorMessage: 'Internal Server Error' },
  spikeArrest: { status: 500, errorCode: '500.003.02', errorMessage: 'Spike Arrest Violation' },
} as const satisfies Record<string, DarajaFailure>;
