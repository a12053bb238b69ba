/**
 * Telling "the database cannot be reached right now" apart from every other database error, in one place: the error
 * handler answers it 503 (try again in a minute) instead of 500, the server keeps trying at start instead of exiting,
 * and the commands name DATABASE_URL's host and port. See docs/adr/0020-database-outage.md.
 */

/**
 * Error codes that mean the server is away, not that it refused us: the OS's connection errors, mysql2's lost
 * connection and its timeouts, MySQL's "too many connections" and "shutting down" (both pass), SQLite's file that
 * cannot be opened or read (a volume that is not mounted).
 */
const UNREACHABLE = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH', 'ENETDOWN', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE',
  'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'ER_CON_COUNT_ERROR', 'ER_SERVER_SHUTDOWN', 'ER_CONNECTION_KILLED',
  'SQLITE_CANTOPEN', 'SQLITE_IOERR', 'SQLITE_NOTADB',
]);

/** mysql2's words when a pooled connection that died is used again; it gives them no code. */
const CLOSED_CONNECTION = /connection is in closed state|connection lost|server has gone away/i;

/** The codes on an error and on whatever it wraps (`cause`, and the attempts of an AggregateError from net.connect). */
function codesOf(err: unknown, depth = 0): string[] {
  if (!err || typeof err !== 'object' || depth > 5) return [];
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown; message?: unknown };
  const own = typeof e.code === 'string' ? [e.code] : [];
  const message = typeof e.message === 'string' && CLOSED_CONNECTION.test(e.message) ? ['PROTOCOL_CONNECTION_LOST'] : [];
  const nested = Array.isArray(e.errors) ? e.errors.flatMap((x) => codesOf(x, depth + 1)) : [];
  return [...own, ...message, ...nested, ...codesOf(e.cause, depth + 1)];
}

const isUnreachableCode = (code: string) => UNREACHABLE.has(code) || code.startsWith('SQLITE_IOERR');

/** The code that says the database is away (ECONNREFUSED…), on the error or on what it wraps; undefined when none does. */
export function unreachableCode(err: unknown): string | undefined {
  return codesOf(err).find(isUnreachableCode);
}

/** True when the error says the database is away (down, restarting, unreachable, full of connections). */
export function isDatabaseUnreachable(err: unknown): boolean {
  return unreachableCode(err) !== undefined;
}

/** Where DATABASE_URL points, for a person: "MySQL at db.internal:3306" or "the SQLite file ./data/tikiti.db". Never the password. */
export function databasePlace(url: string): string {
  if (url.startsWith('sqlite:')) return `the SQLite file ${url.slice('sqlite:'.length)}`;
  try {
    const u = new URL(url);
    return `MySQL at ${u.hostname}:${u.port || '3306'}`;
  } catch {
    return 'the database';
  }
}

/**
 * One line saying what is wrong with DATABASE_URL, for the start-up list, when the error is one a person fixes there
 * (away, wrong user or password, no such database, a file that cannot be opened); undefined for anything else.
 */
export function databaseProblem(err: unknown, url: string): string | undefined {
  const place = databasePlace(url);
  const codes = codesOf(err);
  const away = unreachableCode(err);
  if (url.startsWith('sqlite:')) {
    const code = away ?? codes.find((c) => ['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EEXIST', 'SQLITE_READONLY'].includes(c));
    return code ? `DATABASE_URL: ${place} cannot be opened (${code}): check that its folder exists and this user may write there.` : undefined;
  }
  if (away) return `DATABASE_URL: ${place} cannot be reached (${away}): start the database, or correct the host and port.`;
  const first = codes[0] ?? '';
  if (codes.includes('ER_ACCESS_DENIED_ERROR') || codes.includes('ER_DBACCESS_DENIED_ERROR')) {
    return `DATABASE_URL: ${place} refused the user or password (${first}): check the user and password in DATABASE_URL.`;
  }
  if (codes.includes('ER_BAD_DB_ERROR')) {
    return `DATABASE_URL: ${place} has no such database (ER_BAD_DB_ERROR): create it first, e.g. CREATE DATABASE tikiti CHARACTER SET utf8mb4.`;
  }
  return undefined;
}
