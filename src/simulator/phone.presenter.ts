import type { SimulatorPrompt } from './simulator.state.js';
import type { ResultCode } from './test-numbers.js';

/** One prompt as the phone page shows it: every string ready, so the views hold no logic. */
export interface PromptView {
  id: string;
  phoneNumber: string;
  amount: number;
  /** "KES 45 to TIKITI" */
  summary: string;
  /** "Pay KES 45 to TIKITI?" */
  question: string;
  accountReference: string;
  receivedAt: string;
  /** Set when the prompt answers by itself: "Answers by itself after 1.5 s (test number)". */
  autoNote?: string;
  status: SimulatorPrompt['status'];
  resultCode?: ResultCode;
  outcome?: string;
  tone?: 'ok' | 'fail';
  mpesaReceiptNumber?: string;
  callback?: string;
  /** What the push carried that the real Daraja may refuse. */
  warnings: string[];
}

const OUTCOME: Record<ResultCode, string> = {
  '0': 'Paid',
  '1': 'Insufficient balance',
  '17': 'Same amount within two minutes',
  '1001': 'Subscriber busy',
  '1019': 'Expired',
  '1025': 'Prompt not sent',
  '1032': 'Cancelled',
  '1037': 'Timed out',
  '2001': 'Wrong PIN',
  '2028': 'Not permitted for this shortcode',
  SFC_IC0003: 'Operator does not exist',
};

const money = new Intl.NumberFormat('en-KE', { maximumFractionDigits: 0 });
const clock = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Africa/Nairobi', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
});

function callbackText(p: SimulatorPrompt): string | undefined {
  const { callback } = p;
  if (p.status === 'pending') return undefined;
  if (callback.planned === 0) return 'No callback is sent for this number';
  const tries = callback.attempts === 1 ? '1 attempt' : `${callback.attempts} attempts`;
  switch (callback.state) {
    case 'none':
    case 'sending':
      return `Sending callback (${tries} so far)`;
    case 'delivered':
      return `Callback delivered${callback.planned === 2 ? ' twice' : ''} (${tries})`;
    case 'failed':
      return `Callback not delivered after ${tries}: ${callback.lastError ?? 'unknown error'}`;
  }
}

export function presentPrompt(
  p: SimulatorPrompt,
  ctx: { merchantName: string; delayMs: number; promptSeconds: number; isTestNumber: boolean },
): PromptView {
  const seconds = ctx.delayMs / 1000;
  const summary = `KES ${money.format(p.amount)} to ${ctx.merchantName}`;
  return {
    id: p.checkoutRequestId,
    phoneNumber: p.phoneNumber,
    amount: p.amount,
    summary,
    question: `Pay ${summary}?`,
    accountReference: p.accountReference,
    receivedAt: clock.format(p.createdAt),
    autoNote: p.automatic
      ? `Answers by itself after ${seconds} s${ctx.isTestNumber ? ' (test number)' : ' (auto mode)'}`
      : `Times out by itself after ${ctx.promptSeconds} s if nobody answers`,
    status: p.status,
    resultCode: p.resultCode,
    outcome: p.resultCode === undefined ? undefined : OUTCOME[p.resultCode],
    tone: p.resultCode === undefined ? undefined : p.resultCode === '0' ? 'ok' : 'fail',
    mpesaReceiptNumber: p.mpesaReceiptNumber,
    callback: callbackText(p),
    warnings: p.warnings,
  };
}
