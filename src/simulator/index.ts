// The simulator's entry point, for Tikiti and for any other Node app: nothing here imports outside src/simulator (a
// test holds it to that). The router renders views/simulator/ and serves public/simulator/, which go with it.
import type { Router } from 'express';
import { SANDBOX_PASSKEY, silentLogger, type SimulatorLogger } from './daraja-protocol.js';
import { SimulatorService } from './simulator.service.js';
import { createSimulatorRouter } from './simulator.routes.js';
import { SIMULATOR_INITIATOR } from './credential.js';
import { ReversalDesk } from './reversal-desk.js';
import { SmsInbox, smsRoutes } from './sms-inbox.js';
import type { SimulatorPrompt } from './simulator.state.js';
import type { PhoneMessage } from './sms-inbox.js';

export type { SimulatorPrompt } from './simulator.state.js';
export type { PhoneMessage } from './sms-inbox.js';
export { CORRECT_PIN } from './simulator.service.js';
export { TEST_NUMBERS, RESULT_DESC, type ResultCode } from './test-numbers.js';
export { MAY_REFUSE } from './daraja-answers.js';
export { SIMULATOR_INITIATOR, SIMULATOR_CERTIFICATE_PATH, decryptCredential } from './credential.js';
export { REVERSAL_TEST_NUMBERS, type SimulatorReversal } from './reversal-desk.js';

export { SANDBOX_PASSKEY, type SimulatorLogger };

export interface SimulatorOptions {
  /** Checks every Password; the public sandbox passkey by default. */
  passkey?: string;
  /** Accepted BusinessShortCodes ("Merchant does not exist" otherwise); any 5–7 digits by default. */
  shortcodes?: string[];
  /** When either is set the token endpoint checks the Basic credentials; otherwise any pair is accepted (none is not). */
  consumerKey?: string;
  consumerSecret?: string;
  /** Each token request invalidates the previous token for the same credentials, as Daraja's FAQ says. Default true. */
  invalidatePreviousTokens?: boolean;
  /** manual: prompts wait on the phone page; auto: they pay after `delayMs`. */
  mode: 'manual' | 'auto';
  /** Time before the customer acts, in auto mode and for the test numbers. */
  delayMs: number;
  /** How long a prompt nobody answers waits before it times out with ResultCode 1037. Default 60. */
  promptSeconds?: number;
  /**
   * Refuse, as the real Daraja may, what is otherwise let through with a warning: a Timestamp that is not Nairobi
   * time, a TransactionDesc over 13 characters, a TransactionType with stray spaces. Default false.
   */
  strict?: boolean;
  /**
   * The only origins (scheme://host:port) a CallBackURL may have; a push naming another is refused as an invalid
   * CallBackURL. The simulator mounted in an app gives its own address, so nobody can make it post elsewhere.
   * Default: any URL.
   */
  callbackOrigins?: string[];
  /**
   * A file where prompts and tokens are kept, so that a restart strands nothing: prompts come back with their timers,
   * and callbacks not yet delivered are sent to their CallBackURL. Default: memory only.
   */
  statePath?: string;
  /** Delay before answering every Daraja call (token, push, query), for benchmarks. Default 0. */
  responseDelayMs?: number;
  /** The name on the prompt; 'TIKITI' by default. */
  merchantName?: string;
  /** Bound on prompts (and tokens) in memory, default 10000; the oldest finished go first. */
  maxEntries?: number;
  /** Callback delivery: tries in all and the first backoff, doubled each time. Default 4 tries from 500 ms. */
  callbackRetry?: { attempts: number; baseDelayMs: number };
  /** How long the 254700000008 push is held unanswered, default 60000, or until the client disconnects. */
  holdMs?: number;
  /** The initiator Reversal and Transaction Status must name, and its password (inside the SecurityCredential). */
  initiator?: { name: string; password: string };
  /** pino, or anything with its shape. */
  logger?: SimulatorLogger;
  now?: () => Date;
}

