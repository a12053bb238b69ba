import { randomBytes } from 'node:crypto';
import type { ResultCode } from './test-numbers.js';
import type { TransactionType } from './daraja-requests.js';

/** `none` until the prompt finishes (and for ever when no callback is planned). */
export type CallbackState = 'none' | 'sending' | 'delivered' | 'failed';

/** One STK prompt on the simulated phone, from the push to its result and callback delivery. */
export interface SimulatorPrompt {
  checkoutRequestId: string;
  merchantRequestId: string;
  phoneNumber: string;
  amount: number;
  businessShortCode: string;
  partyB: string;
  transactionType: TransactionType;
  accountReference: string;
  transactionDesc: string;
  callbackUrl: string;
  createdAt: Date;
  /** Answers by itself after `delayMs` (a test number, or auto mode); the phone page may still answer first. */
  automatic: boolean;
  /**
   * When the prompt answers by itself and with what: the automatic outcome, or 1037 once a manual prompt has waited
   * SIMULATOR_PROMPT_SECONDS. Kept so that the timer resumes after a restart.
   */
  due: { at: Date; resultCode: ResultCode };
  /** What the push carried that the real Daraja may refuse, shown on the phone page. */
  warnings: string[];
  status: 'pending' | 'finished';
  resultCode?: ResultCode;
  resultDesc?: string;
  mpesaReceiptNumber?: string;
  /** YYYYMMDDHHmmss, Nairobi time, as a number like Daraja's callback. */
  transactionDate?: number;
  finishedAt?: Date;
  callback: {
    /** Deliveries due once finished: 0 for 254700000005, 2 for 254700000006, else 1. */
    planned: 0 | 1 | 2;
    delivered: number;
    attempts: number;
    state: CallbackState;
    lastError?: string;
  };
}

/** Told about every change, so that it can be written down (simulator.journal.ts). */
export interface StateListener {
  prompt(prompt: SimulatorPrompt): void;
  evicted(checkoutRequestId: string): void;
  token(token: IssuedToken): void;
}

/**
 * The prompts in memory, bounded: past `maxEntries` the oldest finished prompt goes first, then the oldest pending.
 * `version` changes on every change, so the phone page can poll cheaply; it starts from the clock so that a page that
 * polled before a restart is not told "unchanged" by chance.
 */
export class PromptStore {
  private readonly entries = new Map<string, SimulatorPrompt>();
  /** Ids of finished prompts in the order they finished, oldest first. */
  private readonly finished = new Set<string>();
  version = Date.now() % 1_000_000_000;

  constructor(
    private readonly maxEntries: number,
    private readonly onEvict: (prompt: SimulatorPrompt) => void,
    private readonly listener?: StateListener,
  ) {}

  add(prompt: SimulatorPrompt): void {
    while (this.entries.size >= this.maxEntries) this.evictOne();
    this.entries.set(prompt.checkoutRequestId, prompt);
    if (prompt.status === 'finished') this.finished.add(prompt.checkoutRequestId);
    this.version++;
    this.listener?.prompt(prompt);
  }

  /** Takes a prompt back after a restart, without telling the listener (it is already written down). */
  restore(prompt: SimulatorPrompt): void {
    while (this.entries.size >= this.maxEntries) this.evictOne();
    this.entries.set(prompt.checkoutRequestId, prompt);
    this.version++;
  }

  /** After restore(): the finished prompts in the order they finished, for recent(). */
  reorderFinished(): void {
    const done = this.all().filter((p) => p.status === 'finished');
    done.sort((a, b) => (a.finishedAt?.getTime() ?? 0) - (b.finishedAt?.getTime() ?? 0));
    this.finished.clear();
    for (const p of done) this.finished.add(p.checkoutRequestId);
  }

  get size(): number {
    return this.entries.size;
  }

  get(checkoutRequestId: string): SimulatorPrompt | undefined {
    return this.entries.get(checkoutRequestId);
  }

