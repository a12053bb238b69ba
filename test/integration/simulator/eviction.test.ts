import { afterEach, expect, it, vi } from 'vitest';
import { waitFor } from '../../support/wait.js';
import { fakeSimulatorTimers, push, query, startReceiver, startSimulator, type RunningSimulator } from './helpers.js';

let s: RunningSimulator | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await s?.close();
});

it('when more prompts arrive than maxEntries, then the oldest finished go first, then the oldest pending, and evicted ids are unknown to the query', async () => {
  s = await startSimulator({ mode: 'manual', delayMs: 5, maxEntries: 3 });
  const base = s.base;
  const sim = s.sim;
  const idOf = async (phone: number) => (await push(base, { PhoneNumber: phone })).body.CheckoutRequestID as string;

  const pendingA = await idOf(254712345678); // manual: stays pending
  const finishedB = await idOf(254700000001); // finishes after 5 ms
  const finishedC = await idOf(254700000002);
  await waitFor('two finished prompts', () => sim.prompts().filter((p) => p.status === 'finished').length === 2);

  const d = await idOf(254712345679);
  expect(sim.prompts().map((p) => p.checkoutRequestId)).toEqual([pendingA, finishedC, d]);
  const e = await idOf(254712345670);
  expect(sim.prompts().map((p) => p.checkoutRequestId)).toEqual([pendingA, d, e]);
  const f = await idOf(254712345671);
  expect(sim.prompts().map((p) => p.checkoutRequestId)).toEqual([d, e, f]);

  const gone = await query(base, finishedB);
  expect(gone.body).toMatchObject({ errorCode: '400.002.02', errorMessage: 'Bad Request - Invalid CheckoutRequestID' });
});

it('when a pending auto prompt is evicted, then its timer is cancelled: it never finishes nor calls back', async () => {
  const receiver = await startReceiver();
  try {
    s = await startSimulator({ mode: 'auto', delayMs: 60, maxEntries: 1 });
    fakeSimulatorTimers();
    await push(s.base, { PhoneNumber: 254712345678, CallBackURL: receiver.url });
    expect(vi.getTimerCount()).toBe(1);
    const second = (await push(s.base, { PhoneNumber: 254712345679, CallBackURL: receiver.url })).body.CheckoutRequestID as string;
    // The first prompt's timer went with it: only the second one's is left.
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(60);
    expect(vi.getTimerCount()).toBe(0);
    await receiver.waitFor(1);
    await waitFor('the delivery recorded', () => s!.sim.prompts()[0]?.callback.state === 'delivered');
    expect(receiver.received).toMatchObject([{ Body: { stkCallback: { CheckoutRequestID: second } } }]);
    expect(s.sim.prompts()).toMatchObject([{ checkoutRequestId: second, status: 'finished', resultCode: '0' }]);
  } finally {
    await receiver.close();
  }
});
