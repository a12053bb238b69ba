import { Writable } from 'node:stream';
import nock from 'nock';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { DarajaClient } from '../../../src/daraja/daraja.client.js';
import { DarajaNetworkError } from '../../../src/daraja/errors.js';
import { MemoryTokenStore, credentialFingerprint, type StoredToken, type TokenStore } from '../../../src/daraja/token-store.js';
import { BASE, FROZEN_NOW, KEY, PHONE, answers, config, postEndpoint, tokenEndpoint } from './helpers.js';

// Daraja invalidates an app's previous token whenever it issues a new one, so the instances of the app share one token
// through a TokenStore: read it first, fetch only under the store's lease, and after 404.001.03 look for a newer one.

const PUSH = '/mpesa/stkpush/v1/processrequest';
const frozen = () => new Date(FROZEN_NOW);
const later = (s: number) => new Date(FROZEN_NOW.getTime() + s * 1000);
const invalidToken = [404, answers.error('404.001.03', 'Invalid Access Token')] as [number, unknown];
/** A store another instance also writes to: `value` and `leasedBy` are set by the test; every call is recorded. */
class FakeStore implements TokenStore {
  value?: StoredToken;
  /** Owner of a live lease held elsewhere; undefined = free. */
  leasedBy?: string;
  calls: string[] = [];
  saved: Array<{ token: string; refreshAt: Date; owner: string }> = [];
  leases: Array<{ owner: string; ms: number }> = [];
  failReads = false;
  /** Runs after the n-th tryLease has been answered: another instance acting meanwhile. */
  afterLease?: (n: number) => void;

  read(): Promise<StoredToken | undefined> {
    this.calls.push('read');
    if (this.failReads) return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:3306'));
    return Promise.resolve(this.value);
  }
  tryLease(owner: string, ms: number): Promise<boolean> {
    this.calls.push('lease');
    this.leases.push({ owner, ms });
    const taken = this.leasedBy === undefined || this.leasedBy === owner;
    if (taken) this.leasedBy = owner;
    this.afterLease?.(this.leases.length);
    return Promise.resolve(taken);
  }
  save(token: string, refreshAt: Date, owner: string): Promise<boolean> {
    this.calls.push('save');
    if (this.leasedBy !== owner) return Promise.resolve(false);
    this.saved.push({ token, refreshAt, owner });
    this.value = { token, refreshAt };
    this.leasedBy = undefined;
    return Promise.resolve(true);
  }
  release(owner: string): Promise<void> {
    this.calls.push('release');
    if (this.leasedBy === owner) this.leasedBy = undefined;
    return Promise.resolve();
  }
}


