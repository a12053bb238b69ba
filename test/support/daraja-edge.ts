import nock from 'nock';
import type { SimulatorPrompt } from '../../src/simulator/index.js';
import type { TestApp } from './app.js';

// The edge tests fake: Daraja. Never a copy of a service; either the built-in simulator, reached over HTTP by the app's
// real Daraja client (startTestServer), and driven by its test numbers, or nock at the app's DARAJA_BASE_URL when a
// test needs one exact answer.

/** Push refused at once with 500.001.1001 "Unable to lock subscriber" (the simulator's test number). */
export const REFUSED_PHONE = { typed: '0700000007', stored: '254700000007' } as const;
/** Push answer held past the client's DARAJA_TIMEOUT_MS, so the outcome is unknown (the simulator's test number). */
export const UNANSWERED_PHONE = { typed: '0700000008', stored: '254700000008' } as const;

/**
 * The simulator for an app whose pushes must stay as they are: an ordinary number is accepted and stays Pending (manual
 * mode), and no test number settles by itself while a test runs.
 */
export const MANUAL_SIMULATOR = { SIMULATOR_MODE: 'manual', SIMULATOR_DELAY_MS: '600000' } as const;

/** What reached Daraja: the pushes the app's built-in simulator accepted, all or those to one phone (2547…). */
export function promptsTo(t: TestApp, phone?: string): SimulatorPrompt[] {
  if (!t.services.simulator) throw new Error('this app has no built-in simulator');
  return t.services.simulator.prompts().filter((p) => phone === undefined || p.phoneNumber === phone);
}

/** Daraja's refusal of a push to a phone already handling one, as Safaricom words it. */
export const SUBSCRIBER_BUSY = {
  requestId: '16813-1590513-1',
  errorCode: '500.001.1001',
  errorMessage: 'Unable to lock subscriber, a transaction is already in process for the current subscriber',
} as const;

/**
 * Daraja answers the app's next STK push with `status` and `body`: nock at the app's DARAJA_BASE_URL, once. Everything
 * else (the token, later pushes, queries) still reaches the real edge behind that URL. Returns the bodies it was sent.
 */
export function answerNextPush(t: TestApp, status: number, body: object): { bodies: Array<Record<string, unknown>> } {
  const base = new URL(t.config.daraja.baseUrl);
  const bodies: Array<Record<string, unknown>> = [];
  nock(base.origin, { allowUnmocked: true })
    .post(`${base.pathname.replace(/\/+$/, '')}/mpesa/stkpush/v1/processrequest`)
    .reply((_uri, sent) => {
      bodies.push(sent as Record<string, unknown>);
      return [status, body];
    });
  return { bodies };
}
