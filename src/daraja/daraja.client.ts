import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import axios, { type AxiosInstance } from 'axios';
import { answerError, isTokenRefused, readPushAnswer, readQueryAnswer, withoutSecret, type HttpAnswer } from './answers.js';
import { MAX_ACCOUNT_REFERENCE, MAX_AMOUNT, MAX_TRANSACTION_DESC, MIN_AMOUNT, PATHS } from './constants.js';
import {
  CUSTOMER_MESSAGES, DarajaAuthError, DarajaError, DarajaInvalidRequestError, DarajaNetworkError,
  type DarajaNetworkKind, type DarajaOperation, type DarajaOutcome,
} from './errors.js';
import { silentLogger, type DarajaLogger } from './logger.js';
import { stkPassword } from './password.js';
import { maskPhone, normalizePhone } from './phone.js';
import type { Result } from './result.js';
import { darajaTimestamp } from './timestamp.js';
import {
  readInitiatorAnswer, resolveSecurityCredential, reversalBody, transactionStatusBody, type InitiatorAccepted, type ReversalRequest,
} from './initiator.js';
import { MemoryTokenStore, type StoredToken, type TokenStore } from './token-store.js';
import type { DarajaConfig, RetryPolicy, StkPushAccepted, StkPushRequest, StkQueryResult } from './types.js';

export type { DarajaConfig, RetryPolicy, StkPushAccepted, StkPushRequest, StkQueryResult } from './types.js';

export interface DarajaClientOptions {
  /** pino, or anything with its shape; nothing is logged without it. Secrets are never passed to it. */
  logger?: DarajaLogger;
  /** Wall clock for Timestamps and token expiry (tests freeze it). Deadlines use the monotonic clock. */
  now?: () => Date;
  /** Backoff for token fetches and queries; pushes are never retried. */
  retry?: Partial<RetryPolicy>;
  /**
   * Where the access token is shared with the other instances of this app (default: this process's memory). Daraja
   * keeps one valid token per consumer key, so instances that each fetch their own knock out each other's.
   */
  tokenStore?: TokenStore;
  /**
   * Default true. false fetches a fresh token before every call, as the user's guide advises: the benchmark's baseline
   * only, since Daraja invalidates the previous token on each request and concurrent calls then fail.
   */
  cacheTokens?: boolean;
}

const DEFAULT_RETRY: RetryPolicy = { retries: 2, baseDelayMs: 200, maxDelayMs: 1000 };
/** Refresh this long before Daraja says the token expires, so a token never dies between our check and its use. */
const TOKEN_EARLY_REFRESH_MS = 60_000;
/** Daraja's documented lifetime, used when expires_in is missing or unreadable. */
const DEFAULT_EXPIRES_IN_S = 3599;
/** No retry is started unless at least this much of the deadline would be left for it. */
const MIN_ATTEMPT_MS = 50;
/** How often an instance that lost the lease looks for the token the winner is fetching. */
const TOKEN_POLL_MS = 50;
/** Refused tokens remembered, so a stale token still in the store is not taken up again. */
const REJECTED_TOKENS_KEPT = 8;
/**
 * The Basic pair sent when no consumer key is configured (an emulator that checks none). Daraja refuses a token
 * request without Basic credentials, and so does the simulator; a real Daraja refuses this pair as wrong credentials,
 * which daraja:check reports in plain words.
 */
const PLACEHOLDER_CREDENTIALS = 'no-consumer-key:no-consumer-secret';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Daraja (M-Pesa Express) over one axios instance. Tokens are cached until 60 s before expiry with one fetch in flight
 * at a time, because Daraja's FAQ says each token request invalidates the previous token. An STK push is never
 * repeated, except once after 404.001.03 "Invalid Access Token" (a refused call, so nothing was charged).
 */
export class DarajaClient {
  private readonly http: AxiosInstance;
  private readonly logger: DarajaLogger;
  private readonly now: () => Date;
  private readonly retry: RetryPolicy;
  private readonly cacheTokens: boolean;
  private readonly tokenStore: TokenStore;
  /** This client's name on a token lease (no meaning beyond telling instances apart). */
  private readonly owner = `${process.pid}-${randomBytes(6).toString('hex')}`;
  private cached?: { token: string; refreshAt: number };
  private inFlight?: Promise<string>;
  /** Tokens Daraja refused (or invalidateToken dropped), newest last: never taken from the store again. */
  private rejected: string[] = [];

