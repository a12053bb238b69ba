import { afterEach, describe, expect, it, vi } from 'vitest';
import { waitFor } from '../../support/wait.js';
import {
  fakeSimulatorTimers, push, query, sleep, startReceiver, startSimulator, type Callback, type Receiver, type RunningSimulator,
} from './helpers.js';

const PAYS = 254708374149;
const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const thing of open.splice(0).reverse()) await thing.close();
});

async function setUp(receiverOpts: Parameters<typeof startReceiver>[0], simOpts: Parameters<typeof startSimulator>[0]) {
  const receiver: Receiver = await startReceiver(receiverOpts);
  const s: RunningSimulator = await startSimulator({ delayMs: 10, ...simOpts });
  open.push(receiver, s);
  return { receiver, s };
}

const finalCallbackState = (s: RunningSimulator) =>
  waitFor('the callback delivered or given up', () => {
    const cb = s.sim.prompts()[0]?.callback;
    return cb && (cb.state === 'delivered' || cb.state === 'failed') ? cb : undefined;
  });

describe('callback delivery', () => {
  it('when the receiver fails the first two times, then the third attempt delivers it after exponential backoff', async () => {
    const { receiver, s } = await setUp({ failFirst: 2, failStatus: 503 }, { callbackRetry: { attempts: 4, baseDelayMs: 60 } });
    const { body } = await push(s.base, { PhoneNumber: PAYS, CallBackURL: receiver.url });
    const [callback] = (await receiver.waitFor(1)) as Callback[];
    expect(callback!.Body.stkCallback).toMatchObject({ CheckoutRequestID: body.CheckoutRequestID, ResultCode: 0 });
    expect(receiver.hits).toBe(3);
    const [t1, t2, t3] = receiver.hitTimes as [number, number, number];
    expect(t2 - t1).toBeGreaterThanOrEqual(55); // base delay
    expect(t3 - t2).toBeGreaterThanOrEqual(115); // doubled
    expect(await finalCallbackState(s)).toEqual({ planned: 1, delivered: 1, attempts: 3, state: 'delivered' });
  });

  it('when the receiver keeps answering 500, then the simulator gives up after the configured attempts', async () => {
    const { receiver, s } = await setUp({ failFirst: 1000, failStatus: 500 }, { callbackRetry: { attempts: 3, baseDelayMs: 10 } });
    await push(s.base, { PhoneNumber: PAYS, CallBackURL: receiver.url });
    expect(await finalCallbackState(s)).toEqual({ planned: 1, delivered: 0, attempts: 3, state: 'failed', lastError: 'HTTP 500' });
    // A fourth try would come after the next back-off (40 ms here). The back-off runs on node:timers/promises, which no
    // test clock reaches, so it is waited out: three times over.
    await sleep(150);
    expect(receiver.hits).toBe(3);
  });

  it('when nothing listens at the CallBackURL, then it is retried and reported as refused', async () => {
    const { receiver, s } = await setUp({}, { callbackRetry: { attempts: 2, baseDelayMs: 10 } });
    const downUrl = receiver.url;
    await receiver.close();
    await push(s.base, { PhoneNumber: PAYS, CallBackURL: downUrl });
    expect(await finalCallbackState(s)).toEqual({ planned: 1, delivered: 0, attempts: 2, state: 'failed', lastError: 'ECONNREFUSED' });
  });

  it('when a callback cannot be delivered, then the STK query still reports the payment', async () => {
    const { receiver, s } = await setUp({ failFirst: 1000 }, { callbackRetry: { attempts: 1, baseDelayMs: 10 } });
    const { body } = await push(s.base, { PhoneNumber: PAYS, CallBackURL: receiver.url });
    await finalCallbackState(s);
    expect((await query(s.base, body.CheckoutRequestID)).body).toMatchObject({ ResultCode: '0' });
  });
});

describe('close()', () => {
  it('when closed before a prompt answers by itself, then no callback is ever sent', async () => {
    // The prompt would pay itself after 1 s, on a clock that only moves when the test says.
    const { receiver, s } = await setUp({}, { mode: 'auto', delayMs: 1000 });
    fakeSimulatorTimers();
    await push(s.base, { PhoneNumber: PAYS, CallBackURL: receiver.url });
    expect(vi.getTimerCount()).toBe(1);
    await s.sim.close();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1300);
    expect(s.sim.prompts()[0]).toMatchObject({ status: 'pending', callback: { attempts: 0, state: 'none' } });
    expect(receiver.hits).toBe(0);
  });

  it('when closed while a callback is being retried, then the retries stop and close() resolves promptly', async () => {
    const { receiver, s } = await setUp({ failFirst: 1000 }, { callbackRetry: { attempts: 5, baseDelayMs: 2000 } });
    await push(s.base, { PhoneNumber: PAYS, CallBackURL: receiver.url });
    await waitFor('the first delivery attempt', () => receiver.hits >= 1);
    const started = Date.now();
    await s.sim.close();
    expect(Date.now() - started).toBeLessThan(500);
    // Left as being sent, not failed: a simulator started again on the same state file goes on delivering it.
    expect(s.sim.prompts()[0]?.callback).toMatchObject({ state: 'sending', delivered: 0, attempts: 1 });
    expect(receiver.hits).toBe(1);
  });
});
