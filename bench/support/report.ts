import { execFileSync } from 'node:child_process';
import { cpus, loadavg, release, totalmem } from 'node:os';
import type { Check, Figure } from '../context.js';
import { ROOT } from './processes.js';

export interface Machine {
  cpu: string;
  cores: number;
  memoryGb: number;
  os: string;
  node: string;
  date: string;
  databases: string[];
  loadAverage: string;
  /** Set when the run ends: the 1, 5 and 15 minute load averages then (other work on the box shows up here). */
  loadAverageEnd?: string;
  /** The commit the app ran from, and how many files under src/ and migrations/ differed from it at the start. */
  code: string;
}

function codeVersion(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'migrations'], { cwd: ROOT, encoding: 'utf8' })
      .split('\n').filter(Boolean).length;
    return dirty ? `${head} + ${dirty} uncommitted file(s) in src/ and migrations/` : head;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

export function machine(databases: string[]): Machine {
  const c = cpus();
  return {
    cpu: c[0]?.model.trim() ?? 'unknown',
    cores: c.length,
    memoryGb: totalmem() / 1024 ** 3,
    os: `${process.platform} ${release()}`,
    node: process.version,
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    databases,
    loadAverage: loadavg().map((x) => x.toFixed(2)).join(' '),
    code: codeVersion(),
  };
}

export interface Report {
  machine: Machine;
  smoke: boolean;
  scenarios: string[];
  figures: Figure[];
  checks: Check[];
  notes: string[];
  profiles: Array<{ title: string; text: string }>;
  seconds: number;
}

const num = (v: number, unit: string) => {
  if (!Number.isFinite(v)) return '—';
  if (unit === 'req/s') return `${Math.round(v).toLocaleString('en')} req/s`;
  if (unit === 'ms') return `${v.toFixed(v < 10 ? 2 : 1)} ms`;
  if (unit === 'MB') return `${v.toFixed(1)} MB`;
  return `${Number.isInteger(v) ? v.toLocaleString('en') : v.toFixed(2)}${unit === 'answers' ? '' : ` ${unit}`}`;
};
const verdict = (f: Figure) => (f.target ? (f.target.met ? 'met' : '**missed**') : '(no target)');

