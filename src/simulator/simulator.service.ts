import { setTimeout as sleep } from 'node:timers/promises';
import type { CallbackRetry } from './callback-sender.js';
import { FAILURES, darajaRequestId, errorAnswer, invalidField, type DarajaAnswer } from './daraja-answers.js';
import { darajaTimestamp, maskPhone, type SimulatorLogger } from './daraja-protocol.js';
import { checkStkPush, checkStkQuery, type CheckContext } from './daraja-requests.js';
import { originOf, receiptNumber, sendCallbacks } from './prompt-callbacks.js';
import { SimulatorJournal } from './simulator.journal.js';
import { IssuedTokens, PromptStore, type SimulatorPrompt } from './simulator.state.js';
import { RESULT_DESC, TEST_NUMBERS, type ResultCode } from './test-numbers.js';
import { hasValidToken, issueToken } from './token-endpoint.js';

/** Every option resolved to a value; `createSimulator` fills the defaults. */
export interface SimulatorSettings {
  passkey: string;
  shortcodes?: readonly string[];
  consumerKey?: string;
  consumerSecret?: string;
  invalidatePreviousTokens: boolean;
  mode: 'manual' | 'auto';
  delayMs: number;
  /** How long a prompt nobody answers waits before it times out (1037). */
  promptSeconds: number;
  strict: boolean;
  /** When set, the only origins a CallBackURL may have; a push naming another is refused. */
  callbackOrigins?: readonly string[];
  /** Where prompts and tokens are kept across restarts; in memory only when unset. */
  statePath?: string;
  responseDelayMs: number;
  merchantName: string;
  maxEntries: number;
  callbackRetry: CallbackRetry;
  holdMs: number;
  logger: SimulatorLogger;
  now: () => Date;
  /** Where a paid prompt's M-Pesa confirmation SMS goes (the phone page's messages). */
  onPaid?: (prompt: SimulatorPrompt) => void;
}

export type PhoneAction = 'pin' | 'cancel' | 'timeout';

/** The PIN that pays on the simulated phone; any other PIN is ResultCode 2001. */
export const CORRECT_PIN = '1234';

const ACCEPTED = 'Success. Request accepted for processing';