  has(checkoutRequestId: string): boolean {
    return this.entries.has(checkoutRequestId);
  }

  markFinished(prompt: SimulatorPrompt): void {
    if (this.entries.has(prompt.checkoutRequestId)) this.finished.add(prompt.checkoutRequestId);
    this.version++;
    this.listener?.prompt(prompt);
  }

  /** Records a change made to a prompt in place (its callback delivery, a warning). */
  touch(prompt: SimulatorPrompt): void {
    this.version++;
    if (this.entries.has(prompt.checkoutRequestId)) this.listener?.prompt(prompt);
  }

  all(): SimulatorPrompt[] {
    return [...this.entries.values()];
  }

  /** Pending prompts, oldest first (the order a phone shows them in). */
  pending(): SimulatorPrompt[] {
    return this.all().filter((p) => p.status === 'pending');
  }

  /** The last `limit` finished prompts, newest first. */
  recent(limit: number): SimulatorPrompt[] {
    const ids = [...this.finished];
    return ids.slice(-limit).reverse().flatMap((id) => this.entries.get(id) ?? []);
  }

  private evictOne(): void {
    const [oldestFinished] = this.finished;
    const id = oldestFinished ?? this.entries.keys().next().value;
    if (id === undefined) return;
    const prompt = this.entries.get(id);
    this.entries.delete(id);
    this.finished.delete(id);
    this.listener?.evicted(id);
    if (prompt) this.onEvict(prompt);
  }
}

export const TOKEN_LIFETIME_SECONDS = 3599;

/**
 * Access tokens with their expiry. Daraja's FAQ says a new token invalidates the previous one for the same
 * credentials, which breaks clients that fetch concurrently; `invalidatePrevious` emulates that.
 */
/** One access token the simulator gave out: for whom (the consumer key) and until when (epoch milliseconds). */
export interface IssuedToken {
  token: string;
  owner: string;
  expiresAt: number;
}

export class IssuedTokens {
  private readonly tokens = new Map<string, { owner: string; expiresAt: number }>();
  private readonly latestByOwner = new Map<string, string>();

  constructor(
    private readonly maxTokens: number,
    private readonly invalidatePrevious: boolean,
    private readonly listener?: Pick<StateListener, 'token'>,
  ) {}

  /** A new token for `owner` (the consumer key). */
  issue(owner: string, now: Date): string {
    // Daraja's tokens are 28 letters and digits.
    const token = randomBytes(21).toString('base64').replace(/[^A-Za-z0-9]/g, '').slice(0, 28).padEnd(28, 'A');
    const issued = { token, owner, expiresAt: now.getTime() + TOKEN_LIFETIME_SECONDS * 1000 };
    this.restore(issued);
    this.listener?.token(issued);
    return token;
  }

  /** Takes a token back as issued (after a restart), with the same effect on the owner's earlier token. */
  restore({ token, owner, expiresAt }: IssuedToken): void {
    if (this.invalidatePrevious) {
      const previous = this.latestByOwner.get(owner);
      if (previous !== undefined) this.tokens.delete(previous);
    }
    for (const [oldest, { owner: oldestOwner }] of this.tokens) {
      if (this.tokens.size < this.maxTokens) break;
      this.tokens.delete(oldest);
      if (this.latestByOwner.get(oldestOwner) === oldest) this.latestByOwner.delete(oldestOwner);
    }
    this.tokens.set(token, { owner, expiresAt });
    this.latestByOwner.set(owner, token);
  }

  get size(): number {
    return this.tokens.size;
  }

  /** The tokens still held, oldest first, for a snapshot. */
  all(): IssuedToken[] {
    return [...this.tokens].map(([token, t]) => ({ token, ...t }));
  }

  isValid(token: string, now: Date): boolean {
    const entry = this.tokens.get(token);
    return entry !== undefined && entry.expiresAt > now.getTime();
  }
}
