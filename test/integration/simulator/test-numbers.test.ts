import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { waitFor } from '../../support/wait.js';
import {
  fakeSimulatorTimers, getToken, push, pushBody, query, startReceiver, startSimulator,
  type Callback, type Receiver, type RunningSimulator,
} from './helpers.js';

// Long enough that the first query surely comes before the customer 'acts', even on a loaded 2-core runner.
const DELAY_MS = 300;

let s: RunningSimulator;
let receiver: Receiver;

beforeEach(async () => {
  receiver = await startReceiver();
  s = await startSimulator({ mode: 'manual', delayMs: DELAY_MS });
});
afterEach(async () => {
  vi.useRealTimers();
  await s.close();
  await receiver.close();
});

const pushTo = (phone: number, extra: Record<string, unknown> = {}) =>
  push(s.base, { PhoneNumber: phone, CallBackURL: receiver.url, ...extra });

const queryResult = async (checkoutRequestId: string) => {
  const res = await query(s.base, checkoutRequestId);
  return { status: res.status, ResultCode: res.body.ResultCode as string | undefined, ResultDesc: res.body.ResultDesc as string | undefined, body: res.body };
};

describe('test numbers that fail', () => {
  it.each([
    [254700000001, 1032, 'Request cancelled by user'],
    [254700000002, 1, 'The balance is insufficient for the transaction.'],
    [254700000003, 2001, 'The initiator information is invalid.'],
    [254700000004, 1037, 'DS timeout user cannot be reached'],
    [254700000009, 1019, 'Transaction has expired'],
    [254700000010, 1001, 'Unable to lock subscriber, a transaction is already in process for the current subscriber'],
    [254700000014, 1025, 'An error occurred while sending a push request'],
    [254700000015, 17, 'Rule limited.'],
    [254700000016, 2028, 'The request is not permitted according to product assignment'],
    // Daraja's one non-numeric code arrives as a string, in the callback as in the query.
    [254700000017, 'SFC_IC0003', 'Operator does not exist'],
  ])('when %s is pushed, then after delayMs its callback carries ResultCode %s without CallbackMetadata, and the query agrees', async (phone, code, desc) => {
    const { body } = await pushTo(phone);
    expect(body.ResponseCode).toBe('0');
    const [callback] = (await receiver.waitFor(1)) as Callback[];
    expect(callback).toEqual({
      Body: {
        stkCallback: {
          MerchantRequestID: body.MerchantRequestID,
          CheckoutRequestID: body.CheckoutRequestID,
          ResultCode: code,
          ResultDesc: desc,
        },
      },
    });
    expect(await queryResult(body.CheckoutRequestID)).toMatchObject({ status: 200, ResultCode: String(code), ResultDesc: desc });
  });

  it('when the reserved refund numbers 254700000011 to …13 are pushed, then they pay like any other number (in auto mode)', async () => {
    const auto = await startSimulator({ mode: 'auto', delayMs: 20 });
    try {
      for (const phone of [254700000011, 254700000012, 254700000013]) await push(auto.base, { PhoneNumber: phone, CallBackURL: receiver.url });
      const callbacks = (await receiver.waitFor(3)) as Callback[];
      expect(callbacks.map((c) => c.Body.stkCallback.ResultCode)).toStrictEqual([0, 0, 0]);
    } finally {
      await auto.close();
    }
  });
});

describe('test numbers that Daraja\'s spike arrest refuses', () => {
  it('when 254700000018 is pushed, then HTTP 500 500.003.02 "Spike Arrest Violation" at once and no prompt', async () => {
    const res = await pushTo(254700000018);
    expect(res.status).toBe(500);
    expect(res.body).toMatchObject({ errorCode: '500.003.02', errorMessage: 'Spike Arrest Violation' });
    expect(s.sim.prompts()).toHaveLength(0);
  });

  it('when 254700000019 is pushed, then it pays with its callback, but every STK Query about it is refused by spike arrest', async () => {
    const { body } = await pushTo(254700000019);
    const [callback] = (await receiver.waitFor(1)) as Callback[];
    expect(callback!.Body.stkCallback).toMatchObject({ CheckoutRequestID: body.CheckoutRequestID, ResultCode: 0 });
    const answer = await queryResult(body.CheckoutRequestID);
    expect(answer).toMatchObject({ status: 500, body: { errorCode: '500.003.02', errorMessage: 'Spike Arrest Violation' } });
  });
});

