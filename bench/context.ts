import type { Dialect } from '../src/core/db/database.js';
import type { BenchDatabase } from './support/database.js';

export type Scenario = 'callbacks' | 'booking' | 'growth' | 'memory';
export const SCENARIOS: readonly Scenario[] = ['callbacks', 'booking', 'growth', 'memory'];

/** One measured figure, printed and written to docs/benchmarks.md with its baseline from the same run. */
export interface Figure {
  scenario: Scenario | 'admin';
  name: string;
  value: number;
  unit: string;
  baseline?: { name: string; value: number };
  /** value / baseline.value */
  ratio?: number;
  target?: { text: string; met: boolean };
  detail?: string;
}

/** A correctness check made after a load (ticket states, answers): these must pass whatever the timing. */
export interface Check {
  scenario: Scenario;
  name: string;
  passed: boolean;
  detail: string;
}

export interface Sizes {
  callbacks: {
    connections: number;
    warm: number;
    measured: number;
    helloWarmSeconds: number;
    helloSeconds: number;
    pacedRate: number;
    pacedCount: number;
    helloPacedCount: number;
    /** Steady rates tried for the sustained rate, as fractions of the bare Express rate, each for this long. */
    sustainedFractions: number[];
    sustainedSeconds: number;
  };
  booking: { delayMs: number; warm: number; bookings: number };
  growth: { small: number; large: number; warm: number; rate: number };
  memory: { connections: number; first: number; total: number; settleMs: number };
  /** Sizes for runAdminTicketsBench; `samples` undefined lets it choose. */
  admin: { rows: number[]; samples?: number };
}

export const FULL: Sizes = {
  callbacks: {
    connections: 64, warm: 3000, measured: 20_000, helloWarmSeconds: 2, helloSeconds: 10,
    pacedRate: 200, pacedCount: 3000, helloPacedCount: 1000,
    sustainedFractions: [0.2, 0.25, 0.3, 0.35, 0.45, 0.55, 0.7, 0.85], sustainedSeconds: 5,
  },
  booking: { delayMs: 200, warm: 5, bookings: 100 },
  // 50/s: well under what a loaded 2-core box sustains, so the p50 is service time and not a queue.
  growth: { small: 1000, large: 1_000_000, warm: 200, rate: 50 },
  memory: { connections: 64, first: 10_000, total: 100_000, settleMs: 2000 },
  admin: { rows: [1000, 1_000_000] },
};

/** A few seconds in all: keeps the code paths working in CI, measures nothing worth quoting. */
export const SMOKE: Sizes = {
  callbacks: {
    connections: 64, warm: 64, measured: 300, helloWarmSeconds: 0, helloSeconds: 1,
    pacedRate: 200, pacedCount: 100, helloPacedCount: 50,
    sustainedFractions: [0.05], sustainedSeconds: 0.5,
  },
  booking: { delayMs: 200, warm: 1, bookings: 3 },
  growth: { small: 150, large: 3000, warm: 30, rate: 200 },
  memory: { connections: 16, first: 300, total: 900, settleMs: 200 },
  admin: { rows: [100, 1000], samples: 5 },
};

export interface Context {
  smoke: boolean;
  sizes: Sizes;
  dialects: Dialect[];
  databases: Map<Dialect, BenchDatabase>;
  workDir: string;
  /** Run the app child under --cpu-prof for an extra pass and summarise where its time goes. */
  profile: boolean;
  log(line: string): void;
  figure(f: Figure): void;
  check(c: Check): void;
  note(text: string): void;
  profileSummary(title: string, text: string): void;
}

export const ms = (x: number): string => `${x.toFixed(x < 10 ? 2 : 1)} ms`;
export const label = (d: Dialect): string => (d === 'mysql' ? 'MySQL' : 'SQLite');
