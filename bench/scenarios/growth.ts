import type { Dialect } from '../../src/core/db/database.js';
import { runAdminTicketsBench } from '../admin-tickets.bench.js';
import { label, ms, type Context } from '../context.js';
import { startApp } from '../support/app.js';
import { fillDatabase } from '../support/data.js';
import { non200, paced, type PacedResult } from '../support/load.js';
import { checkPassed, describeCheck, verifyTickets } from '../support/verify.js';

const GROWTH_TARGET = 1.5;

const fmtCount = (n: number) => (n >= 1_000_000 ? `${n / 1_000_000}M` : n >= 1000 ? `${n / 1000}k` : String(n));

/**
 * Callback cost with `tickets` in the database: `tickets - pendingCount` settled ones (each with its push attempt and
 * inbox row), plus the Pending ones the run pays; callbacks sent at a steady rate so the p50 is service time, not queueing.
 */
async function callbackP50(ctx: Context, dialect: Dialect, tickets: number): Promise<{ result: PacedResult; fillSeconds: number }> {
  const g = ctx.sizes.growth;
  const bdb = ctx.databases.get(dialect)!;
  const pendingCount = g.small;
  ctx.log(`growth/${dialect}: writing ${tickets} tickets…`);
  const fill = await fillDatabase(bdb, { history: tickets - pendingCount, pending: pendingCount });
  ctx.log(`  written in ${fill.seconds.toFixed(1)} s`);
  const app = await startApp({ name: `growth-${fmtCount(tickets)}-${dialect}`, databaseUrl: bdb.url, workDir: ctx.workDir });
  try {
    const body = (i: number) => fill.pending.body(i);
    const warm = await paced({ url: app.callbackUrl, rate: g.rate, count: g.warm, body });
    const result = await paced({ url: app.callbackUrl, rate: g.rate, count: pendingCount - g.warm, startIndex: g.warm, body });
    const answered = new Uint8Array(pendingCount);
    answered.set(warm.answered, 0);
    answered.set(result.answered, g.warm);
    const h = await bdb.open();
    const check = await verifyTickets(h, fill.pending, { from: 0, count: pendingCount, answered }).finally(() => h.close());
    ctx.check({
      scenario: 'growth',
      name: `Ticket states, ${fmtCount(tickets)} tickets, ${label(dialect)}`,
      passed: checkPassed(check) && non200(result) + non200(warm) === 0,
      detail: `${describeCheck(check)}; non-200 ${non200(result) + non200(warm)}`,
    });
    ctx.log(`  p50 ${ms(result.latency.p50)}, p99 ${ms(result.latency.p99)}; ${describeCheck(check)}`);
    return { result, fillSeconds: fill.seconds };
  } finally {
    await app.stop();
  }
}

/** Callback p50 with 1 thousand versus 1 million tickets in the database, per dialect; then the admin list's growth. */
export async function growthScenario(ctx: Context): Promise<void> {
  const g = ctx.sizes.growth;
  for (const dialect of ctx.dialects) {
    const small = await callbackP50(ctx, dialect, g.small);
    const large = await callbackP50(ctx, dialect, g.large);
    const ratio = large.result.latency.p50 / small.result.latency.p50;
    ctx.figure({
      scenario: 'growth',
      name: `Callback p50 with ${fmtCount(g.large)} tickets, ${label(dialect)}`,
      value: large.result.latency.p50,
      unit: 'ms',
      baseline: { name: `p50 with ${fmtCount(g.small)} tickets`, value: small.result.latency.p50 },
      ratio,
      target: { text: `ratio ≤ ${GROWTH_TARGET}`, met: ratio <= GROWTH_TARGET },
      detail: `${g.small - g.warm} callbacks at ${g.rate}/s after ${g.warm} to warm up; p99 ${ms(large.result.latency.p99)} vs ${ms(small.result.latency.p99)}; filling ${fmtCount(g.large)} tickets took ${large.fillSeconds.toFixed(0)} s`,
    });
  }
  await adminGrowth(ctx);
}

/** The admin tickets list's growth, measured by bench/admin-tickets.bench.ts. */
async function adminGrowth(ctx: Context): Promise<void> {
  ctx.log(`growth/admin: runAdminTicketsBench({ rows: [${ctx.sizes.admin.rows.join(', ')}] })…`);
  let result: unknown;
  try {
    result = await runAdminTicketsBench({ rows: ctx.sizes.admin.rows, dialects: ctx.dialects, samples: ctx.sizes.admin.samples, log: ctx.log });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    ctx.check({ scenario: 'growth', name: 'Admin tickets list benchmark ran to the end', passed: false, detail: message.split('\n')[0]! });
    ctx.log(`! runAdminTicketsBench failed: ${message}`);
    return;
  }
  recordAdminResult(ctx, result);
}

/** Takes figure-like records ({ name, value, … }) as figures; anything else is kept verbatim as a note. */
function recordAdminResult(ctx: Context, result: unknown): void {
  const items = Array.isArray(result) ? result : result && typeof result === 'object' && Array.isArray((result as { figures?: unknown }).figures) ? (result as { figures: unknown[] }).figures : undefined;
  let taken = 0;
  for (const item of items ?? []) {
    const f = item as Record<string, unknown>;
    if (typeof f.name !== 'string' || typeof f.value !== 'number') continue;
    const baseline = f.baseline as { name?: unknown; value?: unknown } | undefined;
    const hasBaseline = baseline && typeof baseline.value === 'number';
    const ratio = typeof f.ratio === 'number' ? f.ratio : hasBaseline ? f.value / (baseline.value as number) : undefined;
    const target = f.target as { text?: unknown; met?: unknown } | undefined;
    ctx.figure({
      scenario: 'admin',
      name: f.name,
      value: f.value,
      unit: typeof f.unit === 'string' ? f.unit : 'ms',
      baseline: hasBaseline ? { name: String(baseline.name ?? 'baseline'), value: baseline.value as number } : undefined,
      ratio,
      target:
        target && typeof target.met === 'boolean'
          ? { text: String(target.text ?? ''), met: target.met }
          : ratio !== undefined
            ? { text: `ratio ≤ ${GROWTH_TARGET}`, met: ratio <= GROWTH_TARGET }
            : undefined,
      detail: typeof f.detail === 'string' ? f.detail : undefined,
    });
    taken++;
  }
  if (taken === 0) ctx.note(`Admin tickets list growth (runAdminTicketsBench returned): ${JSON.stringify(result)}`);
}