describe('test numbers that pay', () => {
  it('when 254708374149 is pushed, then a success callback arrives in Daraja\'s exact shape', async () => {
    const before = Date.now();
    const { body } = await pushTo(254708374149, { Amount: 45 });
    const [callback] = (await receiver.waitFor(1)) as Callback[];
    const stk = callback!.Body.stkCallback;
    expect(stk).toEqual({
      MerchantRequestID: body.MerchantRequestID,
      CheckoutRequestID: body.CheckoutRequestID,
      ResultCode: 0,
      ResultDesc: 'The service request is processed successfully.',
      CallbackMetadata: {
        Item: [
          { Name: 'Amount', Value: 45 },
          { Name: 'MpesaReceiptNumber', Value: expect.stringMatching(/^[A-Z][A-Z0-9]{9}$/) },
          { Name: 'Balance' },
          { Name: 'TransactionDate', Value: expect.any(Number) },
          { Name: 'PhoneNumber', Value: 254708374149 },
        ],
      },
    });
    // TransactionDate is the Nairobi wall clock (UTC+3) at payment, as a YYYYMMDDHHmmss number.
    const date = String(stk.CallbackMetadata!.Item[3]!.Value);
    const asUtc = Date.UTC(+date.slice(0, 4), +date.slice(4, 6) - 1, +date.slice(6, 8), +date.slice(8, 10), +date.slice(10, 12), +date.slice(12, 14)) - 3 * 3600_000;
    expect(asUtc).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(asUtc).toBeLessThanOrEqual(Date.now());

    const prompt = s.sim.prompts().find((p) => p.checkoutRequestId === body.CheckoutRequestID);
    expect(prompt).toMatchObject({ status: 'finished', resultCode: '0', mpesaReceiptNumber: stk.CallbackMetadata!.Item[1]!.Value });
    expect(await queryResult(body.CheckoutRequestID)).toMatchObject({ status: 200, ResultCode: '0' });
  });

  it('when 254700000005 is pushed, then no callback is ever sent, yet after delayMs the query says paid', async () => {
    const { body } = await pushTo(254700000005);
    const early = await queryResult(body.CheckoutRequestID);
    expect(early.status).toBe(500);
    expect(early.body.errorMessage).toBe('The transaction is being processed');
    await expect.poll(() => queryResult(body.CheckoutRequestID), { timeout: 5000, interval: 50 }).toMatchObject({
      status: 200, ResultCode: '0', ResultDesc: 'The service request is processed successfully.',
    });
    // The prompt is finished: a planned callback would have started with it (state 'sending', attempts 1).
    expect(s.sim.prompts()[0]).toMatchObject({ status: 'finished', callback: { planned: 0, attempts: 0, delivered: 0, state: 'none' } });
    expect(receiver.hits).toBe(0);
  });

  it('when 254700000006 is pushed, then the same success callback is delivered twice', async () => {
    const { body } = await pushTo(254700000006);
    const [first, second] = (await receiver.waitFor(2)) as Callback[];
    expect(first!.Body.stkCallback).toMatchObject({ CheckoutRequestID: body.CheckoutRequestID, ResultCode: 0 });
    expect(second).toEqual(first);
    // Both deliveries done (they run one after the other): there is no third to wait for.
    await waitFor('the deliveries recorded', () => s.sim.prompts()[0]?.callback.state === 'delivered');
    expect(receiver.received).toHaveLength(2);
    expect(s.sim.prompts()[0]?.callback).toMatchObject({ planned: 2, delivered: 2, state: 'delivered' });
  });
});

