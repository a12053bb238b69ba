// The operator's tickets list (/admin/tickets) with 1 thousand versus 1 million tickets: the first page must cost
// about the same, because it is a keyset page over an index. Run alone:
//   node --import tsx bench/admin-tickets.bench.ts            (SQLite; MySQL too when BENCH_MYSQL_URL is set)
//   BENCH_ADMIN_ROWS=1000,100000 node --import tsx bench/admin-tickets.bench.ts
// or through `npm run bench` (bench/scenarios/growth.ts calls runAdminTicketsBench).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type { Dialect } from '../src/core/db/database.js';
import { toDbTime } from '../src/core/db/time.js';
import { encodeTimeKey } from '../src/admin/keyset.js';
import { startApp, type AppProcess } from './support/app.js';
import { benchDatabase, DEFAULT_MYSQL_URL, type BenchDatabase } from './support/database.js';

const TARGET = 1.5;
/** Rounds to warm up, then rounds measured (each round asks every size once); smoke-sized runs measure fewer. */
const WARM = 30;
const SAMPLES = 150;
const SMOKE_SAMPLES = 20;
const PAGE = 50;
const ADMIN = { ADMIN_USER: 'bench', ADMIN_PASSWORD: 'bench-admin-password' };
const AUTH = `Basic ${Buffer.from(`${ADMIN.ADMIN_USER}:${ADMIN.ADMIN_PASSWORD}`).toString('base64')}`;
const BATCH = 1000;
/** MySQL commits every this many rows, so its undo log stays small. */
const COMMIT_EVERY = 50_000;
const TICKETS_PER_SHOW = 500;

export type AdminScenario = 'unfiltered' | 'status' | 'phone' | 'deep';

/** One measured page, and (for the largest size) how it compares with the smallest: the shape the bench runner reads. */
export interface Result {
  name: string;
  value: number;
  unit: 'ms';
  dialect: string;
  rows: number;
  scenario: AdminScenario;
  medianMs: number;
  p95Ms: number;
  samples: number;
  baseline?: { name: string; value: number };
  ratio?: number;
  target?: { text: string; met: boolean };
  detail?: string;
}

const TICKET_COLUMNS = [
  'ticketId', 'ref', 'movieId', 'customerName', 'phoneNumber', 'email', 'quantity', 'totalAmount', 'paymentStatus',
  'holdsTickets', 'mpesaReceiptNumber', 'transactionDate', 'resultCode', 'failureReason', 'confirmedBy', 'needsRefund',
  'refundedAt', 'pendingSince', 'nextCheckAt', 'createdAt', 'updatedAt',
] as const;
const MOVIE_COLUMNS = [
  'movieId', 'title', 'description', 'showTime', 'price', 'maximumTickets', 'ticketsHeld', 'imageUrl', 'createdAt', 'updatedAt',
] as const;

const count = (n: number) => (n >= 1_000_000 ? `${n / 1_000_000}M` : n >= 1000 ? `${n / 1000}k` : String(n));

/** The customers: distinct numbers, each booking 20 times at any size (a regular at the counter). */
function phoneOf(k: number): string {
  // 7919 is prime to 10^8, so k → number is one-to-one and the last four digits cycle through all 10 000 endings.
  return `2547${String((k * 7919 + 12_345_678) % 100_000_000).padStart(8, '0')}`;
}

/**
 * Writes `rows` tickets spread over the past year, oldest first (75 % Paid, 20 % Failed, 5 % Pending), on past shows of
 * 500 tickets each, plus ten upcoming shows; straight into the tables with the shared bulk writer.
 * Returns the last six digits of a customer who booked often.
 */