/**
 * The simulator's rules: tokens, push and query checks, prompts and their outcomes, callback delivery, and every
 * timer, so that `close()` can stop them all. With a state path, every change is written down and a new service on
 * the same path takes up where the last one stopped: prompts, their timers, callbacks not yet delivered, tokens.
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
    const journal = settings.statePath ? new SimulatorJournal(settings.statePath, settings.logger) : undefined;
    this.store = new PromptStore(settings.maxEntries, (p) => this.cancelPromptTimer(p.checkoutRequestId), journal);
    this.tokens = new IssuedTokens(settings.maxEntries, settings.invalidatePreviousTokens, journal);
    if (journal) this.restore(journal);
  }

  get closed(): boolean {
    return this.shutdown.signal.aborted;
  }

  /** GET /oauth/v1/generate: a token for Basic credentials and grant_type=client_credentials. */
  issueToken(authorization: string | undefined, grantType: unknown): DarajaAnswer {
    return issueToken(this.tokens, this.settings, authorization, grantType, this.settings.now());
  }

  /** Whether an Authorization header carries a live Bearer token. */
  hasValidToken(authorization: string | undefined): boolean {
    return hasValidToken(this.tokens, authorization, this.settings.now());
  }

  /**
   * POST /mpesa/stkpush/v1/processrequest. `hold` asks the route to keep the answer back (254700000008) while the
   * prompt goes ahead.
   */
  push(body: unknown): { answer: DarajaAnswer; hold: boolean } {
    const checked = checkStkPush(body, this.checkContext());
    if (!checked.ok) return { answer: errorAnswer(checked.error), hold: false };
    const req = checked.value;
    if (!this.callbackAllowed(req.callbackUrl)) {
      this.settings.logger.warn({ receiver: originOf(req.callbackUrl), allowed: this.settings.callbackOrigins },
        'simulator: push refused: this simulator posts callbacks only to the app it belongs to (PUBLIC_BASE_URL, or SIMULATOR_CALLBACK_ORIGINS)');
      return { answer: errorAnswer(invalidField('CallBackURL')), hold: false };
    }
    const scenario = TEST_NUMBERS.get(req.phoneNumber);
    if (scenario?.refuse) return { answer: errorAnswer(FAILURES[scenario.refuse]), hold: false };

    const now = this.settings.now();
    const outcome: ResultCode | undefined = scenario?.result ?? (this.settings.mode === 'auto' ? '0' : undefined);
    const due = outcome !== undefined
      ? { at: new Date(now.getTime() + this.settings.delayMs), resultCode: outcome }
      : { at: new Date(now.getTime() + this.settings.promptSeconds * 1000), resultCode: '1037' as const };
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
      due,
      warnings: req.warnings,
      status: 'pending',
      callback: { planned: scenario?.callbacks ?? 1, delivered: 0, attempts: 0, state: 'none' },
    };
    this.store.add(prompt);
    this.schedule(prompt);
    const log = { checkoutRequestId: prompt.checkoutRequestId, phone: maskPhone(prompt.phoneNumber), amount: prompt.amount, automatic: prompt.automatic };
    this.settings.logger.info(log, 'simulator: STK push accepted');
    this.warn(prompt.checkoutRequestId, req.warnings);
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
    const fresh = checked.value.warnings.filter((w) => !prompt.warnings.includes(w));
    if (fresh.length > 0) {
      prompt.warnings.push(...fresh);
      this.store.touch(prompt);
      this.warn(prompt.checkoutRequestId, fresh);
    }
    const refused = TEST_NUMBERS.get(prompt.phoneNumber)?.refuseQueries;
    if (refused) return errorAnswer(FAILURES[refused]);
    if (prompt.status === 'pending') return errorAnswer(FAILURES.stillProcessing);
    return {
      status: 200,
      body: {
        ResponseCode: '0',
        // Daraja's own spelling.
        ResponseDescription: 'The service request has been accepted successsfully',
        MerchantRequestID: prompt.merchantRequestId,
        CheckoutRequestID: prompt.checkoutRequestId,
        ResultCode: prompt.resultCode,
        ResultDesc: prompt.resultDesc,
      },
    };
  }

  /** The customer acts on the phone page; undefined when the prompt is unknown or no longer pending. */
  answer(checkoutRequestId: string, action: PhoneAction, pin?: string): SimulatorPrompt | undefined {
    const prompt = this.store.get(checkoutRequestId);
    if (!prompt || prompt.status !== 'pending') return undefined;
    const code: ResultCode = action === 'cancel' ? '1032' : action === 'timeout' ? '1037' : pin === CORRECT_PIN ? '0' : '2001';
    this.finish(prompt, code);
    return prompt;
  }

  /** What the phone screen shows: pending prompts oldest first, the last few finished newest first. */
  phoneScreen(recentLimit = 10): { version: number; pending: SimulatorPrompt[]; recent: SimulatorPrompt[] } {
    return { version: this.store.version, pending: this.store.pending(), recent: this.store.recent(recentLimit) };
  }

  /** A copy of every prompt in memory, for tests. */
  snapshot(): SimulatorPrompt[] {
    return this.store.all().map((p) => ({ ...p, warnings: [...p.warnings], callback: { ...p.callback } }));
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

  /** Takes back what the journal kept: prompts and tokens, then the timers and callbacks they were waiting for. */
  private restore(journal: SimulatorJournal): void {
    const saved = journal.load();
    for (const k of saved.tokens) this.tokens.restore(k);
    for (const p of saved.prompts) this.store.restore(p);
    this.store.reorderFinished();
    journal.attach({
      snapshot: () => ({ prompts: this.store.all(), tokens: this.tokens.all() }),
      size: () => this.store.size + this.tokens.size,
    });
    let resumed = 0;
    for (const p of this.store.all()) {
      if (p.status === 'pending') this.schedule(p);
      else if (p.callback.delivered < p.callback.planned && p.callback.state !== 'failed') this.deliver(p);
      else continue;
      resumed++;
    }
    if (saved.prompts.length > 0) {
      this.settings.logger.info({ prompts: saved.prompts.length, resumed }, 'simulator: prompts restored from its saved state');
    }
  }

  private warn(checkoutRequestId: string, warnings: readonly string[]): void {
    if (warnings.length > 0) this.settings.logger.warn({ checkoutRequestId, warnings }, `simulator: ${warnings.join(' ')}`);
  }

  private callbackAllowed(url: string): boolean {
    const allowed = this.settings.callbackOrigins;
    return allowed === undefined || allowed.includes(originOf(url));
  }

  private checkContext(): CheckContext {
    return { passkey: this.settings.passkey, shortcodes: this.settings.shortcodes, now: this.settings.now(), strict: this.settings.strict };
  }

  /** Arms the timer that answers a pending prompt by itself (late ones at once, after a restart). */
  private schedule(prompt: SimulatorPrompt): void {
    const ms = Math.max(0, prompt.due.at.getTime() - this.settings.now().getTime());
    this.promptTimers.set(prompt.checkoutRequestId, this.later(ms, () => this.finish(prompt, prompt.due.resultCode)));
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
    if (code === '0') {
      prompt.mpesaReceiptNumber = receiptNumber();
      prompt.transactionDate = Number(darajaTimestamp(now));
    }
    this.store.markFinished(prompt);
    if (code === '0') this.settings.onPaid?.(prompt);
    this.settings.logger.info(
      { checkoutRequestId: prompt.checkoutRequestId, resultCode: code, callbacks: prompt.callback.planned },
      'simulator: prompt finished',
    );
    if (prompt.callback.planned > 0) this.deliver(prompt);
  }

  private deliver(prompt: SimulatorPrompt): void {
    if (this.closed) return;
    const delivery = sendCallbacks(prompt, {
      retry: this.settings.callbackRetry, signal: this.shutdown.signal, logger: this.settings.logger,
      changed: (p) => this.store.touch(p),
    }).finally(() => this.deliveries.delete(delivery));
    this.deliveries.add(delivery);
  }
}