describe('test numbers that trouble the push itself', () => {
  it('when 254700000007 is pushed, then HTTP 500 "Unable to lock subscriber" at once and no prompt', async () => {
    fakeSimulatorTimers();
    const res = await pushTo(254700000007);
    expect(res.status).toBe(500);
    expect(res.body).toEqual({
      requestId: expect.any(String),
      errorCode: '500.001.1001',
      errorMessage: 'Unable to lock subscriber, a transaction is already in process for the current subscriber',
    });
    // Well past delayMs: nothing was scheduled to happen later either.
    vi.advanceTimersByTime(DELAY_MS * 10);
    expect(s.sim.prompts()).toHaveLength(0);
    expect(receiver.hits).toBe(0);
  });

  it('when 254700000008 is pushed by a client with a short timeout, then the client times out, yet the prompt is paid and its callback sent', async () => {
    const token = await getToken(s.base);
    const timedOut = await request(s.base)
      .post('/mpesa/stkpush/v1/processrequest')
      .set('authorization', `Bearer ${token}`)
      .send(pushBody({ PhoneNumber: 254700000008, CallBackURL: receiver.url }))
      .timeout(150)
      .then(() => 'answered', (err: { timeout?: number }) => (err.timeout ? 'timed out' : `failed: ${String(err)}`));
    expect(timedOut).toBe('timed out');

    const [callback] = (await receiver.waitFor(1)) as Callback[];
    const stk = callback!.Body.stkCallback;
    expect(stk).toMatchObject({ ResultCode: 0, CheckoutRequestID: expect.stringMatching(/^ws_CO_\d{17}700000008$/) });
    expect(stk.CallbackMetadata!.Item).toContainEqual({ Name: 'PhoneNumber', Value: 254700000008 });
    expect(s.sim.prompts()[0]).toMatchObject({ status: 'finished', resultCode: '0', checkoutRequestId: stk.CheckoutRequestID });
  });

  it('when 254700000008 is pushed and the client waits past holdMs, then the acknowledgement finally comes', async () => {
    const held = await startSimulator({ delayMs: DELAY_MS, holdMs: 250 });
    try {
      const started = Date.now();
      const res = await push(held.base, { PhoneNumber: 254700000008, CallBackURL: receiver.url });
      expect(Date.now() - started).toBeGreaterThanOrEqual(240);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ ResponseCode: '0', CheckoutRequestID: held.sim.prompts()[0]!.checkoutRequestId });
    } finally {
      await held.close();
    }
  });

  it('when a 254700000008 answer is held and the simulator closes, then the held answer is sent so servers can stop', async () => {
    const held = await startSimulator({ delayMs: DELAY_MS, holdMs: 60_000 });
    const pending = push(held.base, { PhoneNumber: 254700000008, CallBackURL: receiver.url });
    await waitFor('the held prompt', () => held.sim.prompts().length > 0);
    await held.close();
    const res = await pending;
    expect(res.body.ResponseCode).toBe('0');
  });
});