export interface Simulator {
  /** Mount at /simulator. Parses its own bodies, renders its own views, serves its own assets. */
  router: Router;
  /** Stops timers and callbacks in flight, and sends any held answer. */
  close(): Promise<void>;
  /** Every prompt in memory, for tests. */
  prompts(): SimulatorPrompt[];
  /** Every reversal made, newest first. */
  reversals(): import('./reversal-desk.js').SimulatorReversal[];
  /** Reversal requests of a receipt the simulator took (a second one would show a client sending twice). */
  reversalRequests(receipt: string): number;
  /** Refuse every `every`-th reversal or status request with Daraja's spike arrest (0: never). */
  setSpikeArrest(every: number): void;
  /** The SMS each simulated phone received (M-Pesa's confirmations and what apps sent), for tests. */
  messages(phone: string): PhoneMessage[];
}

export function createSimulator(opts: SimulatorOptions): Simulator {
  const nonNegative = (name: string, value: number) => {
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`simulator: ${name} must be a number ≥ 0, got ${value}`);
    return value;
  };
  const maxEntries = opts.maxEntries ?? 10_000;
  if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError('simulator: maxEntries must be an integer ≥ 1');
  const callbackRetry = opts.callbackRetry ?? { attempts: 4, baseDelayMs: 500 };
  if (!Number.isInteger(callbackRetry.attempts) || callbackRetry.attempts < 1) {
    throw new RangeError('simulator: callbackRetry.attempts must be an integer ≥ 1');
  }
  const now = opts.now ?? (() => new Date());
  const merchantName = opts.merchantName ?? 'TIKITI';
  const inbox = new SmsInbox(now);
  const service = new SimulatorService({
    passkey: opts.passkey ?? SANDBOX_PASSKEY,
    shortcodes: opts.shortcodes,
    consumerKey: opts.consumerKey,
    consumerSecret: opts.consumerSecret,
    invalidatePreviousTokens: opts.invalidatePreviousTokens ?? true,
    mode: opts.mode,
    delayMs: nonNegative('delayMs', opts.delayMs),
    promptSeconds: nonNegative('promptSeconds', opts.promptSeconds ?? 60),
    strict: opts.strict ?? false,
    ...(opts.callbackOrigins ? { callbackOrigins: opts.callbackOrigins.map((o) => new URL(o).origin) } : {}),
    ...(opts.statePath ? { statePath: opts.statePath } : {}),
    responseDelayMs: nonNegative('responseDelayMs', opts.responseDelayMs ?? 0),
    merchantName,
    maxEntries,
    callbackRetry: { attempts: callbackRetry.attempts, baseDelayMs: nonNegative('callbackRetry.baseDelayMs', callbackRetry.baseDelayMs) },
    holdMs: nonNegative('holdMs', opts.holdMs ?? 60_000),
    logger: opts.logger ?? silentLogger,
    now,
    onPaid: (p) => inbox.mpesaConfirmation(p, merchantName),
  });
  const desk = new ReversalDesk({
    findPaid: (receipt) => service.snapshot().find((p) => p.mpesaReceiptNumber === receipt && p.resultCode === '0'),
    initiator: opts.initiator ?? SIMULATOR_INITIATOR,
    ...(opts.callbackOrigins ? { callbackOrigins: opts.callbackOrigins.map((o) => new URL(o).origin) } : {}),
    delayMs: nonNegative('delayMs', opts.delayMs),
    callbackRetry: service.settings.callbackRetry,
    logger: service.settings.logger,
    now: service.settings.now,
  });
  return {
    router: createSimulatorRouter(service, desk, { inbox, sms: smsRoutes(inbox, opts.logger ?? silentLogger) }),
    close: async () => { await desk.close(); await service.close(); },
    prompts: () => service.snapshot(),
    messages: (phone) => inbox.to(phone.startsWith('+') ? phone : `+${phone}`),
    reversals: () => desk.reversals(),
    reversalRequests: (receipt) => desk.requestsFor(receipt),
    setSpikeArrest: (every) => desk.setSpikeArrest(every),
  };
}
