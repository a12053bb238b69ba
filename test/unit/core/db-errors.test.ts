import { describe, expect, it } from 'vitest';
import { databasePlace, databaseProblem, isDatabaseUnreachable, unreachableCode } from '../../../src/core/db/errors.js';

const withCode = (code: string, message = code, extra: Record<string, unknown> = {}) => Object.assign(new Error(message), { code, ...extra });
const URL_WITH_PASSWORD = 'mysql://tikiti:s3cr3t-pw@db.internal:3307/tikiti';

describe('database errors', () => {
  it('when the driver says the server is away (refused, reset, timed out, lost, full, shutting down, a file that cannot be opened), then it is "unreachable"', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'PROTOCOL_CONNECTION_LOST',
      'ER_CON_COUNT_ERROR', 'ER_SERVER_SHUTDOWN', 'SQLITE_CANTOPEN', 'SQLITE_IOERR', 'SQLITE_IOERR_SHORT_READ']) {
      expect(isDatabaseUnreachable(withCode(code)), code).toBe(true);
    }
    // mysql2 reusing a pooled connection that died says so in words only.
    expect(isDatabaseUnreachable(new Error("Can't add new command when connection is in closed state"))).toBe(true);
  });

  it('when the code is on what the error wraps (a failed migration, a connect to every address of a name), then it is found there', () => {
    const migration = new Error('Migration 001-initial failed: connect ECONNREFUSED', { cause: withCode('ECONNREFUSED') });
    expect(unreachableCode(migration)).toBe('ECONNREFUSED');
    const both = Object.assign(new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')]), { code: undefined });
    expect(unreachableCode(both)).toBe('ECONNREFUSED');
  });

  it('when the database answered and refused (a bad query, a duplicate, a lock conflict, wrong credentials), then it is not "unreachable"', () => {
    for (const err of [withCode('ER_PARSE_ERROR'), withCode('ER_DUP_ENTRY'), withCode('ER_LOCK_DEADLOCK'), withCode('SQLITE_BUSY'),
      withCode('SQLITE_CONSTRAINT_UNIQUE'), withCode('ER_ACCESS_DENIED_ERROR'), new TypeError('x is undefined'), 'text', null, undefined]) {
      expect(isDatabaseUnreachable(err), String((err as { code?: string })?.code ?? err)).toBe(false);
    }
  });

  it('when DATABASE_URL is named for a person, then it is the host and port or the file, never the user or password', () => {
    expect(databasePlace(URL_WITH_PASSWORD)).toBe('MySQL at db.internal:3307');
    expect(databasePlace('mysql://root@127.0.0.1/tikiti')).toBe('MySQL at 127.0.0.1:3306');
    expect(databasePlace('sqlite:./data/tikiti.db')).toBe('the SQLite file ./data/tikiti.db');
  });

  it('when the start-up line is written for a database that is away, refuses us, lacks the schema or cannot be opened, then it says which and the fix, without the password', () => {
    const lines = [
      databaseProblem(withCode('ECONNREFUSED'), URL_WITH_PASSWORD),
      databaseProblem(withCode('ER_ACCESS_DENIED_ERROR', "Access denied for user 'tikiti'@'10.0.0.2' (using password: YES)"), URL_WITH_PASSWORD),
      databaseProblem(withCode('ER_BAD_DB_ERROR'), URL_WITH_PASSWORD),
      databaseProblem(withCode('SQLITE_CANTOPEN'), 'sqlite:/nowhere/t.db'),
      databaseProblem(withCode('EACCES'), 'sqlite:/root/t.db'),
    ];
    expect(lines).toEqual([
      'DATABASE_URL: MySQL at db.internal:3307 cannot be reached (ECONNREFUSED): start the database, or correct the host and port.',
      'DATABASE_URL: MySQL at db.internal:3307 refused the user or password (ER_ACCESS_DENIED_ERROR): check the user and password in DATABASE_URL.',
      'DATABASE_URL: MySQL at db.internal:3307 has no such database (ER_BAD_DB_ERROR): create it first, e.g. CREATE DATABASE tikiti CHARACTER SET utf8mb4.',
      'DATABASE_URL: the SQLite file /nowhere/t.db cannot be opened (SQLITE_CANTOPEN): check that its folder exists and this user may write there.',
      'DATABASE_URL: the SQLite file /root/t.db cannot be opened (EACCES): check that its folder exists and this user may write there.',
    ]);
    expect(databaseProblem(withCode('ER_PARSE_ERROR'), URL_WITH_PASSWORD)).toBeUndefined();
    expect(databaseProblem(new Error('a bug'), 'sqlite:./x.db')).toBeUndefined();
  });
});
