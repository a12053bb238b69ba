import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, stat, unlink, utimes } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { ownerLabel, ownership, type SpoolOwner } from './spool-identity.js';

/**
 * A callback the inbox could not take (the database was down), kept on local disk until it can: what the inbox row
 * would have held, plus an id that recognises the entry if it is ever moved twice.
 */
export interface SpooledCallback {
  spoolId: string;
  /** ISO-8601 UTC: when the callback arrived (the inbox row gets this time, not the time it was moved). */
  receivedAt: string;
  sourceIp: string | null;
  body: string;
  /** The token / IP / size verdict made on arrival, stored with the body exactly as the inbox would have. */
  outcome: 'received' | 'rejected' | 'invalid';
  detail: string | null;
  /** The database the entry belongs to (stamped by `append`; absent in entries spooled before entries named it). */
  databaseId?: string;
  database?: string;
}

export interface DrainReport {
  /** Entries handed to `store` that it accepted (including ones it recognised as already moved). */
  moved: number;
  /** Entries left in the spool because `store` failed; moved by a later drain. */
  left: number;
  /** Lines that were not a whole entry (a write torn by a crash, never acknowledged); dropped. */
  unreadable: number;
  /** Entries that belong to another database: put back in the spool, untouched, for an instance of that database. */
  foreign: number;
  /** Which databases those are (see ownerLabel). */
  foreignOwners: string[];
}

/** A claimed file whose owner is alive is left alone this long before another drain takes it over (pid reuse). */
const CLAIM_STALE_MS = 10 * 60_000;
/** Consecutive `store` failures after which a drain stops: the database is still down, the rest waits. */
const MAX_FAILURES = 3;

// Per path, for the whole process: two spool objects on one file (two app instances in one test process) still
// write one at a time, and neither takes over a file the other is draining.
const writeQueues = new Map<string, Promise<unknown>>();
const inProgress = new Set<string>();

/**
 * The default spool: beside the SQLite file (./data/callback-spool.jsonl for the default database), or
 * ./data/callback-spool-<schema>.jsonl for MySQL, so that a spool is only ever drained into the database it was meant for.
 */
export function defaultSpoolPath(databaseUrl: string): string {
  if (databaseUrl.startsWith('sqlite:')) {
    const file = databaseUrl.slice('sqlite:'.length);
    if (file !== '' && file !== ':memory:') return join(dirname(resolve(file)), 'callback-spool.jsonl');
    return resolve('data', 'callback-spool.jsonl');
  }
  let schema = 'mysql';
  try {
    schema = decodeURIComponent(new URL(databaseUrl).pathname.replace(/^\/+/, '')) || schema;
  } catch {
    // a bad URL fails elsewhere, with a better message
  }
  return resolve('data', `callback-spool-${schema.replace(/[^A-Za-z0-9_-]/g, '_')}.jsonl`);
}

/**
 * The callback spool: an append-only JSON-lines file that keeps callbacks while the inbox cannot (the callback is
 * always answered 200, so what arrived must be kept somewhere before that answer).
 *
 * Writing: one entry per line, appended and fsynced before `append` resolves, one write at a time in this process.
 * Each line starts with a newline too, so a line torn by a crash can never swallow the next entry.
 *
 * Draining: the file is first claimed by renaming it to `<file>.draining-<pid>-<random>` (atomic: a second drainer,
 * in this process or another, cannot claim it too, and new callbacks go to a fresh file). Each entry is handed to
 * `store`, which must recognise an entry it stored before by `spoolId`, so a drain cut short by a crash moves
 * nothing twice. A claimed file is deleted once every entry is stored; otherwise its remainder is rewritten (temp file,
 * fsync, rename) and the next drain takes it up again, as it takes up files left by a process that died.
 */
export class CallbackSpool {
  readonly path: string;
  private draining: Promise<DrainReport> | undefined;
  private readonly claimPrefix: string;

