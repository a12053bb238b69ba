import { join } from 'node:path';
import type { Dialect } from '../../src/core/db/database.js';
import { label, ms, type Context } from '../context.js';
import { startApp, startHello } from '../support/app.js';
import { fillDatabase, PendingTickets } from '../support/data.js';
import { non200, paced, saturate, type SaturationResult } from '../support/load.js';
import { formatProfile, summariseProfile } from '../support/profile.js';
import { checkPassed, describeCheck, verifyTickets } from '../support/verify.js';

const MYSQL_RATIO_TARGET = 0.35;
const P99_TARGET_MS = 25;

/** CPU ms of a process per request between two readings (NaN where /proc is not there). */
const cpuPer = (before: number | undefined, after: number | undefined, requests: number) =>
  before === undefined || after === undefined || requests === 0 ? NaN : (after - before) / requests;

/** Bodies for the baseline: the same shapes and sizes as the app gets, no database behind them. */
function helloBodies(): PendingTickets {
  return new PendingTickets(1, 10_000, Array.from({ length: 10 }, (_, i) => i + 1), Array.from({ length: 10 }, (_, i) => 100 + 50 * i), new Date());
}

/** Bare Express parsing the same JSON: the machine's ceiling for this request, measured right before the app. */
async function measureHello(ctx: Context) {
  const s = ctx.sizes.callbacks;
  const hello = await startHello(ctx.workDir);
  try {
    const bodies = helloBodies();
    const body = (i: number) => bodies.body(i % bodies.count);
    if (s.helloWarmSeconds > 0) {
      await saturate({ url: hello.callbackUrl, connections: s.connections, duration: s.helloWarmSeconds, wrap: bodies.count, body });
    }
    const cpu0 = hello.cpuMs();
    const sat = await saturate({ url: hello.callbackUrl, connections: s.connections, duration: s.helloSeconds, wrap: bodies.count, body });
    const cpuPerRequest = cpuPer(cpu0, hello.cpuMs(), sat.requests);
    const steady = await paced({ url: hello.callbackUrl, rate: s.pacedRate, count: s.helloPacedCount, body });
    return { sat, steady, cpuPerRequest };
  } finally {
    await hello.stop();
  }
}

/**
 * Callback ingestion: real Daraja callback bodies (7 in 10 paid, the rest failed in six ways), each for its own
 * Pending ticket: first a steady 200/s stream for latency, then 64 keep-alive connections posting as fast as the app
 * answers. Both against the bare Express baseline measured just before, and every ticket checked afterwards.
 */
