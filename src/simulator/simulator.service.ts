import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../core/logger.js';
import { darajaTimestamp } from '../core/time.js';
import { maskPhone } from '../daraja/phone.js';
import { deliverCallback, type CallbackRetry } from './callback-sender.js';
import { FAILURES, darajaRequestId, errorAnswer, invalidField, type DarajaAnswer } from './daraja-answers.js';
import { checkStkPush, checkStkQuery, type CheckContext } from './daraja-requests.js';
import { IssuedTokens, PromptStore, TOKEN_LIFETIME_SECONDS, type SimulatorPrompt } from './simulator.state.js';
import { RESULT_DESC, TEST_NUMBERS, type ResultCode } from './test-numbers.js';

/** Every option resolved to a value; `createSimulator` fills the defaults. */
export interface SimulatorSettings {
  passkey: string;
  shortcodes?: readonly string[];
  consumerKey?: string;
  consumerSecret?: string;
  invalidatePreviousTokens: boolean;
  mode: 'manual' | 'auto';
  delayMs: number;
  responseDelayMs: number;
  merchantName: string;
  maxEntries: number;
  callbackRetry: CallbackRetry;
  holdMs: number;
  logger: Logger;
  now: () => Date;
}

export type PhoneAction = 'pin' | 'cancel' | 'timeout';

/** The PIN that pays on the simulated phone; any other PIN is ResultCode 2001. */
export const CORRECT_PIN = '1234';

const ACCEPTED = 'Success. Request accepted for processing';

type BasicAuth = { kind: 'none' } | { kind: 'other' } | { kind: 'garbled' } | { kind: 'basic'; user: string; pass: string };

function parseBasic(header: string | undefined): BasicAuth {
  if (header === undefined || header.trim() === '') return { kind: 'none' };
  const m = /^Basic\s+(\S+)$/i.exec(header.trim());
  if (!m?.[1]) return { kind: 'other' };
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return { kind: 'garbled' };
  return { kind: 'basic', user: decoded.slice(0, colon), pass: decoded.slice(colon + 1) };
}

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** Ten upper-case letters and digits, starting with a letter like real receipts (TEE2QR5JMI). */
function receiptNumber(): string {
  let s = ALPHANUMERIC.charAt(randomInt(26));
  while (s.length < 10) s += ALPHANUMERIC.charAt(randomInt(ALPHANUMERIC.length));
  return s;
}

/** The body Safaricom POSTs to the CallBackURL, in Daraja's exact shape. */
export function callbackBody(p: SimulatorPrompt): Record<string, unknown> {
  const stkCallback: Record<string, unknown> = {
    MerchantRequestID: p.merchantRequestId,
    CheckoutRequestID: p.checkoutRequestId,
    ResultCode: p.resultCode,
    ResultDesc: p.resultDesc,
  };
  if (p.resultCode === 0) {
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
function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid url)';
  }
}

/**
 * The simulator's rules: tokens, push and query checks, prompts and their outcomes, callback delivery, and every
 * timer, so that `close()` can stop them all.
 */
export class SimulatorService {
  private readonly store: PromptStore;
  private readonly tokens: IssuedTokens;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Cancels the timer that answers a prompt by itself. */
  private readonly promptTimers = new Map<string, () => void>();
  private readonly closeHooks = new Set<() => void>();
  private readonly deliveries = new Set<Promise<void>>();
  private readonly shutdown = new AbortController();
  private sequence = 0;

  constructor(readonly settings: SimulatorSettings) {
    this.store = new PromptStore(settings.maxEntries, (p) => this.cancelPromptTimer(p.checkoutRequestId));
    this.tokens = new IssuedTokens(settings.maxEntries, settings.invalidatePreviousTokens);
  }

  get closed(): boolean {
    return this.shutdown.signal.aborted;
  }

  /** GET /oauth/v1/generate: a token for valid Basic credentials and grant_type=client_credentials. */
  issueToken(authorization: string | undefined, grantType: unknown): DarajaAnswer {
    const auth = parseBasic(authorization);
    const { consumerKey, consumerSecret } = this.settings;
    const checkCredentials = consumerKey !== undefined || consumerSecret !== undefined;
    if (auth.kind === 'other') return errorAnswer(FAILURES.invalidAuthentication);
    if (checkCredentials && (auth.kind !== 'basic' || auth.user !== consumerKey || auth.pass !== consumerSecret)) {
      return errorAnswer(FAILURES.invalidAuthentication);
    }
    if (grantType !== 'client_credentials') return errorAnswer(FAILURES.invalidGrantType);
    const token = this.tokens.issue(auth.kind === 'basic' ? auth.user : '', this.settings.now());
    return { status: 200, body: { access_token: token, expires_in: String(TOKEN_LIFETIME_SECONDS) } };
  }

