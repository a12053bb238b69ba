import { createRequire } from 'node:module';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SANDBOX_PASSKEY } from '../../../src/simulator/index.js';
import { startReceiver, type Callback, type Receiver } from './helpers.js';
import { startStandalone, type StandaloneSimulator } from './standalone-process.js';

// Two Daraja clients from npm, exactly as they ship, against `npm run simulator`: token → STK push → callback → query.
// Each is only pointed at the simulator, through the one setting it has for its host: mpesa-node keeps it in
// `baseURL`, daraja.js in its HTTP client's `baseUrl`. Nothing sits between them and the simulator. (mpesa-api, the
// other popular one, cannot be pointed at a port: its HTTP layer keeps only the host name of its base URL.)
const require = createRequire(import.meta.url);
const MpesaNode = require('mpesa-node') as new (config: Record<string, unknown>) => {
  baseURL: string;
  lipaNaMpesaOnline(phone: number, amount: number, callbackUrl: string, accountRef: string): Promise<{ data: Record<string, string> }>;
  lipaNaMpesaQuery(checkoutRequestId: string): Promise<{ data: Record<string, string> }>;
};
const darajaJs = require('daraja.js') as {
  Mpesa: new (credentials: Record<string, unknown>, env: string) => { _http: { baseUrl: string }; stkPush(): StkBuilder };
  STKPushResultWrapper: new (body: unknown) => { isOkay(): boolean; getResultCode(): number };
};
interface StkBuilder {
  shortCode(c: string): StkBuilder; amount(a: number): StkBuilder; callbackURL(u: string): StkBuilder; phoneNumber(p: number): StkBuilder;
  lipaNaMpesaPassKey(k: string): StkBuilder; checkoutRequestID(id: string): StkBuilder;
  send(): Promise<{ isOkay(): boolean; getTransactionID(): string; data: Record<string, string> }>;
  queryStatus(): Promise<{ isOkay(): boolean; getResultCode(): string; data: Record<string, string> }>;
}

const PAYS = 254708374149; // Safaricom's sandbox test number: the prompt pays by itself after SIMULATOR_DELAY_MS

let receiver: Receiver;
beforeEach(async () => {
  receiver = await startReceiver();
});
afterEach(() => receiver.close());

/** The warnings the simulator put on its last prompts, as its phone page's JSON shows them. */
async function warningsShown(base: string): Promise<string[]> {
  const screen = await request(base).get('/phone/prompts').expect(200);
  return (screen.body.recent as { warnings: string[] }[]).concat(screen.body.pending as { warnings: string[] }[]).flatMap((p) => p.warnings);
}

describe('outside clients against npm run simulator, as shipped', () => {
  let sim: StandaloneSimulator;
  beforeAll(async () => {
    sim = await startStandalone({ SIMULATOR_MODE: 'manual', SIMULATOR_DELAY_MS: '100' });
  });
  afterAll(() => sim?.stop());

  it('when Safaricom\'s mpesa-node pushes, queries and is called back, then every step works, with warnings for its UTC timestamp and 20-character TransactionDesc', async () => {
    const mpesa = new MpesaNode({
      consumerKey: 'any-key', consumerSecret: 'any-secret', environment: 'sandbox',
      lipaNaMpesaShortCode: '174379', lipaNaMpesaShortPass: SANDBOX_PASSKEY,
    });
    mpesa.baseURL = sim.base;
    const pushed = await mpesa.lipaNaMpesaOnline(PAYS, 10, receiver.url, 'Tikiti');
    expect(pushed.data).toMatchObject({ ResponseCode: '0', CheckoutRequestID: expect.stringMatching(/^ws_CO_/) });

    const [callback] = (await receiver.waitFor(1)) as Callback[];
    expect(callback!.Body.stkCallback).toMatchObject({ CheckoutRequestID: pushed.data.CheckoutRequestID, ResultCode: 0 });
    const queried = await mpesa.lipaNaMpesaQuery(pushed.data.CheckoutRequestID!);
    expect(queried.data).toMatchObject({ ResponseCode: '0', ResultCode: '0', CheckoutRequestID: pushed.data.CheckoutRequestID });

    const warnings = await warningsShown(sim.base);
    expect(warnings).toContainEqual(expect.stringMatching(/^the real Daraja may refuse this: Timestamp \d{14} is 180 minutes behind Nairobi time \(UTC\+3\); it looks like UTC\.$/));
    expect(warnings).toContain('the real Daraja may refuse this: TransactionDesc is 20 characters; Daraja documents at most 13.');
    expect(sim.output()).toContain('the real Daraja may refuse this');
  });

  it('when daraja.js pushes, queries and reads its callback, then every step works, with a warning for its UTC timestamp', async () => {
    const app = new darajaJs.Mpesa({ consumerKey: 'any-key', consumerSecret: 'any-secret', securityCredential: 'not-used-by-stk' }, 'sandbox');
    app._http.baseUrl = sim.base;
    const pushed = await app.stkPush().shortCode('174379').amount(10).callbackURL(receiver.url).phoneNumber(PAYS)
      .lipaNaMpesaPassKey(SANDBOX_PASSKEY).send();
    expect(pushed.isOkay()).toBe(true);
    const id = pushed.getTransactionID();
    expect(id).toMatch(/^ws_CO_/);

    const [callback] = await receiver.waitFor(1);
    const result = new darajaJs.STKPushResultWrapper(callback);
    expect(result.isOkay()).toBe(true);
    const queried = await app.stkPush().shortCode('174379').checkoutRequestID(id).lipaNaMpesaPassKey(SANDBOX_PASSKEY).queryStatus();
    expect(queried.isOkay()).toBe(true);
    expect(queried.getResultCode()).toBe('0');

    expect(await warningsShown(sim.base)).toContainEqual(expect.stringMatching(/it looks like UTC\.$/));
  });
});

describe('outside clients against npm run simulator with SIMULATOR_STRICT=on', () => {
  let sim: StandaloneSimulator;
  beforeAll(async () => {
    sim = await startStandalone({ SIMULATOR_MODE: 'manual', SIMULATOR_STRICT: 'on' });
  });
  afterAll(() => sim?.stop());

  it('when mpesa-node pushes its UTC timestamp, then it is refused "Bad Request - Invalid Timestamp", as the real Daraja may', async () => {
    const mpesa = new MpesaNode({
      consumerKey: 'any-key', consumerSecret: 'any-secret', lipaNaMpesaShortCode: '174379', lipaNaMpesaShortPass: SANDBOX_PASSKEY,
    });
    mpesa.baseURL = sim.base;
    const err = (await mpesa.lipaNaMpesaOnline(PAYS, 10, receiver.url, 'Tikiti').catch((e: unknown) => e)) as { response?: { status: number; data: unknown } };
    expect(err.response?.status).toBe(400);
    expect(err.response?.data).toMatchObject({ errorCode: '400.002.02', errorMessage: 'Bad Request - Invalid Timestamp' });
  });
});
