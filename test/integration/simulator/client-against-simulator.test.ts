// The Daraja client (src/daraja) talking to the simulator over real HTTP: the two halves agree on Daraja's contract.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DarajaClient, type DarajaConfig } from '../../../src/daraja/daraja.client.js';
import { DarajaAuthError, DarajaError, DarajaNetworkError, DarajaSubscriberBusyError } from '../../../src/daraja/errors.js';
import { config } from '../daraja/helpers.js';
import { getToken, startReceiver, startSimulator, type Callback, type Receiver, type RunningSimulator } from './helpers.js';

const KEY = 'client-key';
const SECRET = 'client-secret';
// Long enough that the first query surely comes before the customer 'acts', even on a loaded 2-core runner.
const DELAY_MS = 300;

let s: RunningSimulator;
let receiver: Receiver;

beforeEach(async () => {
  receiver = await startReceiver();
  s = await startSimulator({ mode: 'manual', delayMs: DELAY_MS, consumerKey: KEY, consumerSecret: SECRET });
});
afterEach(async () => {
  await s.close();
  await receiver.close();
});

/** The client's own test config (sandbox shortcode and passkey), pointed at the simulator and the receiver. */
const client = (overrides: Partial<DarajaConfig> = {}) =>
  new DarajaClient(config({ baseUrl: s.base, consumerKey: KEY, consumerSecret: SECRET, callbackUrl: receiver.url, ...overrides }));

describe('DarajaClient against the simulator', () => {
  it('when it pushes to 254708374149, then the push is accepted, the callback arrives and the query says paid', async () => {
    const daraja = client();
    const accepted = await daraja.stkPush({ phoneNumber: '0708 374 149', amount: 45 });
    expect(accepted).toMatchObject({
      checkoutRequestId: expect.stringMatching(/^ws_CO_\d{17}708374149$/),
      responseCode: '0',
      customerMessage: 'Success. Request accepted for processing',
    });
    const [callback] = (await receiver.waitFor(1)) as Callback[];
    expect(callback!.Body.stkCallback).toMatchObject({
      CheckoutRequestID: accepted.checkoutRequestId,
      MerchantRequestID: accepted.merchantRequestId,
      ResultCode: 0,
    });
    expect(callback!.Body.stkCallback.CallbackMetadata!.Item).toContainEqual({ Name: 'Amount', Value: 45 });
    expect(await daraja.stkQuery(accepted.checkoutRequestId)).toEqual({
      state: 'paid', resultCode: '0', resultDesc: 'The service request is processed successfully.',
    });
    expect(s.sim.prompts()[0]).toMatchObject({ phoneNumber: '254708374149', amount: 45, accountReference: 'Tikiti', transactionDesc: 'Movie ticket' });
  });

  it('when it pushes to 254700000005, then no callback comes but the query goes from processing to paid', async () => {
    const daraja = client();
    const { checkoutRequestId } = await daraja.stkPush({ phoneNumber: '254700000005', amount: 30 });
    expect(await daraja.stkQuery(checkoutRequestId)).toEqual({ state: 'processing' });
    await expect.poll(() => daraja.stkQuery(checkoutRequestId), { timeout: 5000, interval: 50 }).toMatchObject({ state: 'paid', resultCode: '0' });
    // The prompt is finished: a planned callback would have started with it (state 'sending', attempts 1).
    expect(s.sim.prompts()[0]).toMatchObject({ status: 'finished', callback: { planned: 0, attempts: 0, state: 'none' } });
    expect(receiver.hits).toBe(0);
  });

  it('when it pushes to 254700000001, then the query reports the cancellation as failed with its code', async () => {
    const daraja = client();
    const { checkoutRequestId } = await daraja.stkPush({ phoneNumber: '254700000001', amount: 30 });
    await receiver.waitFor(1);
    expect(await daraja.stkQuery(checkoutRequestId)).toEqual({ state: 'failed', resultCode: '1032', resultDesc: 'Request cancelled by user' });
  });

  it('when it pushes to 254700000007, then the refusal maps to the subscriber-busy error, refused for sure', async () => {
    const err = await client().stkPush({ phoneNumber: '254700000007', amount: 30 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DarajaSubscriberBusyError);
    expect(err).toMatchObject({
      code: 'DARAJA_SUBSCRIBER_BUSY', outcome: 'refused', httpStatus: 500, errorCode: '500.001.1001',
      errorMessage: 'Unable to lock subscriber, a transaction is already in process for the current subscriber',
    });
  });

  it('when its cached token is invalidated by a second fetch elsewhere, then it fetches a new one and the push succeeds', async () => {
    const daraja = client();
    const first = await daraja.getAccessToken();
    const other = await getToken(s.base, KEY, SECRET); // another process with the same credentials
    expect(other).not.toBe(first);
    const accepted = await daraja.stkPush({ phoneNumber: '254708374149', amount: 10 });
    expect(accepted.responseCode).toBe('0');
    const refreshed = await daraja.getAccessToken();
    expect(refreshed).not.toBe(first);
    expect(s.sim.prompts()).toHaveLength(1); // the refused push created nothing; the retried one did
  });

  it('when it pushes to 254700000008 with a short timeout, then it gets an unknown-outcome timeout, yet the callback arrives', async () => {
    const daraja = client({ timeoutMs: 400 });
    await daraja.getAccessToken();
    const err = await daraja.stkPush({ phoneNumber: '254700000008', amount: 45 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DarajaNetworkError);
    expect(err).toMatchObject({ kind: 'timeout', outcome: 'unknown' });
    const [callback] = (await receiver.waitFor(1)) as Callback[];
    expect(callback!.Body.stkCallback).toMatchObject({ ResultCode: 0, CheckoutRequestID: s.sim.prompts()[0]!.checkoutRequestId });
  });

  it('when its consumer secret is wrong, then it fails with the auth error', async () => {
    const err = await client({ consumerSecret: 'wrong' }).getAccessToken().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DarajaAuthError);
    expect(err).toMatchObject({ errorCode: '400.008.01' });
  });

  it('when its passkey differs from the simulator\'s, then the push is refused as a merchant set-up problem', async () => {
    const err = await client({ passkey: 'not-the-passkey' }).stkPush({ phoneNumber: '254708374149', amount: 45 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DarajaError);
    expect(err).toMatchObject({ code: 'DARAJA_MERCHANT_SETUP', outcome: 'refused', errorMessage: 'Wrong credentials' });
    expect(s.sim.prompts()).toHaveLength(0);
  });
});