  /** Whether an Authorization header carries a live Bearer token. */
  hasValidToken(authorization: string | undefined): boolean {
    const m = /^Bearer\s+(\S+)$/i.exec(authorization?.trim() ?? '');
    return m?.[1] !== undefined && this.tokens.isValid(m[1], this.settings.now());
  }

  /**
   * POST /mpesa/stkpush/v1/processrequest. `hold` asks the route to keep the answer back (254700000008) while the
   * prompt goes ahead.
   */
  push(body: unknown): { answer: DarajaAnswer; hold: boolean } {
    const checked = checkStkPush(body, this.checkContext());
    if (!checked.ok) return { answer: errorAnswer(checked.error), hold: false };
    const req = checked.value;
    const scenario = TEST_NUMBERS.get(req.phoneNumber);
    if (scenario?.refuse) return { answer: errorAnswer(FAILURES.subscriberLocked), hold: false };

    const now = this.settings.now();
    const outcome: ResultCode | undefined = scenario?.result ?? (this.settings.mode === 'auto' ? 0 : undefined);
    const prompt: SimulatorPrompt = {
      checkoutRequestId: this.newCheckoutRequestId(now, req.phoneNumber),
      merchantRequestId: darajaRequestId(),
      phoneNumber: req.phoneNumber,
      amount: req.amount,
      businessShortCode: req.businessShortCode,
      partyB: req.partyB,
      transactionType: req.transactionType,
      accountReference: req.accountReference,
      transactionDesc: req.transactionDesc,
      callbackUrl: req.callbackUrl,
      createdAt: now,
      automatic: outcome !== undefined,
      status: 'pending',
      callback: { planned: scenario?.callbacks ?? 1, delivered: 0, attempts: 0, state: 'none' },
    };
    this.store.add(prompt);
    if (outcome !== undefined) {
      this.promptTimers.set(prompt.checkoutRequestId, this.later(this.settings.delayMs, () => this.finish(prompt, outcome)));
    }
    this.settings.logger.info(
      { checkoutRequestId: prompt.checkoutRequestId, phone: maskPhone(prompt.phoneNumber), amount: prompt.amount, automatic: prompt.automatic },
      'simulator: STK push accepted',
    );
    return {
      answer: {
        status: 200,
        body: {
          MerchantRequestID: prompt.merchantRequestId,
          CheckoutRequestID: prompt.checkoutRequestId,
          ResponseCode: '0',
          ResponseDescription: ACCEPTED,
          CustomerMessage: ACCEPTED,
        },
      },
      hold: scenario?.hold === true,
    };
  }

  /** POST /mpesa/stkpushquery/v1/query: "being processed" while pending, else the ResultCode as a string. */
  query(body: unknown): DarajaAnswer {
    const checked = checkStkQuery(body, this.checkContext());
    if (!checked.ok) return errorAnswer(checked.error);
    const prompt = this.store.get(checked.value.checkoutRequestId);
    if (!prompt) return errorAnswer(invalidField('CheckoutRequestID'));
    if (prompt.status === 'pending') return errorAnswer(FAILURES.stillProcessing);
    return {
      status: 200,
      body: {
        ResponseCode: '0',
        // Daraja's own spelling.
        ResponseDescription: 'The service request has been accepted successsfully',
        MerchantRequestID: prompt.merchantRequestId,
        CheckoutRequestID: prompt.checkoutRequestId,
        ResultCode: String(prompt.resultCode),
        ResultDesc: prompt.resultDesc,
      },
    };
  }

  /** The customer acts on the phone page; undefined when the prompt is unknown or no longer pending. */
  answer(checkoutRequestId: string, action: PhoneAction, pin?: string): SimulatorPrompt | undefined {
    const prompt = this.store.get(checkoutRequestId);
    if (!prompt || prompt.status !== 'pending') return undefined;
    const code: ResultCode = action === 'cancel' ? 1032 : action === 'timeout' ? 1037 : pin === CORRECT_PIN ? 0 : 2001;
    this.finish(prompt, code);
    return prompt;
  }

  /** What the phone screen shows: pending prompts oldest first, the last few finished newest first. */
  phoneScreen(recentLimit = 10): { version: number; pending: SimulatorPrompt[]; recent: SimulatorPrompt[] } {
    return { version: this.store.version, pending: this.store.pending(), recent: this.store.recent(recentLimit) };
  }

  /** A copy of every prompt in memory, for tests. */
  snapshot(): SimulatorPrompt[] {
    return this.store.all().map((p) => ({ ...p, callback: { ...p.callback } }));
  }