/** The figures as plain text lines for the console. */
export function consoleLines(r: Report): string[] {
  const out: string[] = [];
  for (const f of r.figures) {
    let line = `${f.name}: ${num(f.value, f.unit)}`;
    if (f.baseline) line += ` | baseline ${num(f.baseline.value, f.unit)} (${f.baseline.name})`;
    if (f.ratio !== undefined) line += ` | ratio ${f.ratio.toFixed(2)}`;
    if (f.target) line += ` | target ${f.target.text}: ${f.target.met ? 'met' : 'MISSED'}`;
    out.push(line);
  }
  for (const c of r.checks) out.push(`${c.passed ? 'ok ' : 'FAIL'} ${c.name}: ${c.detail}`);
  for (const n of r.notes) out.push(`note: ${n}`);
  return out;
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function markdown(r: Report): string {
  const m = r.machine;
  const lines: string[] = [];
  lines.push('# Benchmarks');
  lines.push('');
  lines.push(
    'Written by `npm run bench` (bench/run.ts). Every figure is measured against a baseline taken in the same run on the same machine, because absolute numbers on a shared box mean little; the ratio is what to compare across runs. Re-run it on your own hardware before you trust any of it.',
  );
  if (r.smoke) lines.push('', '> **Smoke run**: tiny sizes, to check that the benchmark works. None of these figures means anything.');
  lines.push('');
  lines.push('## Machine');
  lines.push('');
  lines.push('| | |');
  lines.push('| --- | --- |');
  lines.push(`| CPU | ${cell(m.cpu)}, ${m.cores} cores |`);
  lines.push(`| Memory | ${m.memoryGb.toFixed(1)} GB |`);
  lines.push(`| OS | ${cell(m.os)} |`);
  lines.push(`| Node | ${m.node} |`);
  lines.push(`| Databases | ${cell(m.databases.join('; ') || '—')} |`);
  lines.push(`| Date | ${m.date} |`);
  lines.push(`| Load average (1, 5, 15 min) at start / end | ${m.loadAverage} / ${m.loadAverageEnd ?? '—'} |`);
  lines.push(`| Code | ${cell(m.code)} |`);
  lines.push(`| Run | ${r.scenarios.join(', ')}; ${Math.round(r.seconds)} s in all |`);
  lines.push('');
  lines.push('## Figures');
  lines.push('');
  lines.push('| figure | value | baseline (same run) | ratio | target | |');
  lines.push('| --- | --- | --- | --- | --- | --- |');
  for (const f of r.figures) {
    const base = f.baseline ? `${num(f.baseline.value, f.unit)} — ${f.baseline.name}` : '—';
    lines.push(
      `| ${cell(f.name)} | ${num(f.value, f.unit)} | ${cell(base)} | ${f.ratio !== undefined ? f.ratio.toFixed(2) : '—'} | ${cell(f.target?.text ?? '—')} | ${verdict(f)} |`,
    );
  }
  const detailed = r.figures.filter((f) => f.detail);
  if (detailed.length) {
    lines.push('');
    for (const f of detailed) lines.push(`- **${f.name}**: ${f.detail}`);
  }
  lines.push('');
  lines.push('## Correctness after each load');
  lines.push('');
  lines.push('Checked in the database once the load stopped; these must pass whatever the timings.');
  lines.push('');
  for (const c of r.checks) lines.push(`- ${c.passed ? '✓' : '✗ **failed**:'} ${c.name} — ${c.detail}`);
  if (r.checks.length === 0) lines.push('- (none in this run)');
  if (r.notes.length) {
    lines.push('');
    lines.push('## Notes');
    lines.push('');
    for (const n of r.notes) lines.push(`- ${n}`);
  }
  if (r.profiles.length) {
    lines.push('');
    lines.push('## Where the time goes');
    lines.push('');
    lines.push('Self time of the app process under `node --cpu-prof`, in a separate pass (the profiler slows it down, so these passes produce no figures).');
    for (const p of r.profiles) {
      lines.push('');
      lines.push(`### ${p.title}`);
      lines.push('');
      lines.push('```');
      lines.push(p.text);
      lines.push('```');
    }
  }
  lines.push('');
  lines.push(METHOD);
  return lines.join('\n') + '\n';
}

const METHOD = `## How each figure is measured

Run everything with \`npm run bench\`; \`npm run bench -- --only callbacks\` (or \`booking\`, \`growth\`, \`memory\`) runs one part,
\`--smoke\` runs all of them with tiny sizes in a few seconds (the CI smoke test does that; CI never gates on a time),
\`--profile\` adds a \`--cpu-prof\` pass of the callback load. MySQL comes from \`BENCH_MYSQL_URL\`
(default \`mysql://root@127.0.0.1:3306/tikiti_bench\`; that database is dropped and created again for every step, so
never point it at data you want to keep); SQLite is a temp file. Without a reachable MySQL the run does SQLite only and
says so. Only a complete run (no \`--only\`, no \`--smoke\`) rewrites this file; \`--out FILE\` writes elsewhere.

The app runs as its own process, exactly as \`npm start\` runs it (\`node --import tsx src/server.ts\`, \`NODE_ENV=production\`,
\`LOG_LEVEL=info\` to a file), with the reconciler pushed out of the way. The load generator (autocannon, or a small
open-loop sender for fixed rates) runs in the bench process, on the same machine: both share its cores with the
database, which is why every figure has a same-run baseline.

- **Callback ingestion**: Pending tickets are written straight into the database (each holding seats, with the push
  Daraja accepted and a known CheckoutRequestID); 64 keep-alive connections then post one real Daraja callback body
  per ticket (7 in 10 paid, the rest failed: 1032, 1, 2001, 1037, "1032" as a string, SFC_IC0003) as fast as the app
  answers, after a warm-up. The baseline is a bare Express app in its own process that parses the same JSON with the
  same parser and answers the same body, loaded the same way just before. Afterwards every ticket is checked: Paid with
  its receipt and its seats held, or Failed with a reason and its seats released; tickets no callback was sent for
  untouched; every show's seat count equal to what its tickets hold; the inbox outcomes counted.
- **p99 at a steady 200/s**: an open-loop sender posts a callback every 5 ms whatever the previous ones are doing, and
  times each from the moment it was due (autocannon's \`overallRate\` sends each connection's quota back to back at the
  top of every second, a burst rather than a stream). Same for the baseline.
- **Booking overhead**: a Daraja simulator of its own (the project's, in the bench process) answers every Daraja call
  after D = 200 ms. One browser-like user opens the movie page once (CSRF cookie and token) and then books one ticket at
  a time with a new phone number each time; rate limits are raised out of the way. The time is from sending
  POST /bookings to its 303. Baseline: the same app with the Daraja client's token cache off (a fresh token before every call, as
  the user's guide does). Every booking must leave a Pending ticket whose push Daraja accepted.
- **Growth**: callbacks at a steady 50/s (far under the app's ceiling, so the p50 is service time, not queueing) with 1 thousand tickets in the
  database, then with 1 million: the million are settled tickets spread over six months, each with its push attempt and
  its callback in the inbox (old inbox bodies are short placeholders: only the table's size and indexes matter here),
  plus the same thousand Pending ones. The admin tickets list is measured by \`bench/admin-tickets.bench.ts\`.
- **Memory**: VmRSS of the app process from /proc/<pid>/status, read after the first 10 thousand callbacks and after
  100 thousand (64 connections, full speed), each time once the load has stopped for 2 s.
`;
