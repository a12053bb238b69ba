import { setTimeout as sleep } from 'node:timers/promises';

export interface CallbackRetry {
  /** Tries in all, the first included. */
  attempts: number;
  /** Wait before the second try; it doubles before each further try. */
  baseDelayMs: number;
}

export interface Delivery {
  delivered: boolean;
  attempts: number;
  lastError?: string;
}

/** How long one callback POST may take; Safaricom's own limit is not published. */
const ATTEMPT_TIMEOUT_MS = 10_000;

/**
 * POSTs a callback body as JSON, retrying with exponential backoff while the receiver is unreachable or answers
 * non-2xx. Daraja documents no retries for STK callbacks, but duplicates are reported in the wild, and a simulator
 * that gives up at once would hide a receiver that is briefly down. Never throws; `signal` stops it (shutdown).
 */
export async function deliverCallback(
  url: string,
  body: unknown,
  policy: CallbackRetry,
  signal: AbortSignal,
  onAttempt: (attempt: number) => void = () => {},
): Promise<Delivery> {
  let lastError: string | undefined;
  let made = 0;
  try {
    while (made < policy.attempts) {
      if (made > 0) await sleep(policy.baseDelayMs * 2 ** (made - 1), undefined, { signal });
      made++;
      onAttempt(made);
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.any([signal, AbortSignal.timeout(ATTEMPT_TIMEOUT_MS)]),
        });
        await res.arrayBuffer(); // frees the connection for reuse
        if (res.ok) return { delivered: true, attempts: made };
        lastError = `HTTP ${res.status}`;
      } catch (err) {
        if (signal.aborted) throw err;
        lastError = describe(err);
      }
    }
  } catch {
    return { delivered: false, attempts: made, lastError: 'simulator closed' };
  }
  return { delivered: false, attempts: made, lastError };
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // fetch hides the socket error (ECONNREFUSED…) in `cause`.
  const cause = err.cause as { code?: string; message?: string } | undefined;
  return cause?.code ?? cause?.message ?? err.message;
}