  /** Waits `ms` (the benchmark's response delay); rejects once the simulator closes. */
  async wait(ms: number): Promise<void> {
    if (ms > 0) await sleep(ms, undefined, { signal: this.shutdown.signal });
  }

  /**
   * Keeps an answer back for `holdMs`, then sends it; close() sends it at once so servers can stop. The returned
   * function drops it (the client went away).
   */
  hold(send: () => void): () => void {
    let cancelTimer = () => {};
    const release = () => {
      drop();
      send();
    };
    const drop = () => {
      cancelTimer();
      this.closeHooks.delete(release);
    };
    cancelTimer = this.later(this.settings.holdMs, release);
    this.closeHooks.add(release);
    return drop;
  }

  /** Stops every timer and callback in flight; held answers are sent. Safe to call twice. */
  async close(): Promise<void> {
    if (!this.closed) {
      this.shutdown.abort();
      for (const t of this.timers) clearTimeout(t);
      this.timers.clear();
      this.promptTimers.clear();
      for (const hook of [...this.closeHooks]) hook();
      this.closeHooks.clear();
    }
    await Promise.allSettled([...this.deliveries]);
  }

  private checkContext(): CheckContext {
    return { passkey: this.settings.passkey, shortcodes: this.settings.shortcodes, now: this.settings.now() };
  }

  /** A timer that close() clears; returns its cancel function. Does nothing once closed. */
  private later(ms: number, fn: () => void): () => void {
    if (this.closed) return () => {};
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
    return () => {
      clearTimeout(t);
      this.timers.delete(t);
    };
  }

  private cancelPromptTimer(checkoutRequestId: string): void {
    this.promptTimers.get(checkoutRequestId)?.();
    this.promptTimers.delete(checkoutRequestId);
  }

  /**
   * Daraja's ids look like ws_CO_DDMMYYYYHHmmss + 3 digits + the phone without 254 (ws_CO_20052025195358733114742348).
   * Past a thousand pushes to one phone in one second (a benchmark) the 3 digits would repeat, so the whole counter
   * is used instead: longer, still unique.
   */
  private newCheckoutRequestId(now: Date, phoneNumber: string): string {
    const ts = darajaTimestamp(now);
    const stamp = ts.slice(6, 8) + ts.slice(4, 6) + ts.slice(0, 4) + ts.slice(8);
    const seq = ++this.sequence;
    const id = `ws_CO_${stamp}${String(seq % 1000).padStart(3, '0')}${phoneNumber.slice(3)}`;
    return this.store.has(id) ? `ws_CO_${stamp}${seq}${phoneNumber.slice(3)}` : id;
  }

  private finish(prompt: SimulatorPrompt, code: ResultCode): void {
    if (prompt.status !== 'pending') return;
    this.cancelPromptTimer(prompt.checkoutRequestId);
    const now = this.settings.now();
    prompt.status = 'finished';
    prompt.resultCode = code;
    prompt.resultDesc = RESULT_DESC[code];
    prompt.finishedAt = now;
    if (code === 0) {
      prompt.mpesaReceiptNumber = receiptNumber();
      prompt.transactionDate = Number(darajaTimestamp(now));
    }
    this.store.markFinished(prompt);
    this.settings.logger.info(
      { checkoutRequestId: prompt.checkoutRequestId, resultCode: code, callbacks: prompt.callback.planned },
      'simulator: prompt finished',
    );
    if (prompt.callback.planned > 0 && !this.closed) {
      const delivery = this.sendCallbacks(prompt).finally(() => this.deliveries.delete(delivery));
      this.deliveries.add(delivery);
    }
  }

  /** Delivers the callback `planned` times in a row (twice for 254700000006), each with its own retries. */
  private async sendCallbacks(prompt: SimulatorPrompt): Promise<void> {
    const body = callbackBody(prompt);
    const { callback } = prompt;
    const log = { checkoutRequestId: prompt.checkoutRequestId, receiver: originOf(prompt.callbackUrl) };
    callback.state = 'sending';
    this.store.touch();
    for (let i = 0; i < callback.planned; i++) {
      const result = await deliverCallback(prompt.callbackUrl, body, this.settings.callbackRetry, this.shutdown.signal, () => {
        callback.attempts++;
        this.store.touch();
      });
      if (!result.delivered) {
        callback.state = 'failed';
        callback.lastError = result.lastError;
        this.store.touch();
        this.settings.logger.warn({ ...log, attempts: result.attempts, error: result.lastError }, 'simulator: callback not delivered');
        return;
      }
      callback.delivered++;
      this.store.touch();
    }
    callback.state = 'delivered';
    this.store.touch();
    this.settings.logger.info({ ...log, deliveries: callback.delivered, attempts: callback.attempts }, 'simulator: callback delivered');
  }
}