describe('manual and auto mode', () => {
  it('when an ordinary number is pushed in manual mode, then it waits on the phone: no callback, query pending', async () => {
    fakeSimulatorTimers();
    const { body } = await pushTo(254712345678);
    vi.advanceTimersByTime(DELAY_MS * 10);
    // Had it answered by itself, its callback would be on its way (the prompt finished, delivery started).
    expect(s.sim.prompts()[0]?.callback).toMatchObject({ attempts: 0, state: 'none' });
    expect(receiver.hits).toBe(0);
    expect((await queryResult(body.CheckoutRequestID)).status).toBe(500);
    expect(s.sim.prompts()[0]).toMatchObject({ status: 'pending', automatic: false });
  });

  it('when an ordinary number is pushed in auto mode, then it pays after delayMs with a callback', async () => {
    const auto = await startSimulator({ mode: 'auto', delayMs: DELAY_MS });
    try {
      const started = Date.now();
      const { body } = await push(auto.base, { PhoneNumber: 254712345678, CallBackURL: receiver.url });
      expect(auto.sim.prompts()[0]).toMatchObject({ status: 'pending', automatic: true });
      const [callback] = (await receiver.waitFor(1)) as Callback[];
      expect(Date.now() - started).toBeGreaterThanOrEqual(DELAY_MS);
      expect(callback!.Body.stkCallback).toMatchObject({ CheckoutRequestID: body.CheckoutRequestID, ResultCode: 0 });
    } finally {
      await auto.close();
    }
  });

  it('when a test number is pushed in auto mode, then the test number wins over auto', async () => {
    const auto = await startSimulator({ mode: 'auto', delayMs: DELAY_MS });
    try {
      await push(auto.base, { PhoneNumber: 254700000001, CallBackURL: receiver.url });
      const [callback] = (await receiver.waitFor(1)) as Callback[];
      expect(callback!.Body.stkCallback.ResultCode).toBe(1032);
    } finally {
      await auto.close();
    }
  });

  it('when nobody answers a manual prompt for promptSeconds, then it times out by itself: ResultCode 1037 with its callback', async () => {
    const short = await startSimulator({ mode: 'manual', promptSeconds: 0.3 });
    try {
      const started = Date.now();
      const { body } = await push(short.base, { PhoneNumber: 254712345678, CallBackURL: receiver.url });
      const [callback] = (await receiver.waitFor(1, 3000)) as Callback[];
      expect(Date.now() - started).toBeGreaterThanOrEqual(300);
      expect(callback!.Body.stkCallback).toMatchObject({ CheckoutRequestID: body.CheckoutRequestID, ResultCode: 1037 });
    } finally {
      await short.close();
    }
  });

  it('when a manual prompt is waiting, then the phone page says when it will time out by itself', async () => {
    await pushTo(254712345678);
    const page = await request(s.base).get('/phone').expect(200);
    expect(page.text).toContain('Times out by itself after 60 s if nobody answers');
  });
});

describe('callbacks only to the app it belongs to', () => {
  it('when callbackOrigins is set and a push names another origin, then 400 "Invalid CallBackURL" and no prompt; its own origin is accepted', async () => {
    const own = await startSimulator({ callbackOrigins: [receiver.url] });
    try {
      const elsewhere = await push(own.base, { CallBackURL: 'http://127.0.0.1:9/api/payments/callback/x' });
      expect(elsewhere.status).toBe(400);
      expect(elsewhere.body).toMatchObject({ errorCode: '400.002.02', errorMessage: 'Bad Request - Invalid CallBackURL' });
      expect(own.sim.prompts()).toHaveLength(0);
      expect((await push(own.base, { CallBackURL: receiver.url })).status).toBe(200);
    } finally {
      await own.close();
    }
  });
});

describe('warnings on the phone page', () => {
  it('when a push carries what the real Daraja may refuse, then the phone page shows each warning on the prompt', async () => {
    const { body } = await pushTo(254712345678, { TransactionDesc: 'Lipa na mpesa online', TransactionType: 'CustomerPayBillOnline ' });
    const page = await request(s.base).get('/phone').expect(200);
    expect(page.text).toContain(body.CheckoutRequestID);
    expect(page.text).toContain('the real Daraja may refuse this: TransactionDesc is 20 characters; Daraja documents at most 13.');
    expect(page.text).toContain('the real Daraja may refuse this: TransactionType &#34;CustomerPayBillOnline &#34; has stray spaces.');
  });

  it('when a push carries what the real Daraja may refuse, then the log says so too, once per push', async () => {
    const lines: { fields: Record<string, unknown>; message?: string }[] = [];
    const keep = (fields: Record<string, unknown>, message?: string) => { lines.push({ fields, message }); };
    const logged = await startSimulator({ logger: { debug: keep, info: keep, warn: keep, error: keep } });
    try {
      await push(logged.base, { CallBackURL: receiver.url, TransactionDesc: 'Lipa na mpesa online' });
      const warned = lines.filter((l) => l.message?.includes('the real Daraja may refuse this'));
      expect(warned).toHaveLength(1);
      expect(warned[0]!.message).toBe('simulator: the real Daraja may refuse this: TransactionDesc is 20 characters; Daraja documents at most 13.');
    } finally {
      await logged.close();
    }
  });
});
