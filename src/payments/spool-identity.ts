import { createHash } from 'node:crypto';
import { resolve } from 'node:path';

/**
 * Which database a spooled callback belongs to, so that a spool file shared by instances of different databases (two
 * SQLite files in one folder, two MySQL servers with one schema name run from one folder) is drained only into the
 * right one. Why both forms: docs/adr/0036-the-spool-belongs-to-one-database.md.
 */
export interface SpoolOwner {
  /**
   * The id the database keeps for itself (made once, on the first start against it): it follows the database through
   * a changed URL, and a new database at the same URL has another. Unknown until this process first reached it.
   */
  databaseId?: string;
  /** A hash of where DATABASE_URL points (the SQLite file's absolute path; MySQL host, port and schema), known always. */
  database: string;
}

/** Where DATABASE_URL points, hashed: never the user or password, and the same for every spelling of one SQLite path. */
export function databaseFingerprint(url: string): string {
  let where: string;
  if (url.startsWith('sqlite:')) {
    where = `sqlite:${resolve(url.slice('sqlite:'.length))}`;
  } else {
    try {
      const u = new URL(url);
      where = `mysql://${u.hostname.toLowerCase()}:${u.port || '3306'}/${decodeURIComponent(u.pathname.replace(/^\/+/, ''))}`;
    } catch {
      where = url.replace(/\/\/[^@/]*@/, '//');
    }
  }
  return createHash('sha256').update(where).digest('hex').slice(0, 16);
}

/**
 * Whether an entry is ours: by the database's id when the entry has one (and 'not-yet' while ours is unknown), else by
 * the URL's hash (spooled by an instance that had not reached its database yet). An entry with neither was spooled
 * before entries named their database, when the file's path was the only rule: it is taken as before.
 */
export function ownership(entry: Partial<SpoolOwner>, ours: SpoolOwner): 'ours' | 'foreign' | 'not-yet' {
  if (entry.databaseId !== undefined) {
    if (ours.databaseId === undefined) return 'not-yet';
    return entry.databaseId === ours.databaseId ? 'ours' : 'foreign';
  }
  if (entry.database !== undefined) return entry.database === ours.database ? 'ours' : 'foreign';
  return 'ours';
}

/** How an operator is told which database an entry is for (neither form is a secret). */
export function ownerLabel(entry: Partial<SpoolOwner>): string {
  if (entry.databaseId !== undefined) return `database id ${entry.databaseId}`;
  return entry.database !== undefined ? `the database whose DATABASE_URL hashes to ${entry.database}` : 'an unknown database';
}
