// Tikiti's Daraja client on its own, in an app that is not Tikiti: one STK push, its callback, and an STK Query.
// Nothing but src/daraja is used (its entry point, src/daraja/index.ts); copy that folder into your app to do the same.
//
//   npm run simulator                                                    # one terminal: the simulator on :4000
//   DARAJA_BASE_URL=http://localhost:4000 node --import tsx examples/daraja-client.ts    # another terminal
//
// Against Safaricom's sandbox, set DARAJA_BASE_URL=https://sandbox.safaricom.co.ke, DARAJA_CONSUMER_KEY and
// DARAJA_CONSUMER_SECRET, PHONE to your own Safaricom number, and CALLBACK_URL to a public https address that reaches
// this program's port (the sandbox cannot call 127.0.0.1).
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DarajaClient, DarajaError, SANDBOX_PASSKEY, SANDBOX_SHORTCODE, parseStkCallback, type StkCallback,
} from '../src/daraja/index.js';

const env = process.env;
const phone = env.PHONE ?? '254708374149'; // the simulator's (and Safaricom's sandbox) number that pays by itself

/** Reads a request's body as JSON (undefined when it is not JSON). */
async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return undefined;
  }
}

// 1. Somewhere for Daraja to post the result. Answer 200 at once, whatever arrives, as Daraja expects.
let resolveCallback: (cb: StkCallback) => void = () => {};
const callbackArrived = new Promise<StkCallback>((resolve) => { resolveCallback = resolve; });
const receiver = createServer((req, res) => {
  void readJson(req).then((body) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ResultCode":0,"ResultDesc":"Success"}');
    const parsed = parseStkCallback(body);
    if (parsed.ok) resolveCallback(parsed.value);
    else console.log(`ignored a body that is not an STK callback: ${parsed.error}`);
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const callbackUrl = env.CALLBACK_URL ?? `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/payments/callback`;

// 2. The client: one per Daraja app, kept for the life of the process (it caches the access token).
const daraja = new DarajaClient({
  baseUrl: env.DARAJA_BASE_URL ?? 'http://localhost:4000',
  consumerKey: env.DARAJA_CONSUMER_KEY,
  consumerSecret: env.DARAJA_CONSUMER_SECRET,
  passkey: env.DARAJA_PASSKEY ?? SANDBOX_PASSKEY,
  shortcode: env.DARAJA_SHORTCODE ?? SANDBOX_SHORTCODE,
  transactionType: 'CustomerPayBillOnline',
  partyB: env.DARAJA_SHORTCODE ?? SANDBOX_SHORTCODE,
  callbackUrl,
  accountReference: 'Example',
  transactionDesc: 'Example',
  timeoutMs: 10_000,
});

let exitCode = 0;
try {
  // 3. The push: an acknowledgement only. Nothing is paid until the callback (or a query) says so.
  const accepted = await daraja.stkPush({ phoneNumber: phone, amount: 1 });
  console.log(`push accepted: ${accepted.checkoutRequestId}`);

  // 4. The callback, matched by CheckoutRequestID. A real app stores the push first and waits without blocking.
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no callback within 60 s')), 60_000).unref());
  const callback = await Promise.race([callbackArrived, timeout]);
  if (callback.checkoutRequestId !== accepted.checkoutRequestId) throw new Error('a callback for another push arrived');
  console.log(callback.succeeded
    ? `callback: paid, receipt ${callback.mpesaReceiptNumber ?? '(none)'}, KES ${callback.amount ?? '?'}`
    : `callback: not paid, ResultCode ${callback.resultCode} (${callback.resultDesc})`);

  // 5. The query: how a missing callback is settled. "processing" means the customer has not finished yet.
  const answer = await daraja.stkQuery(accepted.checkoutRequestId);
  console.log(`query: ${answer.state}${answer.state === 'processing' ? '' : ` (ResultCode ${answer.resultCode})`}`);
} catch (err) {
  // Every Daraja failure is a DarajaError: `outcome` says whether Daraja may have acted on it.
  if (err instanceof DarajaError) console.error(`Daraja: ${err.code}, outcome ${err.outcome}: ${err.message}`);
  else console.error(err);
  exitCode = 1;
} finally {
  receiver.close();
}
process.exit(exitCode);
