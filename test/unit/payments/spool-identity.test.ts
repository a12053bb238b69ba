import { describe, expect, it } from 'vitest';
import { databaseFingerprint, ownerLabel, ownership } from '../../../src/payments/spool-identity.js';

describe('which database a spooled callback belongs to', () => {
  const ours = { databaseId: 'aaaa', database: databaseFingerprint('sqlite:./data/tikiti.db') };

  it('when the entry names a database id, then it is ours only if the id is ours, whatever the URL', () => {
    expect(ownership({ databaseId: 'aaaa', database: 'elsewhere' }, ours)).toBe('ours');
    expect(ownership({ databaseId: 'bbbb', database: ours.database }, ours)).toBe('foreign');
  });

  it('when our own id is not known yet, then an entry with an id waits instead of being taken or called foreign', () => {
    expect(ownership({ databaseId: 'aaaa' }, { database: ours.database })).toBe('not-yet');
  });

  it('when the entry was spooled before its app knew the id, then the hash of the URL decides; an entry naming nothing is taken as before', () => {
    expect(ownership({ database: ours.database }, ours)).toBe('ours');
    expect(ownership({ database: databaseFingerprint('sqlite:./data/other.db') }, ours)).toBe('foreign');
    expect(ownership({}, ours)).toBe('ours');
  });

  it('when DATABASE_URL is spelled differently for one place, then the hash is the same; the password never counts', () => {
    expect(databaseFingerprint('sqlite:data/tikiti.db')).toBe(databaseFingerprint(`sqlite:${process.cwd()}/data/tikiti.db`));
    expect(databaseFingerprint('mysql://app:one@DB.internal:3306/tikiti')).toBe(databaseFingerprint('mysql://other:two@db.internal/tikiti'));
    expect(databaseFingerprint('mysql://app@db.internal/tikiti')).not.toBe(databaseFingerprint('mysql://app@db.internal/tikiti_staging'));
    expect(databaseFingerprint('mysql://app:secret@db/tikiti')).toMatch(/^[0-9a-f]{16}$/);
  });

  it('when an operator is told whose entry it is, then the id is named, else the URL hash', () => {
    expect(ownerLabel({ databaseId: 'bbbb', database: 'ffff' })).toBe('database id bbbb');
    expect(ownerLabel({ database: 'ffff' })).toBe('the database whose DATABASE_URL hashes to ffff');
  });
});
