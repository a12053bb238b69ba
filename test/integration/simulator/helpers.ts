// Real HTTP on 127.0.0.1: the simulator's router in an express app, and a callback receiver, both on port 0.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import request from 'supertest';
import { vi } from 'vitest';
import { darajaTimestamp } from '../../../src/core/time.js';
import { SANDBOX_PASSKEY, createSimulator, type Simulator, type SimulatorOptions } from '../../../src/simulator/index.js';
import { waitFor } from '../../support/wait.js';

export const SHORTCODE = '174379';

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function stop(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

export interface RunningSimulator {
  sim: Simulator;
  /** The simulator's base URL, router mounted at /simulator like in the app. */
  base: string;
  close(): Promise<void>;
}

export async function startSimulator(opts: Partial<SimulatorOptions> = {}): Promise<RunningSimulator> {
  const sim = createSimulator({ mode: 'manual', delayMs: 20, callbackRetry: { attempts: 3, baseDelayMs: 10 }, ...opts });
  const app = express();
  app.use('/simulator', sim.router);
  const server = createServer(app);
  const origin = await listen(server);
  return {
    sim,
    base: `${origin}/simulator`,
    async close() {
      await sim.close();
      await stop(server);
    },
  };
}

export interface Receiver {
  url: string;
  /** Bodies of the callbacks answered 200, in order. */
  received: unknown[];
  /** Every POST that arrived, whatever it was answered. */
  hits: number;
  /** When each POST arrived (Date.now()). */
  hitTimes: number[];
  waitFor(count: number, timeoutMs?: number): Promise<unknown[]>;
  close(): Promise<void>;
}

/** A callback receiver; the first `failFirst` POSTs are answered `failStatus`. */
export async function startReceiver(opts: { failFirst?: number; failStatus?: number } = {}): Promise<Receiver> {
  const received: unknown[] = [];
  const hitTimes: number[] = [];
  let hits = 0;
  const readJson = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  };
  const server = createServer((req, res) => {
    void readJson(req).then((body) => {
      hits++;
      hitTimes.push(Date.now());
      if (hits <= (opts.failFirst ?? 0)) {
        res.writeHead(opts.failStatus ?? 503).end('down');
        return;
      }
      received.push(body);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ResultCode":0,"ResultDesc":"Success"}');
    });
  });
  const origin = await listen(server);
  return {
    url: `${origin}/api/payments/callback/secret-token`,
    received,
    hitTimes,
    get hits() {
      return hits;
    },
    waitFor: (count, timeoutMs) => waitFor(`${count} callback(s)`, () => (received.length >= count ? received : undefined), { timeout: timeoutMs }),
    close: () => stop(server),
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Puts the simulator's own timers (a prompt's delayMs, a held answer's holdMs) on a clock the test moves with
 * vi.advanceTimersByTime, instead of sleeping through them. Only setTimeout is faked: sockets, fetch and the
 * callback retries' back-off (node:timers/promises) keep real time. The file's afterEach calls vi.useRealTimers().
 */
export function fakeSimulatorTimers(): void {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
}

export function password(timestamp: string, shortcode = SHORTCODE, passkey = SANDBOX_PASSKEY): string {
  return Buffer.from(shortcode + passkey + timestamp).toString('base64');
}

/** A valid STK push body as Tikiti sends it (numbers where Safaricom's table says numeric); PartyA follows PhoneNumber. */
export function pushBody(overrides: Record<string, unknown> = {}, at = new Date()): Record<string, unknown> {
  const timestamp = darajaTimestamp(at);
  const phone = overrides.PhoneNumber ?? 254712345678;
  return {
    BusinessShortCode: Number(SHORTCODE),
    Password: password(timestamp),
    Timestamp: timestamp,
    TransactionType: 'CustomerPayBillOnline',
    Amount: 45,
    PartyA: phone,
    PartyB: Number(SHORTCODE),
    PhoneNumber: phone,
    CallBackURL: 'http://127.0.0.1:9/callback',
    AccountReference: 'Tikiti',
    TransactionDesc: 'Movie ticket',
    ...overrides,
  };
}

export function queryBody(checkoutRequestId: string, at = new Date()): Record<string, unknown> {
  const timestamp = darajaTimestamp(at);
  return { BusinessShortCode: Number(SHORTCODE), Password: password(timestamp), Timestamp: timestamp, CheckoutRequestID: checkoutRequestId };
}

export async function getToken(base: string, user = 'key', pass = 'secret'): Promise<string> {
  const res = await request(base).get('/oauth/v1/generate?grant_type=client_credentials').auth(user, pass).expect(200);
  return (res.body as { access_token: string }).access_token;
}

/** Pushes with a fresh token; returns the HTTP answer. */
export async function push(base: string, overrides: Record<string, unknown> = {}, token?: string) {
  const bearer = token ?? (await getToken(base));
  return request(base).post('/mpesa/stkpush/v1/processrequest').set('authorization', `Bearer ${bearer}`).send(pushBody(overrides));
}

export async function query(base: string, checkoutRequestId: string, token?: string) {
  const bearer = token ?? (await getToken(base));
  return request(base).post('/mpesa/stkpushquery/v1/query').set('authorization', `Bearer ${bearer}`).send(queryBody(checkoutRequestId));
}

export type Callback = {
  Body: {
    stkCallback: {
      MerchantRequestID: string;
      CheckoutRequestID: string;
      ResultCode: number;
      ResultDesc: string;
      CallbackMetadata?: { Item: Array<{ Name: string; Value?: string | number }> };
    };
  };
};
