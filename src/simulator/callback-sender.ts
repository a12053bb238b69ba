import { setTimeout as sleep } from 'node:timers/promises';

export interface RetryPolicy {
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
  policy: RetryPolicy,
  signal: AbortSignal,
  onAttempt: (attempt: number) => void = () => {},
): Promise<Delivery> {
  let lastError: string | undefined;
  for (let attempt = 1; attempt <= policy.attempts; attempt++) {
    try {
      if (attempt > 1) await sleep(policy.baseDelayMs * 2 ** (attempt - 2), undefined, { signal });
      onAttempt(attempt);
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.any([signal, AbortSignal.timeout(ATTEMPT_TIMEOUT_MS)]),
      });
      await res.arrayBuffer(); // frees the connection for reuse
      if (res.ok) return { delivered: true, attempts: attempt };
      lastError = `HTTP ${res.status}`;
    } catch (err) {
      if (signal.aborted) return { delivered: false, attempts: attempt, lastError: 'simulator closed' };
      lastError = describe(err);
    }
  }
  return { delivered: false, attempts: policy.attempts, lastError };
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // fetch hides the socket error (ECONNREFUSED…) in `cause`.
  const cause = err.cause as { code?: string; message?: string } | undefined;
  return cause?.code ?? cause?.message ?? err.message;
}