  /**
   * `owner`: the database this process's entries belong to, asked at each append and drain (its id becomes known once
   * the database is reached). Without it entries name no database and every entry is drained (tests of the file alone).
   */
  constructor(path: string, private readonly owner?: () => SpoolOwner) {
    this.path = resolve(path);
    this.claimPrefix = `${basename(this.path)}.draining-`;
  }

  /** A fresh entry id (96 random bits). */
  static newId(): string {
    return randomBytes(12).toString('base64url');
  }

  /** Appends one entry; resolves once it is on disk (fsync), rejects if it could not be kept. */
  append(entry: SpooledCallback): Promise<void> {
    const stamped = this.owner ? { ...entry, ...this.owner() } : entry;
    return this.serial(() => this.write(`\n${JSON.stringify(stamped)}\n`));
  }

  /**
   * Moves every spooled entry to `store`, oldest file first. Drains in this process never overlap (a call during a
   * drain gets that drain's report). Never throws for a failing `store`; fails only when the disk itself does.
   */
  drain(store: (entry: SpooledCallback) => Promise<void>): Promise<DrainReport> {
    this.draining ??= this.drainAll(store).finally(() => {
      this.draining = undefined;
    });
    return this.draining;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = (writeQueues.get(this.path) ?? Promise.resolve()).then(fn, fn);
    const tail = run.catch(() => undefined);
    writeQueues.set(this.path, tail);
    void tail.then(() => {
      if (writeQueues.get(this.path) === tail) writeQueues.delete(this.path);
    });
    return run;
  }

