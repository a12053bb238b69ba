import { randomInt } from 'node:crypto';
import { deliverCallback, type CallbackRetry } from './callback-sender.js';
import type { SimulatorLogger } from './daraja-protocol.js';
import type { SimulatorPrompt } from './simulator.state.js';
import { wireResultCode } from './test-numbers.js';

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** Ten upper-case letters and digits, starting with a letter like real receipts (TEE2QR5JMI). */
export function receiptNumber(): string {
  let s = ALPHANUMERIC.charAt(randomInt(26));
  while (s.length < 10) s += ALPHANUMERIC.charAt(randomInt(ALPHANUMERIC.length));
  return s;
}

/** The body Safaricom POSTs to the CallBackURL, in Daraja's exact shape. */
export function callbackBody(p: SimulatorPrompt): Record<string, unknown> {
  const stkCallback: Record<string, unknown> = {
    MerchantRequestID: p.merchantRequestId,
    CheckoutRequestID: p.checkoutRequestId,
    ResultCode: p.resultCode === undefined ? undefined : wireResultCode(p.resultCode),
    ResultDesc: p.resultDesc,
  };
  if (p.resultCode === '0') {
    stkCallback.CallbackMetadata = {
      Item: [
        { Name: 'Amount', Value: p.amount },
        { Name: 'MpesaReceiptNumber', Value: p.mpesaReceiptNumber },
        { Name: 'Balance' },
        { Name: 'TransactionDate', Value: p.transactionDate },
        { Name: 'PhoneNumber', Value: Number(p.phoneNumber) },
      ],
    };
  }
  return { Body: { stkCallback } };
}

/** The callback URL's path carries the app's secret token: logs get the origin only. */
export function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid url)';
  }
}

export interface CallbackDeps {
  retry: CallbackRetry;
  signal: AbortSignal;
  logger: SimulatorLogger;
  /** Called after each change to the prompt's callback state (the phone page and the journal follow it). */
  changed: (prompt: SimulatorPrompt) => void;
}

/**
 * Delivers the callback until `planned` deliveries are done (twice for 254700000006), each with its own retries. A
 * prompt restored after a restart goes on from the deliveries it had made.
 */
export async function sendCallbacks(prompt: SimulatorPrompt, deps: CallbackDeps): Promise<void> {
  const body = callbackBody(prompt);
  const { callback } = prompt;
  const log = { checkoutRequestId: prompt.checkoutRequestId, receiver: originOf(prompt.callbackUrl) };
  callback.state = 'sending';
  deps.changed(prompt);
  while (callback.delivered < callback.planned) {
    const result = await deliverCallback(prompt.callbackUrl, body, deps.retry, deps.signal, () => {
      callback.attempts++;
      deps.changed(prompt);
    });
    if (!result.delivered) {
      // Closing mid-delivery is not a failure: a restart goes on where this left off.
      if (deps.signal.aborted) return;
      callback.state = 'failed';
      callback.lastError = result.lastError;
      deps.changed(prompt);
      deps.logger.warn({ ...log, attempts: result.attempts, error: result.lastError }, 'simulator: callback not delivered');
      return;
    }
    callback.delivered++;
    deps.changed(prompt);
  }
  callback.state = 'delivered';
  deps.changed(prompt);
  deps.logger.info({ ...log, deliveries: callback.delivered, attempts: callback.attempts }, 'simulator: callback delivered');
}