  constructor(private readonly config: DarajaConfig, opts: DarajaClientOptions = {}) {
    const logger = opts.logger ?? silentLogger;
    this.logger = logger.child ? logger.child({ component: 'daraja' }) : logger;
    this.now = opts.now ?? (() => new Date());
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.cacheTokens = opts.cacheTokens ?? true;
    this.tokenStore = opts.tokenStore ?? new MemoryTokenStore();
    this.http = axios.create({
      baseURL: config.baseUrl,
      timeout: config.timeoutMs,
      // We read the body ourselves: an HTML error page or a truncated body must become a typed error, not a string.
      responseType: 'text',
      transformResponse: [(data: unknown) => data],
      validateStatus: () => true,
      // Following a redirect would turn a POST into a GET somewhere else; a redirect means a wrong base URL.
      maxRedirects: 0,
      transitional: { clarifyTimeoutError: true },
      headers: { Accept: 'application/json' },
    });
  }

  /** A valid access token: the cached one, the one being fetched, one another instance saved, or a new one. */
  getAccessToken(): Promise<string> {
    if (!this.cacheTokens) return this.fetchToken(performance.now() + this.config.timeoutMs).then((t) => t.token);
    const cached = this.cachedToken();
    if (cached !== undefined) return Promise.resolve(cached);
    this.inFlight ??= this.obtainToken().finally(() => { this.inFlight = undefined; });
    return this.inFlight;
  }

  /** Forgets the cached token and will not take it from the store again; the next call fetches a new one. */
  invalidateToken(): void {
    if (this.cached) this.rememberRejected(this.cached.token);
    this.cached = undefined;
  }

  /**
   * Sends one STK push. Resolves with Daraja's acknowledgement (a prompt was requested, nothing is paid yet); rejects
   * with a DarajaError whose `outcome` says whether the prompt may still reach the phone. Never retried.
   */
  async stkPush(req: StkPushRequest): Promise<StkPushAccepted> {
    const deadline = performance.now() + this.config.timeoutMs;
    const timestamp = darajaTimestamp(this.now());
    const log: Record<string, unknown> = { phone: maskPhone(String(req.phoneNumber)), amount: req.amount };
    try {
      const body = this.pushBody(req, timestamp);
      log.phone = maskPhone(String(body.PhoneNumber));
      log.accountReference = body.AccountReference;

      let token = await this.tokenBefore(deadline, 'stkpush');
      let answer = await this.post('stkpush', PATHS.stkPush, body, token, deadline);
      if (isTokenRefused(answer)) {
        // Refused, so repeating is safe: the token was replaced (another process fetched one), expired early, or was
        // forgotten by a restarted emulator. The only repeat of a push there is (docs/adr/0004-never-repeat-a-push.md).
        this.logger.warn({ event: 'daraja.token.rejected', operation: 'stkpush', httpStatus: answer.status }, 'Daraja refused the access token; fetching a new one and sending the push once more');
        this.dropToken(token);
        token = await this.tokenBefore(deadline, 'stkpush');
        answer = await this.post('stkpush', PATHS.stkPush, body, token, deadline);
      }
      const accepted = readPushAnswer(withoutSecret(answer, token), timestamp);
      this.logger.info({ event: 'daraja.stkpush.accepted', ...log, checkoutRequestId: accepted.checkoutRequestId, ms: answer.durationMs }, 'STK push accepted');
      return accepted;
    } catch (err) {
      this.logFailure(err, { operation: 'stkpush', ...log });
      throw err;
    }
  }

  /** Asks Daraja how a push ended. "Still processing" is an answer, not an error. Retried on network errors and 5xx. */
  async stkQuery(checkoutRequestId: string): Promise<StkQueryResult> {
    const id = typeof checkoutRequestId === 'string' ? checkoutRequestId.trim() : '';
    if (id === '') {
      throw new DarajaInvalidRequestError('Invalid CheckoutRequestID: empty', {
        operation: 'stkquery', field: 'CheckoutRequestID',
      });
    }
    const deadline = performance.now() + this.config.timeoutMs;
    let refreshed = false;
    try {
      return await this.withRetry('stkquery', deadline, async () => {
        const timestamp = darajaTimestamp(this.now());
        const body = {
          BusinessShortCode: Number(this.config.shortcode),
          Password: stkPassword(this.config.shortcode, this.config.passkey, timestamp),
          Timestamp: timestamp,
          CheckoutRequestID: id,
        };
        let token = await this.tokenBefore(deadline, 'stkquery');
        let answer = await this.post('stkquery', PATHS.stkQuery, body, token, deadline);
        if (!refreshed && isTokenRefused(answer)) {
          refreshed = true;
          this.logger.warn({ event: 'daraja.token.rejected', operation: 'stkquery', httpStatus: answer.status }, 'Daraja refused the access token; fetching a new one and querying once more');
          this.dropToken(token);
          token = await this.tokenBefore(deadline, 'stkquery');
          answer = await this.post('stkquery', PATHS.stkQuery, body, token, deadline);
        }
        return readQueryAnswer(withoutSecret(answer, token));
      });
    } catch (err) {
      this.logFailure(err, { operation: 'stkquery', checkoutRequestId: id });
      throw err;
    }
  }

