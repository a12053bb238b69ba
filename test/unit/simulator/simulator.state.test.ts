import { describe, expect, it } from 'vitest';
import { IssuedTokens, PromptStore, type SimulatorPrompt } from '../../../src/simulator/simulator.state.js';

const prompt = (id: string): SimulatorPrompt => ({
  checkoutRequestId: id, merchantRequestId: `m-${id}`, phoneNumber: '254712345678', amount: 45, businessShortCode: '174379',
  partyB: '174379', transactionType: 'CustomerPayBillOnline', accountReference: 'Tikiti', transactionDesc: '',
  callbackUrl: 'http://127.0.0.1/cb', createdAt: new Date(), automatic: false, due: { at: new Date(), resultCode: '1037' }, warnings: [], status: 'pending',
  callback: { planned: 1, delivered: 0, attempts: 0, state: 'none' },
});

const finish = (store: PromptStore, p: SimulatorPrompt) => {
  p.status = 'finished';
  store.markFinished(p);
};

describe('PromptStore', () => {
  it('when full, then the oldest finished prompt is evicted before any pending one', () => {
    const evicted: string[] = [];
    const store = new PromptStore(3, (p) => evicted.push(p.checkoutRequestId));
    const [a, b, c] = [prompt('a'), prompt('b'), prompt('c')];
    store.add(a); store.add(b); store.add(c);
    finish(store, c);
    finish(store, b);
    store.add(prompt('d'));
    expect(evicted).toEqual(['c']);
    expect(store.all().map((p) => p.checkoutRequestId)).toEqual(['a', 'b', 'd']);
  });

  it('when full of pending prompts only, then the oldest pending one is evicted and reported', () => {
    const evicted: string[] = [];
    const store = new PromptStore(2, (p) => evicted.push(p.checkoutRequestId));
    store.add(prompt('a')); store.add(prompt('b')); store.add(prompt('c'));
    expect(evicted).toEqual(['a']);
    expect(store.get('a')).toBeUndefined();
    expect(store.pending().map((p) => p.checkoutRequestId)).toEqual(['b', 'c']);
  });

  it('when prompts finish, then recent() lists the last ones newest first and version moves on each change', () => {
    const store = new PromptStore(10, () => {});
    const ps = ['a', 'b', 'c'].map(prompt);
    ps.forEach((p) => store.add(p));
    const before = store.version;
    ps.forEach((p) => finish(store, p));
    expect(store.recent(2).map((p) => p.checkoutRequestId)).toEqual(['c', 'b']);
    expect(store.version).toBe(before + 3);
  });
});

describe('IssuedTokens', () => {
  const now = new Date('2025-05-14T17:00:00Z');

  it('when a second token is issued for the same credentials, then the first stops working', () => {
    const tokens = new IssuedTokens(10, true);
    const first = tokens.issue('key', now);
    const second = tokens.issue('key', now);
    expect(first).toMatch(/^[A-Za-z0-9]{28}$/);
    expect(second).not.toBe(first);
    expect(tokens.isValid(first, now)).toBe(false);
    expect(tokens.isValid(second, now)).toBe(true);
  });

  it('when tokens are issued for other credentials, or invalidation is off, then earlier tokens keep working', () => {
    const tokens = new IssuedTokens(10, true);
    const mine = tokens.issue('key', now);
    tokens.issue('other', now);
    expect(tokens.isValid(mine, now)).toBe(true);

    const lenient = new IssuedTokens(10, false);
    const first = lenient.issue('key', now);
    lenient.issue('key', now);
    expect(lenient.isValid(first, now)).toBe(true);
  });

  it('when 3599 seconds have passed, then the token has expired', () => {
    const tokens = new IssuedTokens(10, true);
    const token = tokens.issue('key', now);
    expect(tokens.isValid(token, new Date(now.getTime() + 3598_000))).toBe(true);
    expect(tokens.isValid(token, new Date(now.getTime() + 3599_000))).toBe(false);
  });

  it('when more tokens than the bound are issued, then the oldest are forgotten', () => {
    const tokens = new IssuedTokens(2, false);
    const [a, b, c] = [tokens.issue('x', now), tokens.issue('y', now), tokens.issue('z', now)];
    expect([a, b, c].map((t) => tokens.isValid(t, now))).toEqual([false, true, true]);
  });
});