export async function fillAdminBench(bdb: BenchDatabase, rows: number, now: Date): Promise<{ phoneTail: string; middle: string; seconds: number }> {
  const t0 = performance.now();
  const span = 365 * 86_400_000;
  const createdAt = (id: number) => toDbTime(new Date(now.getTime() - span + Math.floor((span * id) / (rows + 1))));
  await bdb.reset();
  const w = await bdb.bulk();
  try {
    const nowDb = toDbTime(now);
    const shows = Math.max(1, Math.ceil(rows / TICKETS_PER_SHOW));
    const movies: unknown[][] = [];
    for (let m = 1; m <= shows + 10; m++) {
      const upcoming = m > shows;
      const showTime = upcoming ? new Date(now.getTime() + (m - shows) * 86_400_000) : new Date(now.getTime() - span + (m * span) / (shows + 1));
      movies.push([m, upcoming ? `Upcoming ${m - shows}` : `Show ${m}`, 'Benchmark show', toDbTime(showTime), 100 + 50 * (m % 5), 100_000, 0, null, nowDb, nowDb]);
      if (movies.length === BATCH) await w.insert('movie', MOVIE_COLUMNS, movies.splice(0));
    }
    await w.insert('movie', MOVIE_COLUMNS, movies);

    const customers = Math.max(1, Math.floor(rows / 20));
    let batch: unknown[][] = [];
    for (let id = 1; id <= rows; id++) {
      const at = createdAt(id);
      const movieId = 1 + Math.floor((id - 1) / TICKETS_PER_SHOW);
      const quantity = 1 + (id % 4);
      const k = id % 20;
      const status = k < 15 ? 'Paid' : k < 19 ? 'Failed' : 'Pending';
      const paid = status === 'Paid';
      batch.push([
        id, randomBytes(18).toString('base64url'), movieId, `Customer ${id}`, phoneOf(id % customers), null, quantity,
        quantity * (100 + 50 * (movieId % 5)), status, status === 'Failed' ? 0 : 1, paid ? `Q${id.toString(36).toUpperCase().padStart(9, '0')}` : null,
        paid ? at : null, paid ? '0' : status === 'Failed' ? '1032' : null, status === 'Failed' ? 'You cancelled the payment on your phone' : null,
        paid ? 'callback' : null, 0, null, at, null, at, at,
      ]);
      if (batch.length === BATCH) {
        await w.insert('ticket', TICKET_COLUMNS, batch);
        batch = [];
      }
      if (id % COMMIT_EVERY === 0) await w.checkpoint();
    }
    await w.insert('ticket', TICKET_COLUMNS, batch);
    await w.close();
  } catch (err) {
    await w.close().catch(() => undefined);
    throw err;
  }
  // The last six digits of the customer of the ticket in the middle: one customer's 20 tickets at every size, found
  // through the four-digit index among the (at 1M) five customers sharing those four digits.
  const customers = Math.max(1, Math.floor(rows / 20));
  // A page link from the middle of the list, as "next" would carry after paging halfway down.
  const mid = Math.max(1, Math.floor(rows / 2));
  return {
    phoneTail: phoneOf(Math.floor(rows / 2) % customers).slice(-6),
    middle: encodeTimeKey({ at: createdAt(mid), id: mid }),
    seconds: (performance.now() - t0) / 1000,
  };
}

