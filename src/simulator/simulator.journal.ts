import { appendFileSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SimulatorLogger } from './daraja-protocol.js';
import type { IssuedToken, SimulatorPrompt, StateListener } from './simulator.state.js';
import { isResultCode } from './test-numbers.js';

/** What the simulator remembers across a restart. */
export interface SimulatorSnapshot {
  /** Oldest first. */
  prompts: SimulatorPrompt[];
  tokens: IssuedToken[];
}

type Line =
  | { t: 'prompt'; p: SimulatorPrompt }
  | { t: 'evict'; id: string }
  | { t: 'token'; k: IssuedToken }
  | { t: 'snapshot'; prompts: SimulatorPrompt[]; tokens: IssuedToken[] };

/** Lines appended beyond the last snapshot before the file is rewritten as one snapshot. */
const MIN_COMPACT_LINES = 1_000;

/**
 * The simulator's memory on disk, so that a restart strands no prompt (docs/adr/0024-simulator-keeps-its-prompts.md).
 * A journal: every change appends one JSON line (a prompt as it now is, an eviction, a token), synchronously, so a
 * push is on disk before it is answered and `kill -9` loses nothing. Appends are small, whatever the number of prompts;
 * when the lines outgrow the state, the file is rewritten as one snapshot line, to a temporary file renamed over it,
 * so a crash leaves either the old file or the new one. Not fsynced: it survives the process, not the machine.
 */
export class SimulatorJournal implements StateListener {
  private lines = 0;
  private failed = false;
  private source?: { snapshot(): SimulatorSnapshot; size(): number };

  constructor(
    private readonly path: string,
    private readonly logger: SimulatorLogger,
  ) {}

  /** Reads the file (missing: empty state); a line that cannot be read is skipped with a warning. */
  load(): SimulatorSnapshot {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.logger.warn({ path: this.path, error: String(err) }, 'simulator: could not read its saved state; starting empty');
      }
      return { prompts: [], tokens: [] };
    }
    const prompts = new Map<string, SimulatorPrompt>();
    const tokens = new Map<string, IssuedToken>();
    let skipped = 0;
    for (const raw of text.split('\n')) {
      if (raw.trim() === '') continue;
      let line: Line;
      try {
        line = JSON.parse(raw) as Line;
      } catch {
        skipped++; // a line cut short by a crash mid-append
        continue;
      }
      if (line.t === 'snapshot') {
        prompts.clear();
        tokens.clear();
        for (const p of line.prompts) prompts.set(p.checkoutRequestId, p);
        for (const k of line.tokens) tokens.set(k.token, k);
      } else if (line.t === 'prompt') {
        prompts.set(line.p.checkoutRequestId, line.p);
      } else if (line.t === 'evict') {
        prompts.delete(line.id);
      } else if (line.t === 'token') {
        tokens.set(line.k.token, line.k);
      }
    }
    if (skipped > 0) this.logger.warn({ path: this.path, skipped }, 'simulator: skipped unreadable lines of its saved state');
    const revived = [...prompts.values()].flatMap((p) => revive(p) ?? []);
    revived.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
    return { prompts: revived, tokens: [...tokens.values()].sort((a, b) => a.expiresAt - b.expiresAt) };
  }

  /** Where a snapshot (and the count of things in it) comes from; given once the state is loaded, which compacts. */
  attach(source: { snapshot(): SimulatorSnapshot; size(): number }): void {
    this.source = source;
    this.compact();
  }

  prompt(p: SimulatorPrompt): void {
    this.append({ t: 'prompt', p });
  }

  evicted(id: string): void {
    this.append({ t: 'evict', id });
  }

  token(k: IssuedToken): void {
    this.append({ t: 'token', k });
  }

  private append(line: Line): void {
    if (!this.source) return; // still loading
    this.write(() => appendFileSync(this.path, `${JSON.stringify(line)}\n`));
    this.lines++;
    if (this.lines > Math.max(MIN_COMPACT_LINES, 2 * this.source.size())) this.compact();
  }

  /** Rewrites the file as one snapshot: a temporary file beside it, renamed over it. */
  private compact(): void {
    if (!this.source) return;
    const { prompts, tokens } = this.source.snapshot();
    const tmp = `${this.path}.${process.pid}.tmp`;
    this.write(() => {
      mkdirSync(dirname(this.path), { recursive: true });
      writeFileSync(tmp, `${JSON.stringify({ t: 'snapshot', prompts, tokens } satisfies Line)}\n`);
      renameSync(tmp, this.path);
    });
    this.lines = 0;
  }

  /** A disk that fails makes the simulator forgetful, never broken: said once, then it goes on in memory. */
  private write(fn: () => void): void {
    try {
      fn();
      this.failed = false;
    } catch (err) {
      if (!this.failed) this.logger.warn({ path: this.path, error: String(err) }, 'simulator: could not save its state; going on in memory');
      this.failed = true;
    }
  }
}

/** A prompt as read back from JSON: its dates made Dates again; undefined when it is not one of ours. */
function revive(p: SimulatorPrompt): SimulatorPrompt | undefined {
  const raw = p as unknown as Record<string, unknown> & { due?: { at?: unknown; resultCode?: unknown } };
  const createdAt = new Date(String(raw.createdAt));
  const dueAt = new Date(String(raw.due?.at));
  if (typeof raw.checkoutRequestId !== 'string' || Number.isNaN(createdAt.getTime()) || Number.isNaN(dueAt.getTime())) return undefined;
  if (!isResultCode(raw.due?.resultCode) || (raw.resultCode !== undefined && !isResultCode(raw.resultCode))) return undefined;
  return {
    ...p,
    createdAt,
    due: { at: dueAt, resultCode: raw.due.resultCode },
    warnings: Array.isArray(p.warnings) ? p.warnings : [],
    ...(p.finishedAt !== undefined ? { finishedAt: new Date(String(p.finishedAt)) } : {}),
  };
}