  /** Appends whole lines (each starting and ending with a newline), fsynced. */
  private async write(line: string): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    // Another process draining the same file may rename it between our open and our write; the entry may then sit in
    // the file it claimed after it read it. Written again to the new file, it is kept; its spoolId stops a double move.
    for (let attempt = 1; ; attempt++) {
      const fh = await open(this.path, 'a', 0o600);
      let claimedMeanwhile: boolean;
      let created: boolean;
      try {
        await fh.appendFile(line, 'utf8');
        await fh.sync();
        const mine = await fh.stat();
        created = mine.size === Buffer.byteLength(line);
        const current = await stat(this.path).catch(() => undefined);
        claimedMeanwhile = current === undefined || current.ino !== mine.ino || current.dev !== mine.dev;
      } finally {
        await fh.close();
      }
      if (created) await syncDirectory(dirname(this.path));
      if (!claimedMeanwhile || attempt >= 3) return;
    }
  }

  private async drainAll(store: (entry: SpooledCallback) => Promise<void>): Promise<DrainReport> {
    const report: DrainReport = { moved: 0, left: 0, unreadable: 0, foreign: 0, foreignOwners: [] };
    // Claimed inside the write queue: none of this process's appends is half-done in a file we rename.
    const files = await this.serial(() => this.claim());
    try {
      for (const file of files) {
        const r = await this.drainFile(file, store);
        report.moved += r.moved;
        report.left += r.left;
        report.unreadable += r.unreadable;
        report.foreign += r.foreign;
        for (const o of r.foreignOwners) if (!report.foreignOwners.includes(o)) report.foreignOwners.push(o);
      }
    } finally {
      for (const file of files) inProgress.delete(file);
    }
    return report;
  }

  /** Renames the spool and any abandoned claimed file to names of our own; returns them, oldest first. */
  private async claim(): Promise<string[]> {
    const dir = dirname(this.path);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const candidates: string[] = [];
    for (const name of names.filter((n) => n.startsWith(this.claimPrefix) && !n.endsWith('.tmp')).sort()) {
      if (await this.abandoned(join(dir, name), name.slice(this.claimPrefix.length))) candidates.push(join(dir, name));
    }
    const base = await stat(this.path).catch(() => undefined);
    if (base && base.size > 0) candidates.push(this.path);

    const claimed: string[] = [];
    for (const from of candidates) {
      const to = join(dir, `${this.claimPrefix}${process.pid}-${randomBytes(6).toString('hex')}`);
      try {
        await rename(from, to);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // another drainer took it first
        throw err;
      }
      inProgress.add(to);
      const now = new Date();
      await utimes(to, now, now).catch(() => undefined); // fresh, so nobody takes it over as abandoned
      claimed.push(to);
    }
    return claimed;
  }

  /**
   * A claimed file nobody is working on: this process's own that no drain here holds (one that stopped early), a dead
   * process's, or one untouched for CLAIM_STALE_MS (its pid was reused).
   */
  private async abandoned(file: string, owner: string): Promise<boolean> {
    const pid = Number(owner.split('-')[0]);
    if (pid === process.pid) return !inProgress.has(file);
    if (Number.isInteger(pid) && pid > 0) {
      try {
        process.kill(pid, 0);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ESRCH') return true;
      }
    }
    const s = await stat(file).catch(() => undefined);
    return s !== undefined && Date.now() - s.mtimeMs > CLAIM_STALE_MS;
  }

  private async drainFile(file: string, store: (entry: SpooledCallback) => Promise<void>): Promise<DrainReport> {
    const report: DrainReport = { moved: 0, left: 0, unreadable: 0, foreign: 0, foreignOwners: [] };
    const lines = (await readFile(file, 'utf8')).split('\n').filter((l) => l.trim() !== '');
    const remainder: string[] = [];
    const foreign: string[] = [];
    let failures = 0;
    const ours = this.owner?.();
    for (const line of lines) {
      const entry = parseEntry(line);
      if (!entry) {
        report.unreadable++;
        continue;
      }
      const whose = ours ? ownership(entry, ours) : 'ours';
      if (whose === 'foreign') {
        foreign.push(line);
        const label = ownerLabel(entry);
        if (!report.foreignOwners.includes(label)) report.foreignOwners.push(label);
        continue;
      }
      if (whose === 'not-yet') {
        remainder.push(line);
        continue;
      }
      if (failures >= MAX_FAILURES) {
        remainder.push(line);
        continue;
      }
      try {
        await store(entry);
        report.moved++;
        failures = 0;
      } catch {
        failures++;
        remainder.push(line);
      }
    }
    report.left = remainder.length;
    report.foreign = foreign.length;
    // Another database's entries go back to the spool itself, as they were, before this file goes: the instance they
    // belong to claims that file, never this one's claimed file (a crash in between leaves a copy its spoolId stops).
    if (foreign.length > 0) await this.serial(() => this.write(foreign.map((l) => `\n${l}\n`).join('')));
    if (remainder.length === 0) {
      await unlink(file).catch(() => undefined);
    } else if (remainder.length < lines.length) {
      // Only what is left, swapped in atomically: a crash leaves either the old file (its moved entries are
      // recognised by spoolId) or the new one.
      const tmp = `${file}.tmp`;
      const fh = await open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(remainder.map((l) => `${l}\n`).join(''), 'utf8');
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, file);
    }
    return report;
  }
}

function parseEntry(line: string): SpooledCallback | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const e = v as Record<string, unknown>;
  const ok = typeof e.spoolId === 'string' && e.spoolId !== '' && typeof e.receivedAt === 'string' &&
    (e.databaseId === undefined || typeof e.databaseId === 'string') && (e.database === undefined || typeof e.database === 'string') &&
    !Number.isNaN(Date.parse(e.receivedAt)) && typeof e.body === 'string' &&
    (e.sourceIp === null || typeof e.sourceIp === 'string') && (e.detail === null || typeof e.detail === 'string') &&
    (e.outcome === 'received' || e.outcome === 'rejected' || e.outcome === 'invalid');
  return ok ? (e as unknown as SpooledCallback) : undefined;
}

/** Makes a new file's directory entry durable too (Linux, macOS); a no-op where directories cannot be opened. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Windows cannot fsync a directory; the file's own fsync is what there is.
  }
}
