import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';

/** Statuses seen, as { "200": n, … }, plus connection errors and timeouts. */
export interface Answers {
  statuses: Record<string, number>;
  errors: number;
  timeouts: number;
}

export const non200 = (a: Answers): number =>
  Object.entries(a.statuses).reduce((n, [s, c]) => (s === '200' ? n : n + c), 0) + a.errors + a.timeouts;

export interface SaturationResult extends Answers {
  requests: number;
  seconds: number;
  /** Responses per second over the whole run (not autocannon's mean of per-second samples, which the last partial second skews). */
  rps: number;
  latency: { p50: number; p99: number; max: number };
  /** Indexes whose answer arrived; a few more may have been built and never sent when the run stopped. */
  answered: Uint8Array;
}

/**
 * Closed loop at full speed: `connections` keep-alive connections, each sending the next body as soon as its previous
 * answer arrives, until `amount` answers (or for `duration` seconds). Request k carries body(startIndex + k), so every
 * callback is for a different ticket.
 */
export async function saturate(o: {
  url: string;
  connections: number;
  body: (i: number) => string;
  startIndex?: number;
  /** Stop after this many answers… */
  amount?: number;
  /** …or after this many seconds (then bodies wrap around modulo `wrap`). */
  duration?: number;
  wrap?: number;
}): Promise<SaturationResult> {
  const start = o.startIndex ?? 0;
  let next = 0;
  const capacity = o.amount !== undefined ? o.amount + o.connections + 1 : (o.wrap ?? 1);
  const answered = new Uint8Array(capacity);
  const statuses: Record<string, number> = {};
  const t0 = performance.now();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: o.url,
        connections: o.connections,
        ...(o.amount !== undefined ? { amount: o.amount } : { duration: o.duration ?? 10 }),
        timeout: 30,
        requests: [
          {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            setupRequest: (req: autocannon.Request, context: Record<string, unknown>) => {
              const k = o.wrap ? next++ % o.wrap : next++;
              context.k = k;
              return { ...req, body: o.body(start + k) };
            },
            onResponse: (status: number, _body: string, context: Record<string, unknown>) => {
              statuses[status] = (statuses[status] ?? 0) + 1;
              const k = context.k as number;
              if (k < answered.length) answered[k] = 1;
            },
          },
        ],
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    instance.on('error', reject);
  });
  const seconds = (performance.now() - t0) / 1000;
  const requests = Object.values(statuses).reduce((a, b) => a + b, 0);
  return {
    requests,
    seconds,
    rps: requests / seconds,
    latency: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
    statuses,
    errors: result.errors - result.timeouts,
    timeouts: result.timeouts,
    answered,
  };
}

export interface PacedResult extends Answers {
  requests: number;
  rate: number;
  achievedRate: number;
  /** Latency from the moment each request was due (so a stalled sender cannot hide queueing), in ms. */
  latency: { p50: number; p90: number; p99: number; max: number };
  answered: Uint8Array;
}

/**
 * Open loop at a steady rate: request k is due at start + k/rate, whatever happened to earlier ones, as a stream of
 * callbacks from Safaricom arrives. (autocannon's overallRate sends each connection's quota back to back at the top of
 * every second, a burst every second rather than a steady stream.)
 */
export async function paced(o: {
  url: string;
  rate: number;
  count: number;
  body: (i: number) => string;
  startIndex?: number;
  maxSockets?: number;
}): Promise<PacedResult> {
  const start = o.startIndex ?? 0;
  const agent = new Agent({ keepAlive: true, maxSockets: o.maxSockets ?? 64 });
  const url = new URL(o.url);
  const latencies = new Float64Array(o.count);
  const answered = new Uint8Array(o.count);
  const statuses: Record<string, number> = {};
  let errors = 0;
  let timeouts = 0;
  let done = 0;
  const interval = 1000 / o.rate;
  const t0 = performance.now() + 20;
  let lastEnd = t0;

  await new Promise<void>((resolveAll) => {
    const send = (k: number) => {
      const due = t0 + k * interval;
      const payload = Buffer.from(o.body(start + k));
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        const end = performance.now();
        lastEnd = Math.max(lastEnd, end);
        latencies[k] = end - due;
        if (++done === o.count) resolveAll();
      };
      const req = request(
        {
          host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent,
          headers: { 'content-type': 'application/json', 'content-length': payload.length },
          timeout: 30_000,
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            statuses[res.statusCode ?? 0] = (statuses[res.statusCode ?? 0] ?? 0) + 1;
            answered[k] = 1;
            finish();
          });
        },
      );
      req.on('timeout', () => {
        timeouts++;
        req.destroy(new Error('timeout'));
      });
      req.on('error', () => {
        if (!finished) errors++;
        finish();
      });
      req.end(payload);
    };
    let k = 0;
    const tick = () => {
      const now = performance.now();
      while (k < o.count && t0 + k * interval <= now) send(k++);
      if (k < o.count) setTimeout(tick, Math.max(0, t0 + k * interval - performance.now()));
    };
    setTimeout(tick, 20);
  });
  agent.destroy();
  const sorted = Array.from(latencies).sort((a, b) => a - b);
  return {
    requests: o.count,
    rate: o.rate,
    achievedRate: o.count / ((lastEnd - t0) / 1000),
    latency: { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? NaN },
    statuses,
    errors: Math.max(0, errors - timeouts),
    timeouts,
    answered,
  };
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}