describe('a token shared through a TokenStore', () => {
  it('when the store holds a fresh token, then the push uses it and no token is fetched', async () => {
    const token = tokenEndpoint();
    const push = postEndpoint(PUSH, [[200, answers.pushAccepted()]]);
    const store = new FakeStore();
    store.value = { token: 'from-another-instance', refreshAt: later(600) };
    await new DarajaClient(config(), { now: frozen, tokenStore: store }).stkPush({ phoneNumber: PHONE, amount: 5 });

    expect(token.seen.calls).toBe(0);
    expect(store.calls).toStrictEqual(['read']);
    expect(push.seen.map((s) => s.authorization)).toStrictEqual(['Bearer from-another-instance']);
  });

  it('when the stored token is due for refresh, then it takes the lease, fetches once and saves the new token with its refresh time', async () => {
    const token = tokenEndpoint({ tokens: ['fresh-1'] });
    const push = postEndpoint(PUSH, [[200, answers.pushAccepted()]]);
    const store = new FakeStore();
    store.value = { token: 'old', refreshAt: FROZEN_NOW };
    await new DarajaClient(config({ timeoutMs: 2000 }), { now: frozen, tokenStore: store }).stkPush({ phoneNumber: PHONE, amount: 5 });

    expect(store.calls).toStrictEqual(['read', 'lease', 'save']);
    expect(store.leases[0]?.ms).toBe(2000);
    expect(token.seen.calls).toBe(1);
    expect(store.saved).toStrictEqual([{ token: 'fresh-1', refreshAt: later(3599 - 60), owner: store.leases[0]!.owner }]);
    expect(push.seen.map((s) => s.authorization)).toStrictEqual(['Bearer fresh-1']);
  });

  it('when another instance holds the lease, then the client waits and uses the token it saves, without fetching', async () => {
    const token = tokenEndpoint();
    const push = postEndpoint(PUSH, [[200, answers.pushAccepted()]]);
    const store = new FakeStore();
    store.leasedBy = 'instance-a';
    // Instance A saves its token (ending its lease) while this client is waiting: after the client's second try.
    store.afterLease = (n) => {
      if (n === 2) {
        store.value = { token: 'winner-token', refreshAt: later(3000) };
        store.leasedBy = undefined;
      }
    };
    const client = new DarajaClient(config({ timeoutMs: 2000 }), { now: frozen, tokenStore: store });
    await Promise.all([client.stkPush({ phoneNumber: PHONE, amount: 1 }), client.stkPush({ phoneNumber: PHONE, amount: 2 })]);

    expect(token.seen.calls).toBe(0);
    expect(store.calls.filter((c) => c === 'lease').length).toBeGreaterThan(1);
    expect(store.calls.at(-1)).toBe('read');
    expect(store.saved).toStrictEqual([]);
    expect(push.seen.map((s) => s.authorization)).toStrictEqual(['Bearer winner-token', 'Bearer winner-token']);
  });

  it('when the lease holder saves nothing within the deadline, then the push is refused as a timeout and nothing is sent', async () => {
    const token = tokenEndpoint();
    const push = postEndpoint(PUSH, [[200, answers.pushAccepted()]]);
    const store = new FakeStore();
    store.leasedBy = 'instance-a';
    const started = Date.now();
    const err = await new DarajaClient(config({ timeoutMs: 300 }), { now: frozen, tokenStore: store })
      .stkPush({ phoneNumber: PHONE, amount: 1 }).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(DarajaNetworkError);
    expect(err).toMatchObject({ kind: 'timeout', outcome: 'refused' });
    expect(Date.now() - started).toBeLessThan(300 + 150);
    expect(token.seen.calls).toBe(0);
    expect(push.seen).toHaveLength(0);
  });

  it('when the fetch under the lease fails, then the lease is released for the next instance and nothing is saved', async () => {
    nock(BASE).get('/oauth/v1/generate').query(true).reply(400, answers.error('400.008.01', 'Invalid Authentication passed'));
    const store = new FakeStore();
    await new DarajaClient(config(), { now: frozen, tokenStore: store, retry: { retries: 0 } }).getAccessToken().catch(() => undefined);
    expect(store.calls).toStrictEqual(['read', 'lease', 'release']);
    expect(store.leasedBy).toBeUndefined();
    expect(store.saved).toStrictEqual([]);
  });

  it('when a push gets 404.001.03 and the store holds a newer token, then the push is repeated with it and no token is fetched', async () => {
    const token = tokenEndpoint();
    const push = postEndpoint(PUSH, [invalidToken, [200, answers.pushAccepted('ws_CO_SECOND')]]);
    const store = new FakeStore();
    store.value = { token: 'mine', refreshAt: later(3000) };
    const client = new DarajaClient(config(), { now: frozen, tokenStore: store });
    await client.getAccessToken();
    // Another instance refreshed: Daraja now refuses 'mine'.
    store.value = { token: 'theirs', refreshAt: later(3500) };
    const accepted = await client.stkPush({ phoneNumber: PHONE, amount: 5 });

    expect(accepted.checkoutRequestId).toBe('ws_CO_SECOND');
    expect(token.seen.calls).toBe(0);
    expect(push.seen.map((s) => s.authorization)).toStrictEqual(['Bearer mine', 'Bearer theirs']);
    expect(await client.getAccessToken()).toBe('theirs');
  });

  it('when a push gets 404.001.03 and the store still holds the refused token, then a new one is fetched under the lease and saved', async () => {
    const token = tokenEndpoint({ tokens: ['replacement'] });
    const push = postEndpoint(PUSH, [invalidToken, [200, answers.pushAccepted()]]);
    const store = new FakeStore();
    store.value = { token: 'stale', refreshAt: later(3000) };
    await new DarajaClient(config(), { now: frozen, tokenStore: store }).stkPush({ phoneNumber: PHONE, amount: 5 });

    expect(token.seen.calls).toBe(1);
    expect(store.calls).toStrictEqual(['read', 'read', 'lease', 'save']);
    expect(store.value).toMatchObject({ token: 'replacement' });
    expect(push.seen.map((s) => s.authorization)).toStrictEqual(['Bearer stale', 'Bearer replacement']);
  });

  it('when the store fails, then the client fetches its own token, the push goes through, and the log names the failure but never the token', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'trace' }, new Writable({ write(chunk: Buffer, _enc, done) { lines.push(chunk.toString()); done(); } }));
    tokenEndpoint({ tokens: ['tok-SECRETSECRETSECRET'] });
    const push = postEndpoint(PUSH, [[200, answers.pushAccepted()]]);
    const store = new FakeStore();
    store.failReads = true;
    await new DarajaClient(config(), { now: frozen, tokenStore: store, logger }).stkPush({ phoneNumber: PHONE, amount: 5 });

    expect(push.seen.map((s) => s.authorization)).toStrictEqual(['Bearer tok-SECRETSECRETSECRET']);
    expect(store.calls).toStrictEqual(['read']);
    expect(lines.join('\n')).toContain('daraja.token.store_failed');
    expect(lines.join('\n')).not.toContain('tok-SECRETSECRETSECRET');
  });

  it('when two clients share one store and Daraja keeps one token per app, then concurrent pushes from both fetch one token and none is refused', async () => {
    // A token endpoint that, like Daraja, invalidates the previous token each time it issues one.
    let current = '';
    let issued = 0;
    nock(BASE).get('/oauth/v1/generate').query(true).delay(30).reply(() => {
      current = `token-${++issued}`;
      return [200, answers.token(current)];
    }).persist();
    const seen: string[] = [];
    nock(BASE).post(PUSH).delay(10).reply(function () {
      const auth = String(this.req.headers.authorization);
      seen.push(auth);
      return auth === `Bearer ${current}` ? [200, answers.pushAccepted()] : invalidToken;
    }).persist();
    const shared = new MemoryTokenStore();
    const a = new DarajaClient(config(), { now: frozen, tokenStore: shared });
    const b = new DarajaClient(config(), { now: frozen, tokenStore: shared });
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).stkPush({ phoneNumber: PHONE, amount: 1 + i })));

    expect(results.filter((r) => r.status === 'rejected')).toStrictEqual([]);
    expect(issued).toBe(1);
    expect(new Set(seen)).toStrictEqual(new Set(['Bearer token-1']));
  });
});