  /**
   * Asks Daraja to reverse a payment (Transaction Reversal). Resolves with the acknowledgement (its ConversationID
   * matches the result that comes later to ResultURL); rejects with a DarajaError whose `outcome` says whether the
   * reversal may still happen. Never repeated, except once after a refused token (nothing was done then).
   */
  reversal(req: ReversalRequest): Promise<InitiatorAccepted> {
    return this.initiatorCall('reversal', PATHS.reversal, { transactionId: req.transactionId, amount: req.amount },
      (cfg, credential) => reversalBody(cfg, this.config.shortcode, credential, req));
  }

  /** Asks what became of a transaction (Transaction Status); the answer comes to ResultURL like a reversal's. */
  transactionStatus(transactionId: string, remarks?: string): Promise<InitiatorAccepted> {
    return this.initiatorCall('transactionstatus', PATHS.transactionStatus, { transactionId },
      (cfg, credential) => transactionStatusBody(cfg, this.config.shortcode, credential, transactionId, remarks));
  }

  /** The SecurityCredential, made once from the password and the certificate (or given ready). */
  private credential?: string;

  private async initiatorCall(
    operation: 'reversal' | 'transactionstatus', path: string, log: Record<string, unknown>,
    build: (cfg: NonNullable<DarajaConfig['initiator']>, credential: string) => object,
  ): Promise<InitiatorAccepted> {
    const deadline = performance.now() + this.config.timeoutMs;
    try {
      const cfg = this.config.initiator;
      if (!cfg) {
        throw new DarajaInvalidRequestError(`Daraja ${operation}: no initiator is configured (DARAJA_INITIATOR_NAME); nothing was sent`, { operation, field: 'Initiator' });
      }
      if (this.credential === undefined) {
        const made = resolveSecurityCredential(cfg);
        if (!made.ok) throw new DarajaInvalidRequestError(`Daraja ${operation}: ${made.error}; nothing was sent`, { operation, field: 'SecurityCredential', errorMessage: made.error });
        this.credential = made.value;
      }
      const body = build(cfg, this.credential);
      let token = await this.tokenBefore(deadline, operation);
      let answer = await this.post(operation, path, body, token, deadline);
      if (isTokenRefused(answer)) {
        this.logger.warn({ event: 'daraja.token.rejected', operation, httpStatus: answer.status }, `Daraja refused the access token; fetching a new one and sending the ${operation} once more`);
        this.dropToken(token);
        token = await this.tokenBefore(deadline, operation);
        answer = await this.post(operation, path, body, token, deadline);
      }
      const accepted = readInitiatorAnswer(operation, withoutSecret(answer, token));
      this.logger.info({ event: `daraja.${operation}.accepted`, ...log, conversationId: accepted.conversationId, ms: answer.durationMs }, `Daraja accepted the ${operation}`);
      return accepted;
    } catch (err) {
      this.logFailure(err, { operation, ...log });
      throw err;
    }
  }

  // ── tokens ────────────────────────────────────────────────────────────────────────────────────────────────────

  private cachedToken(): string | undefined {
    if (this.cached && this.now().getTime() < this.cached.refreshAt) return this.cached.token;
    return undefined;
  }

  /** Drops the cache only if it still holds the token that was refused, so concurrent callers refresh only once. */
  private dropToken(token: string): void {
    this.rememberRejected(token);
    if (this.cached?.token === token) this.cached = undefined;
  }

  private rememberRejected(token: string): void {
    if (this.rejected.includes(token)) return;
    this.rejected.push(token);
    if (this.rejected.length > REJECTED_TOKENS_KEPT) this.rejected.shift();
  }

  private usable(stored: StoredToken | undefined): stored is StoredToken {
    return stored !== undefined && !this.rejected.includes(stored.token) && this.now().getTime() < stored.refreshAt.getTime();
  }

