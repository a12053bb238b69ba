/** The ResultCodes the simulator produces, with Daraja's own ResultDesc wording for each. */
export const RESULT_DESC = {
  0: 'The service request is processed successfully.',
  1: 'The balance is insufficient for the transaction.',
  1032: 'Request cancelled by user',
  1037: 'DS timeout user cannot be reached',
  2001: 'The initiator information is invalid.',
} as const;

export type ResultCode = keyof typeof RESULT_DESC;

/** What a phone number does by itself, like a card network's test cards (docs list them). */
export interface Scenario {
  /** The outcome after `delayMs`; unused when `refuse` is set. */
  result: ResultCode;
  /** How many times the final callback is delivered: 0 (only STK Query knows), 1, or 2 (a duplicate). */
  callbacks: 0 | 1 | 2;
  /** The push is refused at once with "Unable to lock subscriber". */
  refuse?: true;
  /** The push answer is held past the client's timeout, while the prompt goes ahead. */
  hold?: true;
  /** One line for the phone page's list of test numbers. */
  note: string;
}

export const SANDBOX_TEST_NUMBER = '254708374149';

export const TEST_NUMBERS: ReadonlyMap<string, Scenario> = new Map<string, Scenario>([
  [SANDBOX_TEST_NUMBER, { result: 0, callbacks: 1, note: 'pays' }],
  ['254700000001', { result: 1032, callbacks: 1, note: 'cancelled by user (1032)' }],
  ['254700000002', { result: 1, callbacks: 1, note: 'insufficient balance (1)' }],
  ['254700000003', { result: 2001, callbacks: 1, note: 'wrong PIN (2001)' }],
  ['254700000004', { result: 1037, callbacks: 1, note: 'cannot be reached (1037)' }],
  ['254700000005', { result: 0, callbacks: 0, note: 'pays, no callback ever; STK Query says paid' }],
  ['254700000006', { result: 0, callbacks: 2, note: 'pays, the callback is delivered twice' }],
  ['254700000007', { result: 0, callbacks: 0, refuse: true, note: 'push refused: a transaction is already in process' }],
  ['254700000008', { result: 0, callbacks: 1, hold: true, note: 'push never answered, yet paid with a callback' }],
]);