async function timeGet(url: string): Promise<{ ms: number; status: number; body: string }> {
  const t0 = performance.now();
  const res = await fetch(url, { headers: { Authorization: AUTH } });
  const body = await res.text();
  return { ms: performance.now() - t0, status: res.status, body };
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

interface Target {
  rows: number;
  app: AppProcess;
  phoneTail: string;
  middle: string;
}

/**
 * Median and p95 per size for one filter. The sizes are asked in turn, one request each per round (alternating which
 * goes first), so a noisy neighbour on the machine slows both alike and the ratio stays honest. Every answer must list
 * a full page (or, for the phone, that customer's 20 tickets).
 */
async function measure(targets: Target[], samples: number, path: (t: Target) => string, expectRows: (n: number, t: Target) => boolean) {
  const warm = Math.min(WARM, samples);
  const times = targets.map(() => [] as number[]);
  const listed = targets.map(() => 0);
  for (let round = 0; round < warm + samples; round++) {
    const order = round % 2 === 0 ? targets.map((_, i) => i) : targets.map((_, i) => targets.length - 1 - i);
    for (const i of order) {
      const t = targets[i]!;
      const r = await timeGet(t.app.baseUrl + path(t));
      if (r.status !== 200) throw new Error(`${path(t)} answered ${r.status} with ${t.rows} tickets`);
      const n = (r.body.match(/<tr data-ticket-id="/g) ?? []).length;
      if (!expectRows(n, t)) throw new Error(`${path(t)} listed ${n} tickets with ${t.rows} tickets`);
      listed[i] = n;
      if (round >= warm) times[i]!.push(r.ms);
    }
  }
  return targets.map((_, i) => {
    const sorted = times[i]!.sort((a, b) => a - b);
    return { median: quantile(sorted, 0.5), p95: quantile(sorted, 0.95), listed: listed[i]! };
  });
}

function mysqlUrlFor(base: string, rows: number, run: string): string {
  // A schema per size and per run: apart from the runner's other scenarios, and from another run of this benchmark
  // on the same server (a fixed name let one run drop the other's database half-way through its fill).
  const u = new URL(base);
  u.pathname = `/tikiti_bench_admin_${run}_${rows}`;
  return u.toString();
}

/**
 * For each dialect: fills one database per size, starts the app on each as `npm start` runs it (its own process, real
 * port, request logging on), and measures the first page of /admin/tickets unfiltered, with status=Paid, and with the
 * last six digits of a regular customer's phone, and a page halfway down. For the largest size each figure carries the smallest size as its
 * baseline and the ratio.
 */
export async function runAdminTicketsBench(opts: { rows: number[]; dialects: string[]; samples?: number; log?: (line: string) => void }): Promise<Result[]> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const sizes = [...new Set(opts.rows)].sort((a, b) => a - b);
  const samples = opts.samples ?? (Math.max(...sizes) >= 100_000 ? SAMPLES : SMOKE_SAMPLES);
  const measured: Result[] = [];
  const workDir = mkdtempSync(join(tmpdir(), 'tikiti-admin-bench-'));
  try {
    for (const d of opts.dialects) {
      if (d !== 'sqlite' && d !== 'mysql') throw new Error(`dialect ${d}: use sqlite or mysql`);
      const dialect = d as Dialect;
      const base = process.env.BENCH_MYSQL_URL ?? DEFAULT_MYSQL_URL;
      const run = randomBytes(3).toString('hex');
      const dbs = sizes.map((rows) => benchDatabase(dialect, join(workDir, `n${rows}`), mysqlUrlFor(base, rows, run)));
      const targets: Target[] = [];
      try {
        const version = await dbs[0]!.version().catch(() => dialect);
        for (const [i, rows] of sizes.entries()) {
          log(`admin/${dialect}: writing ${count(rows)} tickets…`);
          const data = await fillAdminBench(dbs[i]!, rows, new Date());
          log(`  written in ${data.seconds.toFixed(1)} s`);
          const app = await startApp({ name: `admin-${count(rows)}-${dialect}`, databaseUrl: dbs[i]!.url, workDir, env: { ...ADMIN, LOG_LEVEL: 'info' } });
          targets.push({ rows, app, phoneTail: data.phoneTail, middle: data.middle });
        }
        const full = (n: number, t: Target) => n === Math.min(PAGE, t.rows);
        const scenarios: Array<[AdminScenario, (t: Target) => string, (n: number, t: Target) => boolean]> = [
          ['unfiltered', () => '/admin/tickets', full],
          ['status', () => '/admin/tickets?status=Paid', full],
          ['phone', (t) => `/admin/tickets?phone=${t.phoneTail}`, (n, t) => n === Math.min(20, t.rows)],
          // Halfway down the list (500 thousand rows in at 1M): what OFFSET would make slow, a keyset page does not.
          ['deep', (t) => `/admin/tickets?after=${t.middle}`, (n, t) => n === Math.min(PAGE, Math.max(0, Math.floor(t.rows / 2) - 1))],
        ];
        // For information only: the filter totals are a full aggregate by design, loaded after the list page.
        for (const t of targets) {
          const runs: number[] = [];
          for (let i = 0; i < 5; i++) runs.push((await timeGet(`${t.app.baseUrl}/admin/tickets/totals?fragment=1`)).ms);
          log(`  ${dialect} totals (full count, not a target) ${count(t.rows).padStart(5)} tickets: median ${runs.sort((a, b) => a - b)[2]!.toFixed(1)} ms`);
        }
        for (const [scenario, path, expect] of scenarios) {
          const results = await measure(targets, samples, path, expect);
          for (const [i, m] of results.entries()) {
            const t = targets[i]!;
            log(`  ${dialect} ${scenario.padEnd(10)} ${count(t.rows).padStart(5)} tickets: median ${m.median.toFixed(2)} ms, p95 ${m.p95.toFixed(2)} ms (${m.listed} rows listed)`);
            measured.push({
              name: `Admin tickets ${scenario === 'deep' ? 'page halfway down' : `first page, ${scenario}`}, ${count(t.rows)} tickets, ${version}`,
              value: m.median, unit: 'ms', dialect, rows: t.rows, scenario, medianMs: m.median, p95Ms: m.p95, samples,
              detail: `GET ${path(t)}: median of ${samples} requests (sizes asked in turn) after ${Math.min(WARM, samples)} rounds to warm up; p95 ${m.p95.toFixed(2)} ms; ${m.listed} rows listed`,
            });
          }
        }
      } finally {
        for (const t of targets) await t.app.stop();
        for (const db of dbs) await db.dispose().catch(() => undefined);
      }
    }
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }

  // The figures the runner prints: the largest size against the smallest, per dialect and filter.
  const smallest = sizes[0]!;
  const largest = sizes[sizes.length - 1]!;
  if (smallest === largest) return measured;
  return measured
    .filter((r) => r.rows === largest)
    .map((r) => {
      const base = measured.find((b) => b.rows === smallest && b.dialect === r.dialect && b.scenario === r.scenario)!;
      const ratio = r.medianMs / base.medianMs;
      return {
        ...r,
        baseline: { name: `median with ${count(smallest)} tickets`, value: base.medianMs },
        ratio,
        target: { text: `ratio ≤ ${TARGET}`, met: ratio <= TARGET },
        detail: `${r.detail}; with ${count(smallest)} tickets: median ${base.medianMs.toFixed(2)} ms, p95 ${base.p95Ms.toFixed(2)} ms`,
      };
    });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const rows = (process.env.BENCH_ADMIN_ROWS ?? '1000,1000000').split(',').map((s) => Number(s.replace(/_/g, '')));
  if (rows.some((n) => !Number.isSafeInteger(n) || n < 1)) throw new Error('BENCH_ADMIN_ROWS: comma-separated positive integers');
  const dialects = process.env.BENCH_MYSQL_URL ? ['sqlite', 'mysql'] : ['sqlite'];
  const results = await runAdminTicketsBench({ rows, dialects });
  console.log(`\n== /admin/tickets (first page; 'deep' is a page halfway down), median of ${results[0]?.samples ?? SAMPLES} requests per size (target: ratio ≤ ${TARGET})`);
  for (const r of results) {
    const cmp = r.baseline ? `  vs ${r.baseline.value.toFixed(2)} ms with ${count(Math.min(...rows))}: ratio ${r.ratio!.toFixed(2)} ${r.target!.met ? 'met' : 'MISSED'}` : '';
    console.log(`${r.dialect.padEnd(7)} ${r.scenario.padEnd(10)} ${count(r.rows).padStart(5)} tickets: ${r.medianMs.toFixed(2)} ms (p95 ${r.p95Ms.toFixed(2)})${cmp}`);
  }
}
