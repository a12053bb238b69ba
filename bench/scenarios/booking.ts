import { Agent, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { performance } from 'node:perf_hooks';
import express from 'express';
import type { Dialect } from '../../src/core/db/database.js';
import { createSimulator } from '../../src/simulator/index.js';
import { label, ms, type Context } from '../context.js';
import { startApp } from '../support/app.js';
import { fillDatabase } from '../support/data.js';
import { percentile } from '../support/load.js';
import { freePort } from '../support/processes.js';

const OVERHEAD_TARGET_MS = 15;

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One browser: keeps its cookies, talks over one keep-alive connection. */
export class VirtualUser {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });
  private readonly cookies = new Map<string, string>();
  csrf = '';

  constructor(private readonly baseUrl: string) {}

  send(method: string, path: string, form?: Record<string, string>): Promise<Answer> {
    const url = new URL(path, this.baseUrl);
    const payload = form ? Buffer.from(new URLSearchParams(form).toString()) : undefined;
    const headers: Record<string, string | number> = { accept: 'text/html' };
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (payload) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      headers['content-length'] = payload.length;
    }
    return new Promise((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, method, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          for (const c of res.headers['set-cookie'] ?? []) {
            const [pair] = c.split(';');
            const eq = pair!.indexOf('=');
            if (eq > 0) this.cookies.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
        });
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Opens the movie page once, as a browser would, for the CSRF cookie and token the form carries. */
  async openForm(movieId: number): Promise<void> {
    const page = await this.send('GET', `/movies/${movieId}`);
    const m = /name="_csrf" value="([^"]+)"/.exec(page.body);
    if (page.status !== 200 || !m) throw new Error(`GET /movies/${movieId} gave ${page.status} without a CSRF token`);
    this.csrf = m[1]!;
  }

  close(): void {
    this.agent.destroy();
  }
}

