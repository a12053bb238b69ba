import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialFingerprint } from '../../../src/daraja/token-store.js';
import { DarajaTokenRepository } from '../../../src/store/daraja-token.repository.js';
import { createTestDatabase, dialects, type TestDatabase } from '../../support/db.js';

// The Daraja token shared by app instances through the database: one row per Daraja app, a lease exactly one instance
// wins, and a token only the lease's owner may save.

describe.each(dialects)('Daraja token store on %s', (dialect) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase(dialect);
  });
  afterAll(async () => {
    await t?.drop();
  });

  /** A Daraja app of its own for each test. */
  const newCredential = () => credentialFingerprint('https://sandbox.safaricom.co.ke', `key-${randomBytes(6).toString('hex')}`);
  const refreshAt = new Date('2030-05-14T17:11:01.123Z');

  it('when nothing was saved, then read finds no token', async () => {
    const store = new DarajaTokenRepository(t.db, newCredential());
    expect(await store.read()).toBeUndefined();
    expect(await store.tryLease('a', 5000)).toBe(true);
    expect(await store.read()).toBeUndefined();
  });

  it('when 12 instances race for the lease of a new app, then exactly one wins and one row exists', async () => {
    const id = newCredential();
    const stores = Array.from({ length: 12 }, () => new DarajaTokenRepository(t.db, id));
    const won = await Promise.all(stores.map((s, i) => s.tryLease(`owner-${i}`, 5000)));
    expect(won.filter(Boolean)).toHaveLength(1);
    const rows = await t.db.selectFrom('darajatoken').selectAll().where('credentialId', '=', id).execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]?.leaseOwner).toBe(`owner-${won.indexOf(true)}`);
  });

  it('when 12 instances race for a free lease on an existing row, then exactly one wins', async () => {
    const id = newCredential();
    const first = new DarajaTokenRepository(t.db, id);
    await first.tryLease('seed', 5000);
    await first.save('tok-seed', refreshAt, 'seed');
    const won = await Promise.all(Array.from({ length: 12 }, (_, i) => new DarajaTokenRepository(t.db, id).tryLease(`owner-${i}`, 5000)));
    expect(won.filter(Boolean)).toHaveLength(1);
  });

  it('when the lease owner saves, then every instance reads the token and refresh time, and the lease is free again', async () => {
    const id = newCredential();
    const a = new DarajaTokenRepository(t.db, id);
    const b = new DarajaTokenRepository(t.db, id);
    expect(await a.tryLease('a', 5000)).toBe(true);
    expect(await b.tryLease('b', 5000)).toBe(false);
    expect(await a.save('tok-AAAAAAAAAAAAAAAAAAAAAAAAAAAA', refreshAt, 'a')).toBe(true);
    expect(await b.read()).toStrictEqual({ token: 'tok-AAAAAAAAAAAAAAAAAAAAAAAAAAAA', refreshAt });
    const row = await t.db.selectFrom('darajatoken').selectAll().where('credentialId', '=', id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ refreshAt: '2030-05-14 17:11:01.123', leaseOwner: null, leaseUntil: null });
    expect(await b.tryLease('b', 5000)).toBe(true);
  });

  it('when an instance that does not hold the lease saves, then nothing changes', async () => {
    const id = newCredential();
    const a = new DarajaTokenRepository(t.db, id);
    await a.tryLease('a', 5000);
    await a.save('tok-first', refreshAt, 'a');
    await a.tryLease('b', 5000);
    expect(await a.save('tok-late', refreshAt, 'a')).toBe(false);
    expect((await a.read())?.token).toBe('tok-first');
    expect(await a.save('tok-b', refreshAt, 'b')).toBe(true);
    expect((await a.read())?.token).toBe('tok-b');
  });

  it('when the lease holder releases it or its lease runs out, then another instance can take it', async () => {
    const id = newCredential();
    let now = new Date('2030-01-01T00:00:00.000Z');
    const store = new DarajaTokenRepository(t.db, id, () => now);
    expect(await store.tryLease('a', 1000)).toBe(true);
    expect(await store.tryLease('b', 1000)).toBe(false);
    await store.release('b');
    expect(await store.tryLease('b', 1000)).toBe(false);
    await store.release('a');
    expect(await store.tryLease('b', 1000)).toBe(true);
    now = new Date(now.getTime() + 999);
    expect(await store.tryLease('c', 1000)).toBe(false);
    now = new Date(now.getTime() + 1);
    expect(await store.tryLease('c', 1000)).toBe(true);
    // b's lease was taken over: b can no longer save over c's coming token.
    expect(await store.save('tok-b', refreshAt, 'b')).toBe(false);
  });

  it('when two Daraja apps share the database, then their tokens and leases are separate, and neither key is stored', async () => {
    const key1 = `key-${randomBytes(6).toString('hex')}`;
    const id1 = credentialFingerprint('https://sandbox.safaricom.co.ke', key1);
    const id2 = credentialFingerprint('https://api.safaricom.co.ke', key1);
    const s1 = new DarajaTokenRepository(t.db, id1);
    const s2 = new DarajaTokenRepository(t.db, id2);
    expect(await s1.tryLease('a', 5000)).toBe(true);
    expect(await s2.tryLease('b', 5000)).toBe(true);
    await s1.save('tok-sandbox', refreshAt, 'a');
    expect(await s2.read()).toBeUndefined();
    const rows = await t.db.selectFrom('darajatoken').selectAll().where('credentialId', 'in', [id1, id2]).execute();
    expect(rows).toHaveLength(2);
    expect(JSON.stringify(rows)).not.toContain(key1);
  });
});
