import { setTimeout as sleep } from 'node:timers/promises';
import type { Dialect } from '../../src/core/db/database.js';
import { label, type Context } from '../context.js';
import { startApp } from '../support/app.js';
import { fillDatabase } from '../support/data.js';
import { non200, saturate } from '../support/load.js';
import { checkPassed, describeCheck, verifyTickets } from '../support/verify.js';

const GROWTH_TARGET = 1.2;
const mb = (bytes: number) => bytes / (1024 * 1024);

/**
 * Memory: the app's resident set (VmRSS of the app process, not of the load generator) after the first 10 thousand
 * callbacks and after 100 thousand, each read once the load has stopped for a moment. Steady state means the second
 * is barely above the first; a leak per callback shows up as growth proportional to the 90 thousand in between.
 */
export async function memoryScenario(ctx: Context): Promise<void> {
  const m = ctx.sizes.memory;
  const dialect: Dialect = ctx.dialects.includes('mysql') ? 'mysql' : ctx.dialects[0]!;
  const bdb = ctx.databases.get(dialect)!;
  const gap = m.connections + 1;
  const secondAt = m.first + gap;
  const total = secondAt + (m.total - m.first) + gap;
  ctx.log(`memory/${dialect}: writing ${total} Pending tickets…`);
  const fill = await fillDatabase(bdb, { history: 0, pending: total });
  const app = await startApp({ name: `memory-${dialect}`, databaseUrl: bdb.url, workDir: ctx.workDir });
  const answered = new Uint8Array(total);
  try {
    const body = (i: number) => fill.pending.body(i);
    const before = app.memory();
    const first = await saturate({ url: app.callbackUrl, connections: m.connections, amount: m.first, body });
    answered.set(first.answered.subarray(0, Math.min(first.answered.length, secondAt)), 0);
    await sleep(m.settleMs);
    const afterFirst = app.memory();
    ctx.log(`  after ${first.requests}: RSS ${mb(afterFirst?.rss ?? NaN).toFixed(1)} MB`);
    const rest = await saturate({ url: app.callbackUrl, connections: m.connections, amount: m.total - m.first, startIndex: secondAt, body });
    answered.set(rest.answered.subarray(0, Math.min(rest.answered.length, total - secondAt)), secondAt);
    await sleep(m.settleMs);
    const afterAll = app.memory();
    ctx.log(`  after ${first.requests + rest.requests}: RSS ${mb(afterAll?.rss ?? NaN).toFixed(1)} MB (peak ${mb(afterAll?.hwm ?? NaN).toFixed(1)} MB)`);

    const h = await bdb.open();
    const check = await verifyTickets(h, fill.pending, { from: 0, count: total, answered }).finally(() => h.close());
    const bad = non200(first) + non200(rest);
    ctx.check({
      scenario: 'memory',
      name: `Ticket states after ${check.checked} callbacks, ${label(dialect)}`,
      passed: checkPassed(check) && bad === 0,
      detail: `${describeCheck(check)}; non-200 ${bad}`,
    });
    if (!afterFirst || !afterAll) {
      ctx.note('Memory: /proc/<pid>/status is not readable here (not Linux?), so RSS was not measured.');
      return;
    }
    const ratio = afterAll.rss / afterFirst.rss;
    ctx.figure({
      scenario: 'memory',
      name: `App RSS after ${(first.requests + rest.requests).toLocaleString('en')} callbacks, ${label(dialect)}`,
      value: mb(afterAll.rss),
      unit: 'MB',
      baseline: { name: `RSS after the first ${first.requests.toLocaleString('en')}`, value: mb(afterFirst.rss) },
      ratio,
      target: { text: `≤ ${GROWTH_TARGET} (at most 20% growth)`, met: ratio <= GROWTH_TARGET },
      detail: `RSS at start ${mb(before?.rss ?? NaN).toFixed(1)} MB; peak (VmHWM) ${mb(afterAll.hwm).toFixed(1)} MB; ${rest.rps.toFixed(0)} req/s during the 90%`,
    });
  } finally {
    await app.stop();
  }
}