export async function startSimulator(delayMs: number): Promise<{ url: string; close(): Promise<void> }> {
  // Manual mode: the prompts just wait, so no callback traffic mixes into the booking timings.
  const sim = createSimulator({ mode: 'manual', delayMs: 0, responseDelayMs: delayMs, maxEntries: 100_000 });
  const app = express();
  app.use('/', sim.router);
  const port = await freePort();
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(port, '127.0.0.1', () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      await sim.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface ModeResult {
  latencies: number[];
  refs: string[];
  failures: string[];
}

async function bookings(ctx: Context, dialect: Dialect, simulatorUrl: string, cache: boolean): Promise<ModeResult> {
  const s = ctx.sizes.booking;
  const bdb = ctx.databases.get(dialect)!;
  const fill = await fillDatabase(bdb, { history: 0, pending: 0, showMovies: 1 });
  const movieId = fill.showMovieIds[0]!;
  const app = await startApp({
    name: `booking-${cache ? 'cache' : 'nocache'}-${dialect}`,
    databaseUrl: bdb.url,
    workDir: ctx.workDir,
    // The baseline runs the same app with the client's token cache off (a fresh token before every call).
    ...(cache ? {} : { script: 'bench/support/server-without-token-cache.ts' }),
    env: { DARAJA_BASE_URL: simulatorUrl, DARAJA_TIMEOUT_MS: '10000' },
  });
  const user = new VirtualUser(app.baseUrl);
  const result: ModeResult = { latencies: [], refs: [], failures: [] };
  try {
    await user.openForm(movieId);
    for (let i = 0; i < s.warm + s.bookings; i++) {
      const form = {
        _csrf: user.csrf,
        movieId: String(movieId),
        customerName: `Bench fan ${i}`,
        // A different phone each time, never a simulator test number: no per-phone limit, no special outcome.
        phoneNumber: `07${String(20_000_000 + i * 7 + (cache ? 0 : 3_000_000)).padStart(8, '0')}`,
        quantity: '1',
      };
      const t0 = performance.now();
      const r = await user.send('POST', '/bookings', form);
      const took = performance.now() - t0;
      const ref = /^\/tickets\/([A-Za-z0-9_-]+)$/.exec(String(r.headers.location ?? ''))?.[1];
      if (r.status !== 303 || !ref) {
        result.failures.push(`${r.status} ${String(r.headers.location ?? r.body.slice(0, 120).replace(/\s+/g, ' '))}`);
        continue;
      }
      if (i >= s.warm) {
        result.latencies.push(took);
        result.refs.push(ref);
      }
    }
  } finally {
    user.close();
    await app.stop();
  }
  // Every booking must have reached Daraja: a Pending ticket whose push was accepted (a CheckoutRequestID stored).
  const h = await bdb.open();
  try {
    const rows = await h.db
      .selectFrom('ticket')
      .leftJoin('pushrequest', 'pushrequest.ticketId', 'ticket.ticketId')
      .select(['ticket.ref', 'ticket.paymentStatus', 'pushrequest.checkoutRequestId'])
      .where('ticket.ref', 'in', result.refs.length ? result.refs : ['-'])
      .execute();
    const good = new Set(rows.filter((r) => r.paymentStatus === 'Pending' && r.checkoutRequestId).map((r) => r.ref));
    for (const ref of result.refs) if (!good.has(ref)) result.failures.push(`ticket ${ref} is not Pending with an accepted push`);
  } finally {
    await h.close();
  }
  return result;
}

/**
 * Booking overhead: POST /bookings end to end (form parsing, CSRF, rate limits, the ticket row, the STK push, the
 * redirect) with the simulator answering every Daraja call after D ms. With the token cache a booking costs one
 * round trip (≈ D); with a fresh token every call, as the user's guide does, two (≈ 2 × D). One user, one booking at
 * a time: this measures the cost of a booking, not a queue.
 */
export async function bookingScenario(ctx: Context): Promise<void> {
  const s = ctx.sizes.booking;
  const dialect: Dialect = ctx.dialects.includes('mysql') ? 'mysql' : ctx.dialects[0]!;
  const sim = await startSimulator(s.delayMs);
  try {
    const results: Record<'on' | 'off', ModeResult> = { on: { latencies: [], refs: [], failures: [] }, off: { latencies: [], refs: [], failures: [] } };
    for (const mode of ['on', 'off'] as const) {
      ctx.log(`booking/${dialect}: ${s.bookings} bookings, token cache ${mode}, Daraja answering after ${s.delayMs} ms…`);
      results[mode] = await bookings(ctx, dialect, sim.url, mode === 'on');
      const sorted = [...results[mode].latencies].sort((a, b) => a - b);
      ctx.log(`  median ${ms(percentile(sorted, 50))}, p90 ${ms(percentile(sorted, 90))}, failures ${results[mode].failures.length}`);
    }
    const on = [...results.on.latencies].sort((a, b) => a - b);
    const off = [...results.off.latencies].sort((a, b) => a - b);
    const medOn = percentile(on, 50);
    const medOff = percentile(off, 50);
    const failures = [...results.on.failures, ...results.off.failures];
    ctx.check({
      scenario: 'booking',
      name: `Every booking answered 303 and left a Pending ticket with an accepted push, ${label(dialect)}`,
      passed: failures.length === 0 && on.length > 0 && off.length > 0,
      detail: failures.length ? `${failures.length} failed, e.g. ${failures.slice(0, 3).join(' | ')}` : `${on.length + off.length} bookings`,
    });
    ctx.figure({
      scenario: 'booking',
      name: `Booking median, token cache on (D = ${s.delayMs} ms), ${label(dialect)}`,
      value: medOn,
      unit: 'ms',
      baseline: { name: 'same client, fresh token every call (cacheTokens: false)', value: medOff },
      ratio: medOn / medOff,
      target: { text: `≤ D + ${OVERHEAD_TARGET_MS} ms = ${s.delayMs + OVERHEAD_TARGET_MS} ms`, met: medOn <= s.delayMs + OVERHEAD_TARGET_MS },
      detail: `${on.length} bookings; overhead over D: median ${ms(medOn - s.delayMs)}, p90 ${ms(percentile(on, 90) - s.delayMs)}`,
    });
    ctx.figure({
      scenario: 'booking',
      name: `Booking median, token cache off (D = ${s.delayMs} ms), ${label(dialect)}`,
      value: medOff,
      unit: 'ms',
      baseline: { name: '2 × D', value: 2 * s.delayMs },
      ratio: medOff / (2 * s.delayMs),
      detail: `${off.length} bookings; p90 ${ms(percentile(off, 90))} (expected ≈ 2 × D: a token fetch, then the push)`,
    });
  } finally {
    await sim.close();
  }
}
