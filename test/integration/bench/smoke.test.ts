import { describe, expect, it } from 'vitest';
import { runBench } from '../../../bench/bench.js';
import { SCENARIOS } from '../../../bench/context.js';

// Keeps `npm run bench` working: the smoke sizes run every scenario end to end on SQLite in a few seconds. It asserts
// that every figure was produced and every ticket ended in the right state, never a time: CI machines are too noisy
// for that, and the benchmarks themselves are run by hand (docs/benchmarks.md).
describe('bench smoke', () => {
  it('when the benchmarks run at smoke size, then every scenario yields its figures and every ticket check passes', async () => {
    const lines: string[] = [];
    const report = await runBench({ smoke: true, dialects: ['sqlite'], log: (l) => lines.push(l) });

    for (const scenario of SCENARIOS) {
      const figures = report.figures.filter((f) => f.scenario === scenario);
      expect(figures.length, `${scenario}: no figure\n${lines.join('\n')}`).toBeGreaterThan(0);
      for (const f of figures) {
        expect(Number.isFinite(f.value), `${f.name} = ${f.value}`).toBe(true);
        if (f.baseline) expect(Number.isFinite(f.ratio), `${f.name}: ratio ${f.ratio}`).toBe(true);
      }
    }
    const names = report.figures.map((f) => f.name).join('\n');
    expect(names).toMatch(/Callback ingestion, SQLite/);
    expect(names).toMatch(/Sustained callback rate, SQLite/);
    expect(names).toMatch(/Callback → ticket Paid at a steady .*, SQLite/);
    expect(names).toMatch(/Statements per callback, SQLite/);
    expect(names).toMatch(/Commits per callback, SQLite/);
    expect(names).toMatch(/What preparing saves: the applier's read, SQLite/);
    // Counted by the app, not estimated: an applied callback costs statements and shares a commit with others.
    const counted = (name: RegExp) => report.figures.find((f) => name.test(f.name))!.value;
    expect(counted(/Statements per callback, SQLite/)).toBeGreaterThan(1);
    expect(counted(/Commits per callback, SQLite/)).toBeGreaterThan(0);
    expect(names).toMatch(/Booking median, token cache on/);
    expect(names).toMatch(/Booking median, token cache off/);
    expect(names).toMatch(/Callback p50 with .* tickets, SQLite/);
    expect(names).toMatch(/App RSS after/);

    expect(report.checks.length).toBeGreaterThanOrEqual(4);
    for (const c of report.checks) expect(c.passed, `${c.name}: ${c.detail}`).toBe(true);
  }, 180_000);
});