  /**
   * A token for this process's cache: a fresh one from the store (another instance may have fetched it), else a new
   * one fetched under the store's lease so only one instance fetches at a time; an instance that loses the lease waits
   * for the winner's token. If the store fails, the token is fetched without it: a payment matters more than the
   * other instances' tokens.
   */
  private async obtainToken(): Promise<string> {
    const deadline = performance.now() + this.config.timeoutMs;
    let waited = false;
    for (;;) {
      const stored = await this.storeStep('read', () => this.tokenStore.read());
      if (stored.ok && this.usable(stored.value)) {
        this.cached = { token: stored.value.token, refreshAt: stored.value.refreshAt.getTime() };
        this.logger.debug({ event: 'daraja.token.shared', waited }, 'Using the access token from the shared store');
        return stored.value.token;
      }
      const leased = stored.ok
        ? await this.storeStep('lease', () => this.tokenStore.tryLease(this.owner, this.config.timeoutMs))
        : stored;
      if (!leased.ok || leased.value) return this.fetchAndShare(deadline, leased.ok);
      waited = true;
      if (performance.now() + TOKEN_POLL_MS >= deadline) {
        throw new DarajaNetworkError(
          `Daraja token: another instance held the token lease and saved no token within ${this.config.timeoutMs} ms; nothing was sent`,
          { operation: 'token', kind: 'timeout', outcome: 'refused' },
        );
      }
      await sleep(TOKEN_POLL_MS);
    }
  }

  private async fetchAndShare(deadline: number, leased: boolean): Promise<string> {
    let fetched: StoredToken;
    try {
      fetched = await this.fetchToken(deadline);
    } catch (err) {
      if (leased) await this.storeStep('release', () => this.tokenStore.release(this.owner));
      throw err;
    }
    this.cached = { token: fetched.token, refreshAt: fetched.refreshAt.getTime() };
    if (leased) await this.storeStep('save', () => this.tokenStore.save(fetched.token, fetched.refreshAt, this.owner), fetched.token);
    return fetched.token;
  }

  /** One store call; a failure is logged (never with the token) and reported, not thrown. */
  private async storeStep<T>(step: string, call: () => Promise<T>, secret?: string): Promise<Result<T, 'store_failed'>> {
    try {
      return { ok: true, value: await call() };
    } catch (err) {
      const e = err as { code?: unknown; message?: unknown };
      let message = typeof e.message === 'string' ? e.message : String(err);
      if (secret) message = message.split(secret).join('[redacted]');
      this.logger.warn({ event: 'daraja.token.store_failed', step, code: typeof e.code === 'string' ? e.code : undefined },
        `The shared token store failed (${step}): ${message.slice(0, 300)}; going on without it`);
      return { ok: false, error: 'store_failed' };
    }
  }

