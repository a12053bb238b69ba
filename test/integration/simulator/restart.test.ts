import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getToken, push, query, startReceiver, startSimulator, type Callback, type Receiver, type RunningSimulator } from './helpers.js';

// A simulator given a state file takes up, after a restart, where the last one on that file stopped.
let dir: string;
let statePath: string;
const running: RunningSimulator[] = [];
let receiver: Receiver;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tikiti-sim-state-'));
  statePath = join(dir, 'simulator-state.jsonl');
  receiver = await startReceiver();
});
afterEach(async () => {
  for (const s of running.splice(0)) await s.close();
  await receiver.close();
  rmSync(dir, { recursive: true, force: true });
});

const start = async (opts: Parameters<typeof startSimulator>[0] = {}) => {
  const s = await startSimulator({ statePath, ...opts });
  running.push(s);
  return s;
};

/** Stops a simulator the way a crash would leave it for the next one: nothing more is written after this. */
async function crash(s: RunningSimulator): Promise<void> {
  running.splice(running.indexOf(s), 1);
  await s.close();
}

const ORDINARY = 254712345678;

describe('a simulator started again on the same state file', () => {
  it('when a manual prompt was waiting, then it is on the phone again, and paying it posts the callback to its stored CallBackURL', async () => {
    const before = await start();
    const { body } = await push(before.base, { PhoneNumber: ORDINARY, CallBackURL: receiver.url });
    await crash(before);

    const after = await start();
    const phone = await request(after.base).get('/phone').expect(200);
    expect(phone.text).toContain(body.CheckoutRequestID);
    expect(phone.text).toContain('Pay KES 45 to TIKITI?');
    await request(after.base).post(`/phone/prompts/${body.CheckoutRequestID}/pin`).type('form').send({ pin: '1234' }).expect(303);
    const [cb] = (await receiver.waitFor(1)) as Callback[];
    expect(cb!.Body.stkCallback).toMatchObject({ CheckoutRequestID: body.CheckoutRequestID, ResultCode: 0 });
    expect((await query(after.base, body.CheckoutRequestID)).body).toMatchObject({ ResultCode: '0' });
  });

  it('when an automatic prompt\'s timer was running, then it answers by itself when it was due, with its callback', async () => {
    const before = await start({ mode: 'auto', delayMs: 400 });
    const { body } = await push(before.base, { PhoneNumber: ORDINARY, CallBackURL: receiver.url });
    await crash(before);
    expect(receiver.hits).toBe(0);

    await start({ mode: 'auto', delayMs: 400 });
    const [cb] = (await receiver.waitFor(1, 3000)) as Callback[];
    expect(cb!.Body.stkCallback).toMatchObject({ CheckoutRequestID: body.CheckoutRequestID, ResultCode: 0 });
  });

  it('when nobody answered a manual prompt before the restart, then it still times out (1037) after SIMULATOR_PROMPT_SECONDS', async () => {
    const before = await start({ promptSeconds: 0.3 });
    const { body } = await push(before.base, { PhoneNumber: ORDINARY, CallBackURL: receiver.url });
    await crash(before);
    await start({ promptSeconds: 0.3 });
    const [cb] = (await receiver.waitFor(1, 3000)) as Callback[];
    expect(cb!.Body.stkCallback).toMatchObject({ CheckoutRequestID: body.CheckoutRequestID, ResultCode: 1037, ResultDesc: 'DS timeout user cannot be reached' });
  });

  it('when a callback was still being retried, then the new simulator delivers it', async () => {
    const failing = await startReceiver({ failFirst: 1 });
    try {
      const before = await start({ mode: 'auto', delayMs: 10, callbackRetry: { attempts: 3, baseDelayMs: 5000 } });
      await push(before.base, { PhoneNumber: ORDINARY, CallBackURL: failing.url });
      await expect.poll(() => failing.hits, { timeout: 3000 }).toBe(1); // the first try failed; the next is 5 s away
      await crash(before);
      await start({ callbackRetry: { attempts: 3, baseDelayMs: 10 } });
      expect(await failing.waitFor(1, 3000)).toHaveLength(1);
    } finally {
      await failing.close();
    }
  });

  it('when a token was issued before the restart, then it still works after, as Daraja\'s tokens outlive its restarts', async () => {
    const before = await start();
    const token = await getToken(before.base);
    await crash(before);
    const after = await start();
    expect((await push(after.base, { CallBackURL: receiver.url }, token)).status).toBe(200);
  });

  it('when the file ends in a line cut short by a crash, then the rest is read and the broken line skipped', async () => {
    const before = await start();
    const { body } = await push(before.base, { PhoneNumber: ORDINARY, CallBackURL: receiver.url });
    await crash(before);
    appendFileSync(statePath, '{"t":"prompt","p":{"checkoutRequ');
    const after = await start();
    expect(after.sim.prompts().map((p) => p.checkoutRequestId)).toStrictEqual([body.CheckoutRequestID]);
    // Read back, the file was rewritten as one snapshot line: nothing broken is left in it.
    expect(readFileSync(statePath, 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('when no state file is given, then a restart forgets everything (the default, memory only)', async () => {
    const before = await startSimulator();
    const { body } = await push(before.base, { PhoneNumber: ORDINARY, CallBackURL: receiver.url });
    await before.close();
    const after = await startSimulator();
    running.push(after);
    expect((await query(after.base, body.CheckoutRequestID)).body.errorMessage).toBe('Bad Request - Invalid CheckoutRequestID');
  });
});
