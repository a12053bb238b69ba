import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Dialect } from '../src/core/db/database.js';
import { FULL, SCENARIOS, SMOKE, type Check, type Context, type Figure, type Scenario } from './context.js';
import { bookingScenario } from './scenarios/booking.js';
import { callbacksScenario } from './scenarios/callbacks.js';
import { growthScenario } from './scenarios/growth.js';
import { memoryScenario } from './scenarios/memory.js';
import { benchDatabase, DEFAULT_MYSQL_URL, mysqlReachable, type BenchDatabase } from './support/database.js';
import { machine, type Report } from './support/report.js';

export interface BenchOptions {
  smoke?: boolean;
  only?: Scenario[];
  /** Default: MySQL (when BENCH_MYSQL_URL, or the default URL, answers) and SQLite. */
  dialects?: Dialect[];
  profile?: boolean;
  log?: (line: string) => void;
  /** Keep the temp directory (logs, profiles) instead of deleting it. */
  keepWorkDir?: boolean;
}

const RUNNERS: Record<Scenario, (ctx: Context) => Promise<void>> = {
  callbacks: callbacksScenario,
  booking: bookingScenario,
  growth: growthScenario,
  memory: memoryScenario,
};

/** Runs the chosen scenarios in order and returns every figure, check and note (bench/run.ts prints and writes them). */
export async function runBench(opts: BenchOptions = {}): Promise<Report & { workDir: string }> {
  const t0 = performance.now();
  const log = opts.log ?? ((line: string) => console.log(line));
  const notes: string[] = [];
  const mysqlUrl = process.env.BENCH_MYSQL_URL ?? DEFAULT_MYSQL_URL;
  let dialects = opts.dialects ?? (['mysql', 'sqlite'] as Dialect[]);
  if (dialects.includes('mysql') && !(await mysqlReachable(mysqlUrl))) {
    if (opts.dialects) throw new Error(`MySQL at ${redact(mysqlUrl)} does not answer; set BENCH_MYSQL_URL or leave mysql out of --dialects`);
    dialects = dialects.filter((d) => d !== 'mysql');
    notes.push(`MySQL at ${redact(mysqlUrl)} did not answer, so only SQLite was measured (set BENCH_MYSQL_URL).`);
    log(`! ${notes[notes.length - 1]}`);
  }
  if (dialects.length === 0) throw new Error('no database to run on');

  const workDir = mkdtempSync(join(tmpdir(), 'tikiti-bench-'));
  const databases = new Map<Dialect, BenchDatabase>();
  for (const d of dialects) databases.set(d, benchDatabase(d, workDir, mysqlUrl));
  const versions: string[] = [];
  for (const d of dialects) {
    await databases.get(d)!.reset();
    versions.push(await databases.get(d)!.version());
  }

  const figures: Figure[] = [];
  const checks: Check[] = [];
  const profiles: Array<{ title: string; text: string }> = [];
  const scenarios = opts.only?.length ? SCENARIOS.filter((s) => opts.only!.includes(s)) : [...SCENARIOS];
  const ctx: Context = {
    smoke: Boolean(opts.smoke),
    sizes: opts.smoke ? SMOKE : FULL,
    dialects,
    databases,
    workDir,
    profile: Boolean(opts.profile),
    log,
    figure: (f) => figures.push(f),
    check: (c) => checks.push(c),
    note: (n) => notes.push(n),
    profileSummary: (title, text) => profiles.push({ title, text }),
  };
  const report: Report & { workDir: string } = {
    machine: machine(versions),
    smoke: ctx.smoke,
    scenarios,
    figures,
    checks,
    notes,
    profiles,
    seconds: 0,
    workDir,
  };
  try {
    for (const s of scenarios) {
      const started = performance.now();
      try {
        await RUNNERS[s](ctx);
      } catch (err) {
        // One broken step (a database dropped under it, an app that will not start) must not cost the other figures.
        const message = err instanceof Error ? err.message : String(err);
        checks.push({ scenario: s, name: `${s} ran to the end`, passed: false, detail: message.split('\n')[0]! });
        log(`! ${s} stopped: ${message}`);
      }
      log(`${s}: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
  } finally {
    for (const db of databases.values()) await db.dispose().catch(() => undefined);
    if (!opts.keepWorkDir) rmSync(workDir, { recursive: true, force: true });
    report.seconds = (performance.now() - t0) / 1000;
    report.machine.loadAverageEnd = loadavg().map((x) => x.toFixed(2)).join(' ');
  }
  return report;
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}