  /** A token within the caller's deadline; a shared fetch may go on after this caller gives up, for the next one. */
  private async tokenBefore(deadline: number, operation: DarajaOperation): Promise<string> {
    const shared = this.getAccessToken();
    const remaining = deadline - performance.now();
    if (remaining <= 0) {
      shared.catch(() => undefined);
      throw this.deadlineError(operation);
    }
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(this.deadlineError(operation)), remaining);
    });
    try {
      return await Promise.race([shared, expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  private deadlineError(operation: DarajaOperation): DarajaNetworkError {
    return new DarajaNetworkError(
      `Daraja ${operation}: the ${this.config.timeoutMs} ms budget ran out while waiting for an access token; nothing was sent`,
      { operation, kind: 'timeout', outcome: 'refused' },
    );
  }

  /** A new token from Daraja (which invalidates the previous one), with when to replace it. */
  private fetchToken(deadline: number): Promise<StoredToken> {
    return this.withRetry('token', deadline, async () => {
      const issuedAt = this.now().getTime();
      const { consumerKey, consumerSecret } = this.config;
      const pair = consumerKey || consumerSecret ? `${consumerKey ?? ''}:${consumerSecret ?? ''}` : PLACEHOLDER_CREDENTIALS;
      const headers = { Authorization: `Basic ${Buffer.from(pair).toString('base64')}` };
      const answer = await this.send('token', deadline, {
        method: 'GET', url: PATHS.token, params: { grant_type: 'client_credentials' }, headers,
      });
      const json = answer.json;
      if (answer.status >= 200 && answer.status < 300 && isRecord(json) && typeof json.access_token === 'string' && json.access_token !== '') {
        let expiresIn = Number(json.expires_in);
        if (!(Number.isFinite(expiresIn) && expiresIn > 0)) {
          this.logger.warn({ event: 'daraja.token.expiry_missing' }, `Daraja sent no usable expires_in; assuming ${DEFAULT_EXPIRES_IN_S} s`);
          expiresIn = DEFAULT_EXPIRES_IN_S;
        }
        this.logger.debug({ event: 'daraja.token.fetched', expiresIn, ms: answer.durationMs }, 'Daraja access token fetched');
        return { token: json.access_token, refreshAt: new Date(issuedAt + expiresIn * 1000 - TOKEN_EARLY_REFRESH_MS) };
      }
      throw answerError('token', answer);
    });
  }

  // ── requests ──────────────────────────────────────────────────────────────────────────────────────────────────

  private pushBody(req: StkPushRequest, timestamp: string) {
    const c = this.config;
    const invalid = (field: string, why: string, customerMessage: string = CUSTOMER_MESSAGES.merchantProblem) =>
      new DarajaInvalidRequestError(`Invalid ${field}: ${why}; the push was not sent`, {
        operation: 'stkpush', field, errorMessage: `Invalid ${field}: ${why}`, customerMessage,
      });

    const phone = normalizePhone(req.phoneNumber);
    if (!phone.ok) throw invalid('PhoneNumber', phone.error, phone.error);
    if (typeof req.amount !== 'number' || !Number.isInteger(req.amount) || req.amount < MIN_AMOUNT || req.amount > MAX_AMOUNT) {
      throw invalid('Amount', `must be a whole number of shillings from ${MIN_AMOUNT} to ${MAX_AMOUNT} (got ${String(req.amount)})`,
        'The amount must be a whole number of shillings from 1 to 250,000.');
    }
    const accountReference = req.accountReference ?? c.accountReference;
    if (accountReference.trim() === '' || accountReference.length > MAX_ACCOUNT_REFERENCE) {
      throw invalid('AccountReference', `must be 1 to ${MAX_ACCOUNT_REFERENCE} characters (got ${accountReference.length})`);
    }
    const transactionDesc = req.transactionDesc ?? c.transactionDesc;
    if (transactionDesc.length > MAX_TRANSACTION_DESC) {
      throw invalid('TransactionDesc', `must be at most ${MAX_TRANSACTION_DESC} characters (got ${transactionDesc.length})`);
    }
    if (!/^\d{5,7}$/.test(c.shortcode)) throw invalid('BusinessShortCode', 'must be 5 to 7 digits');
    if (!/^\d{5,7}$/.test(c.partyB)) throw invalid('PartyB', 'must be 5 to 7 digits (the shortcode, or the till number for CustomerBuyGoodsOnline)');
    if (c.transactionType !== 'CustomerPayBillOnline' && c.transactionType !== 'CustomerBuyGoodsOnline') {
      throw invalid('TransactionType', 'must be CustomerPayBillOnline or CustomerBuyGoodsOnline');
    }
    if (!isHttpUrl(c.callbackUrl)) throw invalid('CallBackURL', 'must be an http(s) URL without spaces');

    // Field order and types follow Safaricom's parameter table: numbers where it says numeric (stricter peers insist).
    return {
      BusinessShortCode: Number(c.shortcode),
      Password: stkPassword(c.shortcode, c.passkey, timestamp),
      Timestamp: timestamp,
      TransactionType: c.transactionType,
      Amount: req.amount,
      PartyA: Number(phone.value),
      PartyB: Number(c.partyB),
      PhoneNumber: Number(phone.value),
      CallBackURL: c.callbackUrl,
      AccountReference: accountReference,
      TransactionDesc: transactionDesc,
    };
  }

  private post(operation: DarajaOperation, url: string, data: object, token: string, deadline: number): Promise<HttpAnswer> {
    return this.send(operation, deadline, {
      method: 'POST', url, data, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    });
  }

  /** One HTTP exchange bounded by the deadline; any answer resolves, only a failure to get one rejects. */
  private async send(
    operation: DarajaOperation,
    deadline: number,
    req: { method: 'GET' | 'POST'; url: string; params?: Record<string, string>; data?: object; headers: Record<string, string> },
  ): Promise<HttpAnswer> {
    const remaining = Math.floor(deadline - performance.now());
    if (remaining <= 0) {
      throw new DarajaNetworkError(`Daraja ${operation}: the ${this.config.timeoutMs} ms budget ran out before the request; nothing was sent`,
        { operation, kind: 'timeout', outcome: 'refused' });
    }
    // axios' timeout has been a socket idle timer in some versions and transports; the abort makes the deadline hold
    // for the whole exchange whatever axios does.
    const controller = new AbortController();
    let deadlineHit = false;
    const timer = setTimeout(() => { deadlineHit = true; controller.abort(); }, remaining);
    const started = performance.now();
    try {
      const res = await this.http.request<string>({ ...req, timeout: remaining, signal: controller.signal });
      const text = typeof res.data === 'string' ? res.data : res.data == null ? '' : String(res.data);
      let json: unknown;
      try { json = text.trim() === '' ? undefined : JSON.parse(text); } catch { json = undefined; }
      return { status: res.status, json, text, durationMs: Math.round(performance.now() - started) };
    } catch (err) {
      throw this.networkError(operation, err, deadlineHit, Math.round(performance.now() - started));
    } finally {
      clearTimeout(timer);
    }
  }

  private networkError(operation: DarajaOperation, err: unknown, deadlineHit: boolean, ms: number): DarajaNetworkError {
    const e = err as { code?: unknown; message?: unknown; cause?: { code?: unknown } };
    const code = typeof e.code === 'string' ? e.code : typeof e.cause?.code === 'string' ? e.cause.code : undefined;
    let kind: DarajaNetworkKind;
    if (deadlineHit || code === 'ETIMEDOUT' || code === 'ECONNABORTED') kind = 'timeout';
    else if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') kind = 'refused';
    else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') kind = 'dns';
    else if (code === 'ECONNRESET' || code === 'EPIPE' || /socket hang up/i.test(String(e.message))) kind = 'reset';
    else kind = 'other';
    // Nothing reached Daraja when the connection was refused or the name did not resolve. The token endpoint moves no
    // money, so its failures are 'refused' for whatever call needed the token.
    const outcome: DarajaOutcome = operation === 'token' || kind === 'refused' || kind === 'dns' ? 'refused' : 'unknown';
    // The axios error is not kept as `cause`: it holds the request config (Authorization header, Password).
    return new DarajaNetworkError(
      `Daraja ${operation}: ${kind === 'timeout' ? `no answer within ${this.config.timeoutMs} ms` : `network error ${code ?? String(e.message)}`} after ${ms} ms (${outcome === 'unknown' ? 'the request may have been processed' : 'nothing was processed'})`,
      { operation, kind, outcome },
    );
  }

  // ── retries and logs ──────────────────────────────────────────────────────────────────────────────────────────

  /** Runs `attempt` again after network errors and 5xx answers, with capped jittered backoff, inside the deadline. */
  private async withRetry<T>(operation: DarajaOperation, deadline: number, attempt: () => Promise<T>): Promise<T> {
    for (let n = 0; ; n++) {
      try {
        return await attempt();
      } catch (err) {
        if (n >= this.retry.retries || !isRetryable(err)) throw err;
        const ceiling = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** n);
        const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
        if (performance.now() + delay + MIN_ATTEMPT_MS >= deadline) throw err;
        this.logger.warn({ event: 'daraja.retry', operation, attempt: n + 1, delayMs: delay, code: (err as DarajaError).code }, `Daraja ${operation} failed; retrying`);
        await sleep(delay);
      }
    }
  }

  /**
   * One line per failed call. Refused credentials and merchant settings are errors, not warnings: every payment fails
   * until the operator fixes them, and no customer can.
   */
  private logFailure(err: unknown, context: Record<string, unknown>): void {
    if (!(err instanceof DarajaError)) return;
    const fields = {
      event: `daraja.${String(context.operation)}.failed`, ...context, failedStep: err.operation,
      code: err.code, outcome: err.outcome, httpStatus: err.httpStatus, errorCode: err.errorCode, requestId: err.requestId,
    };
    if (err.code === 'DARAJA_MERCHANT_SETUP' || err instanceof DarajaAuthError) this.logger.error(fields, err.message);
    else this.logger.warn(fields, err.message);
  }
}

function isRetryable(err: unknown): boolean {
  if (err instanceof DarajaNetworkError) return true;
  if (!(err instanceof DarajaError) || err.httpStatus === undefined || err.httpStatus < 500) return false;
  // 500.001.1001 is an answer about this merchant or this payment, not a passing failure.
  return err.errorCode !== '500.001.1001';
}

function isHttpUrl(value: string): boolean {
  if (typeof value !== 'string' || /\s/.test(value)) return false;
  try {
    const u = new URL(value);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}
