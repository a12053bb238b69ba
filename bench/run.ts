// `npm run bench [-- --smoke] [--only callbacks|booking|growth|memory[,…]] [--dialects mysql,sqlite] [--profile] [--out FILE] [--keep]`
// Prints every figure with its same-run baseline and ratio; a complete run also rewrites docs/benchmarks.md.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Dialect } from '../src/core/db/database.js';
import { runBench } from './bench.js';
import { SCENARIOS, type Scenario } from './context.js';
import { ROOT } from './support/processes.js';
import { consoleLines, markdown } from './support/report.js';

function fail(message: string): never {
  console.error(`bench: ${message}`);
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    only: { type: 'string', multiple: true },
    dialects: { type: 'string' },
    profile: { type: 'boolean', default: false },
    out: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
  allowPositionals: false,
});

const only = (values.only ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
for (const o of only) if (!SCENARIOS.includes(o as Scenario)) fail(`--only ${o}: choose from ${SCENARIOS.join(', ')}`);
const dialects = values.dialects?.split(',').map((d) => d.trim());
for (const d of dialects ?? []) if (d !== 'mysql' && d !== 'sqlite') fail(`--dialects ${d}: use mysql and/or sqlite`);

const report = await runBench({
  smoke: values.smoke,
  only: only as Scenario[],
  dialects: dialects as Dialect[] | undefined,
  profile: values.profile,
  keepWorkDir: values.keep,
});

console.log('\n== Tikiti benchmarks' + (report.smoke ? ' (smoke: sizes too small to mean anything)' : ''));
console.log(`${report.machine.cpu}, ${report.machine.cores} cores, ${report.machine.memoryGb.toFixed(1)} GB; Node ${report.machine.node}; ${report.machine.databases.join('; ')}`);
for (const line of consoleLines(report)) console.log(line);
for (const p of report.profiles) console.log(`\n${p.text}`);

const complete = !report.smoke && only.length === 0;
const out = values.out ?? (complete ? join(ROOT, 'docs', 'benchmarks.md') : undefined);
if (out) {
  // Analysis written by hand below this marker (what the figures mean, profiles read) survives a re-run.
  const MARKER = '<!-- hand-written below: bench/run.ts keeps it on rewrite -->';
  const previous = existsSync(out) ? readFileSync(out, 'utf8') : '';
  const kept = previous.includes(MARKER) ? previous.slice(previous.indexOf(MARKER)) : `${MARKER}\n`;
  writeFileSync(out, `${markdown(report)}\n${kept}`);
  console.log(`\nwritten to ${out}`);
} else {
  console.log('\n(docs/benchmarks.md is only rewritten by a complete run; use --out FILE to write this one)');
}
if (values.keep) console.log(`logs and profiles kept in ${report.workDir}`);
// A failed correctness check is an error whatever the mode; a missed time target is a finding, not a failure.
process.exitCode = report.checks.every((c) => c.passed) ? 0 : 1;
