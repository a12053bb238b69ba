import { createHash } from 'node:crypto';
import type { Logger } from '../core/logger.js';

/** What a rejected callback keeps of its body: its start. A real callback is about 1 KB. */
export const REJECTED_BODY_PREFIX_BYTES = 2048;
const HOUR_MS = 3_600_000;
/** Sources tracked at once; past it every further source shares one budget (a spray from many addresses). */
const MAX_SOURCES = 10_000;
const OTHERS = '(other sources)';

/**
 * A body cut to its first `REJECTED_BODY_PREFIX_BYTES` bytes, with the size and sha256 of what was read, so the
 * callback URL cannot fill the disk with bodies nobody authorised. (A body over the route's 64 KB limit is hashed on
 * the part that was read; its full size is still told.)
 */
export function boundedBody(raw: string, fullBytes?: number): { body: string; bodyBytes: number; bodySha256: string } {
  const buf = Buffer.from(raw, 'utf8');
  let body = raw;
  if (buf.length > REJECTED_BODY_PREFIX_BYTES) {
    // Cut on a character boundary: drop a trailing partial UTF-8 sequence rather than store a replacement character.
    let end = REJECTED_BODY_PREFIX_BYTES;
    while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--;
    body = buf.subarray(0, end).toString('utf8');
  }
  return { body, bodyBytes: fullBytes ?? buf.length, bodySha256: createHash('sha256').update(buf).digest('hex') };
}

/**
 * How many rejected callbacks each source address may have stored per hour (REJECTED_CALLBACKS_PER_SOURCE_PER_HOUR);
 * past it they are only counted: one warning when a source goes over, and one line with the count when its hour
 * ends. Kept in memory per instance: what matters is that the disk stays bounded, not an exact figure.
 */
export class RejectedBudget {
  private readonly windows = new Map<string, { start: number; stored: number; counted: number }>();

  constructor(private readonly perHour: number, private readonly logger: Logger, private readonly now: () => Date) {}

  /** True when this rejected callback may be stored; false when it is only counted. */
  admit(sourceIp: string | null): boolean {
    const t = this.now().getTime();
    let key = sourceIp ?? '(no address)';
    if (!this.windows.has(key) && this.windows.size >= MAX_SOURCES) {
      this.sweep(t);
      if (this.windows.size >= MAX_SOURCES) key = OTHERS;
    }
    let w = this.windows.get(key);
    if (w && t - w.start >= HOUR_MS) {
      this.report(key, w);
      w = undefined;
    }
    if (!w) {
      w = { start: t, stored: 0, counted: 0 };
      this.windows.set(key, w);
    }
    if (w.stored < this.perHour) {
      w.stored++;
      return true;
    }
    if (w.counted++ === 0) {
      this.logger.warn({ event: 'payments.callback.rejected_over_budget', sourceIp: key, budget: this.perHour },
        'rejected callbacks from this source are over their hourly budget: further ones this hour are only counted, not stored');
    }
    return false;
  }

  /** Rejected callbacks counted and not stored so far, per source (this hour's windows). */
  counted(): Record<string, number> {
    return Object.fromEntries([...this.windows].filter(([, w]) => w.counted > 0).map(([k, w]) => [k, w.counted]));
  }

  private sweep(t: number): void {
    for (const [k, w] of this.windows) {
      if (t - w.start >= HOUR_MS) {
        this.report(k, w);
        this.windows.delete(k);
      }
    }
  }

  private report(key: string, w: { counted: number }): void {
    if (w.counted > 0) {
      this.logger.warn({ event: 'payments.callback.rejected_counted', sourceIp: key, counted: w.counted },
        'rejected callbacks counted but not stored in the past hour');
    }
  }
}
