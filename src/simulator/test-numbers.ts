/**
 * The ResultCodes the simulator produces, with Daraja's ResultDesc for each (as integrators report them; the wording of
 * the rarer ones varies). Codes are strings because one of them is not a number (SFC_IC0003).
 */
export const RESULT_DESC = {
  '0': 'The service request is processed successfully.',
  '1': 'The balance is insufficient for the transaction.',
  '17': 'Rule limited.',
  '1001': 'Unable to lock subscriber, a transaction is already in process for the current subscriber',
  '1019': 'Transaction has expired',
  '1025': 'An error occurred while sending a push request',
  '1032': 'Request cancelled by user',
  '1037': 'DS timeout user cannot be reached',
  '2001': 'The initiator information is invalid.',
  '2028': 'The request is not permitted according to product assignment',
  SFC_IC0003: 'Operator does not exist',
} as const;

export type ResultCode = keyof typeof RESULT_DESC;

export const isResultCode = (code: unknown): code is ResultCode => typeof code === 'string' && Object.hasOwn(RESULT_DESC, code);

/** Daraja's callback carries numeric codes as JSON numbers, and SFC_IC0003 as the string it is. */
export function wireResultCode(code: ResultCode): number | string {
  return /^\d+$/.test(code) ? Number(code) : code;
}

/** What a phone number does by itself, like a card network's test cards (docs/simulator.md lists them). */
export interface Scenario {
  /** The outcome after `delayMs`; unused when the push is refused. */
  result: ResultCode;
  /** How many times the final callback is delivered: 0 (only STK Query knows), 1, or 2 (a duplicate). */
  callbacks: 0 | 1 | 2;
  /** The push is refused at once with this failure (see FAILURES). */
  refuse?: 'subscriberLocked' | 'spikeArrest';
  /** The push answer is held past the client's timeout, while the prompt goes ahead. */
  hold?: true;
  /** Every STK Query about the prompt is refused with this failure. */
  refuseQueries?: 'spikeArrest';
  /** One line for the phone page's list of test numbers. */
  note: string;
}

export const SANDBOX_TEST_NUMBER = '254708374149';

// 254700000011 to …13 pay like any other number: their meaning is for refunds (REVERSAL_TEST_NUMBERS below).
export const TEST_NUMBERS: ReadonlyMap<string, Scenario> = new Map<string, Scenario>([
  [SANDBOX_TEST_NUMBER, { result: '0', callbacks: 1, note: 'pays' }],
  ['254700000001', { result: '1032', callbacks: 1, note: 'cancelled by user (1032)' }],
  ['254700000002', { result: '1', callbacks: 1, note: 'insufficient balance (1)' }],
  ['254700000003', { result: '2001', callbacks: 1, note: 'wrong PIN (2001)' }],
  ['254700000004', { result: '1037', callbacks: 1, note: 'cannot be reached (1037)' }],
  ['254700000005', { result: '0', callbacks: 0, note: 'pays, no callback ever; STK Query says paid' }],
  ['254700000006', { result: '0', callbacks: 2, note: 'pays, the callback is delivered twice' }],
  ['254700000007', { result: '0', callbacks: 0, refuse: 'subscriberLocked', note: 'push refused: a transaction is already in process' }],
  ['254700000008', { result: '0', callbacks: 1, hold: true, note: 'push never answered, yet paid with a callback' }],
  ['254700000009', { result: '1019', callbacks: 1, note: 'the prompt expired (1019)' }],
  ['254700000010', { result: '1001', callbacks: 1, note: 'subscriber busy, in the callback (1001)' }],
  ['254700000014', { result: '1025', callbacks: 1, note: 'the prompt could not be sent (1025)' }],
  ['254700000015', { result: '17', callbacks: 1, note: 'same amount within two minutes (17)' }],
  ['254700000016', { result: '2028', callbacks: 1, note: 'not permitted by product assignment (2028)' }],
  ['254700000017', { result: 'SFC_IC0003', callbacks: 1, note: 'operator does not exist ("SFC_IC0003", a string)' }],
  ['254700000018', { result: '0', callbacks: 0, refuse: 'spikeArrest', note: 'push refused: spike arrest (500.003.02)' }],
  ['254700000019', { result: '0', callbacks: 1, refuseQueries: 'spikeArrest', note: 'pays with a callback; every STK Query: spike arrest' }],
]);

/**
 * What a reversal does by the original payer's number (the payment itself is an ordinary one). Any other number's
 * payment, 254708374149's included, is reversed and its result posted.
 */
export const REVERSAL_TEST_NUMBERS: ReadonlyMap<string, { note: string; outcome: 'refuse' | 'fail' | 'silent' }> = new Map([
  ['254700000011', { note: 'reversal refused at once (HTTP 500)', outcome: 'refuse' }],
  ['254700000012', { note: 'reversal result non-zero with a reason', outcome: 'fail' }],
  ['254700000013', { note: 'reversal made, no result ever posted; Transaction Status says reversed', outcome: 'silent' }],
] as const);