export async function callbacksScenario(ctx: Context): Promise<void> {
  const s = ctx.sizes.callbacks;
  for (const dialect of ctx.dialects) {
    const bdb = ctx.databases.get(dialect)!;
    ctx.log(`callbacks/${dialect}: baseline (bare Express, same JSON)…`);
    const hello = await measureHello(ctx);
    ctx.log(`  hello: ${hello.sat.rps.toFixed(0)} req/s, p99 at ${s.pacedRate}/s ${ms(hello.steady.latency.p99)}`);

    // Order: warm-up, the steady stream, then saturation. The steady stream comes first because right after 23
    // thousand transactions at full speed the database is still flushing and purging, and that is not the latency
    // a steady stream sees.
    const gap = s.connections + 1; // autocannon builds one body per connection it never sends
    const warmAt = 0;
    const pacedAt = s.warm + gap;
    const measureAt = pacedAt + s.pacedCount;
    const total = measureAt + s.measured + gap;
    ctx.log(`callbacks/${dialect}: writing ${total} Pending tickets…`);
    const fill = await fillDatabase(bdb, { history: 0, pending: total });
    const app = await startApp({ name: `callbacks-${dialect}`, databaseUrl: bdb.url, workDir: ctx.workDir });
    const answered = new Uint8Array(total);
    const mark = (at: number, bits: Uint8Array, count: number) => {
      for (let k = 0; k < Math.min(bits.length, count); k++) if (bits[k]) answered[at + k] = 1;
    };
    let sat: SaturationResult;
    try {
      const body = (i: number) => fill.pending.body(i);
      const warm = await saturate({ url: app.callbackUrl, connections: s.connections, amount: s.warm, startIndex: warmAt, body });
      mark(warmAt, warm.answered, s.warm + gap);
      ctx.log(`  warm-up: ${warm.requests} callbacks`);
      const steady = await paced({ url: app.callbackUrl, rate: s.pacedRate, count: s.pacedCount, startIndex: pacedAt, body });
      mark(pacedAt, steady.answered, s.pacedCount);
      ctx.log(`  steady ${s.pacedRate}/s: p50 ${ms(steady.latency.p50)}, p99 ${ms(steady.latency.p99)}, max ${ms(steady.latency.max)}`);
      const cpu0 = app.cpuMs();
      sat = await saturate({ url: app.callbackUrl, connections: s.connections, amount: s.measured, startIndex: measureAt, body });
      const cpuPerCallback = cpuPer(cpu0, app.cpuMs(), sat.requests);
      mark(measureAt, sat.answered, s.measured + gap);
      ctx.log(`  ${label(dialect)}: ${sat.rps.toFixed(0)} req/s, p50 ${ms(sat.latency.p50)}, p99 ${ms(sat.latency.p99)}, non-200 ${non200(sat)}`);

      const h = await bdb.open();
      const check = await verifyTickets(h, fill.pending, { from: 0, count: total, answered }).finally(() => h.close());
      ctx.check({ scenario: 'callbacks', name: `Ticket states after ${check.checked} callbacks, ${label(dialect)}`, passed: checkPassed(check), detail: describeCheck(check) });
      ctx.log(`  check: ${describeCheck(check)}`);

      const ratio = sat.rps / hello.sat.rps;
      ctx.figure({
        scenario: 'callbacks',
        name: `Callback ingestion, ${label(dialect)} (64 connections)`,
        value: sat.rps,
        unit: 'req/s',
        baseline: { name: 'bare Express parsing the same JSON', value: hello.sat.rps },
        ratio,
        target: dialect === 'mysql' ? { text: `ratio ≥ ${MYSQL_RATIO_TARGET}`, met: ratio >= MYSQL_RATIO_TARGET } : undefined,
        detail: `${sat.requests} callbacks in ${sat.seconds.toFixed(1)} s; latency under saturation p50 ${ms(sat.latency.p50)}, p99 ${ms(sat.latency.p99)} (baseline p99 ${ms(hello.sat.latency.p99)})`,
      });
      ctx.figure({
        scenario: 'callbacks',
        name: `App CPU time per callback, ${label(dialect)}`,
        value: cpuPerCallback,
        unit: 'ms',
        baseline: { name: 'bare Express CPU per request', value: hello.cpuPerRequest },
        ratio: cpuPerCallback / hello.cpuPerRequest,
        detail: 'user + system time of the app process (/proc/<pid>/stat) over the saturation run, divided by the callbacks answered: unlike req/s it hardly depends on what else the machine is doing',
      });
      const bad = non200(sat) + non200(steady) + non200(warm);
      ctx.figure({
        scenario: 'callbacks',
        name: `Non-200 answers, ${label(dialect)}`,
        value: bad,
        unit: 'answers',
        target: { text: '0', met: bad === 0 },
        detail: `statuses ${JSON.stringify({ ...sat.statuses })}, connection errors ${sat.errors + steady.errors}, timeouts ${sat.timeouts + steady.timeouts}, over ${warm.requests + sat.requests + steady.requests} callbacks`,
      });
      ctx.figure({
        scenario: 'callbacks',
        name: `Callback p99 at a steady ${s.pacedRate}/s, ${label(dialect)}`,
        value: steady.latency.p99,
        unit: 'ms',
        baseline: { name: `bare Express p99 at ${s.pacedRate}/s`, value: hello.steady.latency.p99 },
        ratio: steady.latency.p99 / hello.steady.latency.p99,
        target: { text: `≤ ${P99_TARGET_MS} ms`, met: steady.latency.p99 <= P99_TARGET_MS },
        detail: `${s.pacedCount} callbacks, open loop (sent on schedule, timed from when each was due); p50 ${ms(steady.latency.p50)}, p90 ${ms(steady.latency.p90)}, max ${ms(steady.latency.max)}; achieved ${steady.achievedRate.toFixed(0)}/s`,
      });
    } finally {
      await app.stop();
    }

    const missed = dialect === 'mysql' && sat.rps / hello.sat.rps < MYSQL_RATIO_TARGET;
    if (ctx.profile || (missed && !ctx.smoke)) await profileCallbacks(ctx, dialect);
  }
}

/** A separate pass under --cpu-prof (profiling slows the app, so it never produces the figures above). */
export async function profileCallbacks(ctx: Context, dialect: Dialect): Promise<void> {
  const s = ctx.sizes.callbacks;
  const bdb = ctx.databases.get(dialect)!;
  const count = s.warm + s.measured;
  ctx.log(`callbacks/${dialect}: profiling pass (${count} callbacks under --cpu-prof)…`);
  const fill = await fillDatabase(bdb, { history: 0, pending: count + s.connections + 1 });
  const dir = join(ctx.workDir, 'profiles', `callbacks-${dialect}-${Date.now()}`);
  const app = await startApp({ name: `profile-${dialect}`, databaseUrl: bdb.url, workDir: ctx.workDir, cpuProfileDir: dir });
  let rps = 0;
  try {
    const r = await saturate({ url: app.callbackUrl, connections: s.connections, amount: count, body: (i) => fill.pending.body(i) });
    rps = r.rps;
  } finally {
    await app.stop();
  }
  const file = app.cpuProfiles()[0];
  if (!file) {
    ctx.note(`No CPU profile was written for ${dialect} (the app did not exit cleanly).`);
    return;
  }
  const text = formatProfile(summariseProfile(file, 20), `App process, ${count} callbacks at 64 connections on ${label(dialect)} (${rps.toFixed(0)} req/s under the profiler)`);
  ctx.profileSummary(`Callback ingestion, ${label(dialect)}`, text);
  ctx.log(text);
}