describe('MemoryTokenStore', () => {
  it('when one owner holds the lease, then another cannot take it or save, until it is released', async () => {
    const s = new MemoryTokenStore();
    expect(await s.tryLease('a', 1000)).toBe(true);
    expect(await s.tryLease('b', 1000)).toBe(false);
    expect(await s.save('tb', later(10), 'b')).toBe(false);
    await s.release('a');
    expect(await s.tryLease('b', 1000)).toBe(true);
    expect(await s.save('tb', later(10), 'b')).toBe(true);
    expect(await s.read()).toStrictEqual({ token: 'tb', refreshAt: later(10) });
  });

  it('when a lease runs out, then another owner can take it', async () => {
    // The store reads Date.now(): a fake clock moves past the lease instead of a sleep.
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const s = new MemoryTokenStore();
      expect(await s.tryLease('a', 20)).toBe(true);
      vi.advanceTimersByTime(19);
      expect(await s.tryLease('b', 1000)).toBe(false);
      vi.advanceTimersByTime(2);
      expect(await s.tryLease('b', 1000)).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('credentialFingerprint', () => {
  it('when computed, then it is sha256 hex that differs by host and key, ignores a trailing slash and contains no key', () => {
    const f = credentialFingerprint(BASE, KEY);
    expect(f).toMatch(/^[0-9a-f]{64}$/);
    expect(f).not.toContain(KEY);
    expect(credentialFingerprint(`${BASE}/`, KEY)).toBe(f);
    expect(credentialFingerprint('https://api.safaricom.co.ke', KEY)).not.toBe(f);
    expect(credentialFingerprint(BASE, 'other-key')).not.toBe(f);
  });
});
