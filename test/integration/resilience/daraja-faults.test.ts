import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CUSTOMER_MESSAGES } from '../../../src/daraja/errors.js';
import { csrfFrom } from '../../support/app.js';
import { buildMovie } from '../../support/builders.js';
import { dialects } from '../../support/db.js';
import { startTestServer, type TestServer } from '../../support/server.js';

// Every Daraja fault, injected by a local peer standing in for Daraja (DARAJA_ENV=simulator with
// DARAJA_BASE_URL, so http and no credentials). For each, POST /bookings answers within DARAJA_TIMEOUT_MS + 1 s with
// a 303 to a ticket page that says what happened: Failed with a human reason when Daraja surely did not act, Pending
// "Check your phone" when it may have. Nothing crashes and no promise is left unhandled.

const TIMEOUT_MS = 1000;

type Fault = 'push-timeout' | 'html-500' | 'spike-arrest' | 'not-json-200' | 'invalid-token' | 'accept';

/** The push's fault is chosen by the phone number it is for; the token endpoint always works. */
const FAULT_BY_PHONE: Record<string, Fault> = {
  '254711000001': 'push-timeout',
  '254711000002': 'html-500',
  '254711000003': 'spike-arrest',
  '254711000004': 'not-json-200',
  '254711000005': 'invalid-token',
  '254711000006': 'accept',
};

interface Peer {
  url: string;
  server: Server;
  /** STK pushes received per phone. */
  pushes: Map<string, number>;
  close(): Promise<void>;
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** A Daraja that answers the token, and answers each push with the fault its phone number names. */
async function faultyDaraja(): Promise<Peer> {
  const pushes = new Map<string, number>();
  const { server, url } = await listen((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (req.url?.startsWith('/oauth/v1/generate')) return json(200, { access_token: randomBytes(12).toString('hex'), expires_in: '3599' });
      if (req.url !== '/mpesa/stkpush/v1/processrequest') return json(404, { errorCode: '404.001.01', errorMessage: 'Resource not found' });
      const phone = String((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { PhoneNumber?: unknown }).PhoneNumber);
      pushes.set(phone, (pushes.get(phone) ?? 0) + 1);
      const requestId = `${randomBytes(4).toString('hex')}-${Date.now()}`;
      switch (FAULT_BY_PHONE[phone] ?? 'accept') {
        case 'push-timeout':
          return; // never answered; the socket stays open until the peer closes
        case 'html-500':
          return res.writeHead(500, { 'content-type': 'text/html' }).end('<html><body><h1>500 Internal Server Error</h1></body></html>');
        case 'spike-arrest':
          return json(500, { requestId, errorCode: '500.003.02', errorMessage: 'Error Occured - Spike Arrest Violation' });
        case 'not-json-200':
          return res.writeHead(200, { 'content-type': 'text/plain' }).end('Request accepted for processing');
        case 'invalid-token':
          return json(404, { requestId, errorCode: '404.001.03', errorMessage: 'Invalid Access Token' });
        case 'accept':
          return json(200, {
            MerchantRequestID: '29115-34620561-1', CheckoutRequestID: `ws_CO_${randomBytes(8).toString('hex')}`,
            ResponseCode: '0', ResponseDescription: 'Success. Request accepted for processing', CustomerMessage: 'Success. Request accepted for processing',
          });
      }
    });
  });
  return { url, server, pushes, close: () => close(server) };
}

describe.each(dialects)('Daraja faults seen by a customer booking on %s', (dialect) => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  let peer: Peer;
  let blackHole: { server: Server; url: string };
  let closedPortUrl: string;
  const apps: TestServer[] = [];

  const appOn = async (darajaBaseUrl: string) => {
    const t = await startTestServer(dialect, {
      DARAJA_ENV: 'simulator', DARAJA_BASE_URL: darajaBaseUrl, DARAJA_TIMEOUT_MS: String(TIMEOUT_MS),
      RATE_LIMIT_BOOKINGS_PER_IP: '1000', RATE_LIMIT_PUSHES_PER_PHONE: '1000',
    });
    apps.push(t);
    const movieId = await buildMovie(t.database.db, { price: 20, maximumTickets: 100 });
    return { t, movieId };
  };

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    peer = await faultyDaraja();
    // Accepts connections and never says a word: even the token request times out.
    blackHole = await listen(() => undefined);
    // A port that was free a moment ago and is closed now: connection refused.
    const gone = await listen(() => undefined);
    closedPortUrl = gone.url;
    await close(gone.server);
  });
  afterAll(async () => {
    for (const t of apps) await t.close().catch(() => undefined);
    await peer?.close();
    if (blackHole) await close(blackHole.server);
    process.off('unhandledRejection', onUnhandled);
  });

  /** Books 2 tickets through the real form (CSRF and all) and times the POST. */
  const book = async (app: { t: TestServer; movieId: number }, phoneNumber: string) => {
    const agent = request.agent(app.t.baseUrl);
    const csrf = await csrfFrom(agent, `/movies/${app.movieId}`);
    const started = performance.now();
    const res = await agent.post('/bookings').type('form')
      .send({ _csrf: csrf, movieId: String(app.movieId), customerName: 'Achieng', phoneNumber, quantity: '2' });
    const ms = performance.now() - started;
    expect(res.status, `POST /bookings for ${phoneNumber}: ${res.text.slice(0, 200)}`).toBe(303);
    const location = String(res.headers.location);
    expect(location).toMatch(/^\/tickets\/[A-Za-z0-9_-]{24}$/);
    const page = await agent.get(location).expect(200);
    const status = (await agent.get(`${location}/status`).expect(200)).body as { status: string; failureReason: string | null };
    return { ms, page: page.text, status, ref: location.slice('/tickets/'.length) };
  };

  const decode = (html: string) => html.replace(/&#39;/g, "'").replace(/&#34;/g, '"').replace(/&amp;/g, '&');

  type Booked = Awaited<ReturnType<typeof book>>;
  let faulty: Awaited<ReturnType<typeof appOn>>;
  let booked: Record<'pushTimeout' | 'html500' | 'spike' | 'notJson' | 'badToken' | 'refused' | 'tokenTimeout', Booked>;

  beforeAll(async () => {
    let unreachable: typeof faulty;
    let silent: typeof faulty;
    [faulty, unreachable, silent] = await Promise.all([appOn(peer.url), appOn(closedPortUrl), appOn(blackHole.url)]);
    // All at once: seven customers meeting seven faults.
    const [pushTimeout, html500, spike, notJson, badToken, refused, tokenTimeout] = await Promise.all([
      book(faulty, '0711000001'),
      book(faulty, '0711000002'),
      book(faulty, '0711000003'),
      book(faulty, '0711000004'),
      book(faulty, '0711000005'),
      book(unreachable, '0711000006'),
      book(silent, '0711000006'),
    ]);
    booked = { pushTimeout, html500, spike, notJson, badToken, refused, tokenTimeout };
  });

  it.each([
    ['the push is never answered (timeout)', 'pushTimeout'],
    ['the push is answered with an HTML 500 page', 'html500'],
    ['the push is answered 200 with a body that is not JSON', 'notJson'],
  ] as const)('when %s, then within DARAJA_TIMEOUT_MS + 1 s the ticket is Pending, "Check your phone": the prompt may still come', (_, key) => {
    const r = booked[key];
    expect(r.ms).toBeLessThan(TIMEOUT_MS + 1000);
    expect(r.status).toMatchObject({ status: 'Pending', failureReason: null });
    expect(r.page).toContain('Check your phone');
  });

  it.each([
    ['the push meets a spike arrest (500.003.02)', 'spike', CUSTOMER_MESSAGES.darajaBusy],
    ['the access token is refused twice (404.001.03)', 'badToken', CUSTOMER_MESSAGES.merchantProblem],
    ['the connection is refused', 'refused', CUSTOMER_MESSAGES.unreachable],
    ['even the token request is never answered (timeout)', 'tokenTimeout', CUSTOMER_MESSAGES.unreachable],
  ] as const)('when %s, then within DARAJA_TIMEOUT_MS + 1 s the ticket is Failed with a human reason and "Try again"', (_, key, reason) => {
    const r = booked[key];
    expect(r.ms).toBeLessThan(TIMEOUT_MS + 1000);
    expect(r.status).toMatchObject({ status: 'Failed', failureReason: reason });
    expect(decode(r.page)).toContain(reason);
    expect(r.page).toContain('Try again');
  });

  it('when the faults are over, then each push was sent once (twice only after 404.001.03), every attempt is on record, seats add up, the app still serves and no promise was left unhandled', async () => {
    expect(Object.fromEntries(peer.pushes)).toEqual({
      254711000001: 1, 254711000002: 1, 254711000003: 1, 254711000004: 1, 254711000005: 2,
    });
    const db = faulty.t.database.db;
    const attempts = await db.selectFrom('pushrequest').select(['phoneNumber', 'status', 'errorCode']).orderBy('phoneNumber').execute();
    expect(attempts).toEqual([
      { phoneNumber: '254711000001', status: 'Unknown', errorCode: 'DARAJA_NETWORK' },
      { phoneNumber: '254711000002', status: 'Unknown', errorCode: 'DARAJA_UNEXPECTED_RESPONSE' },
      { phoneNumber: '254711000003', status: 'Refused', errorCode: '500.003.02' },
      { phoneNumber: '254711000004', status: 'Unknown', errorCode: 'DARAJA_UNEXPECTED_RESPONSE' },
      { phoneNumber: '254711000005', status: 'Refused', errorCode: '404.001.03' },
    ]);
    // The three Pending tickets hold their 2 seats each; the Failed ones gave theirs back.
    const movie = await db.selectFrom('movie').select('ticketsHeld').where('movieId', '=', faulty.movieId).executeTakeFirstOrThrow();
    expect(movie.ticketsHeld).toBe(3 * 2);

    await request(faulty.t.baseUrl).get('/readyz').expect(200);
    const fine = await book(faulty, '0711000006');
    expect(fine.status.status).toBe('Pending');
    expect(peer.pushes.get('254711000006')).toBe(1);
    // A rejection would surface within a few turns of the event loop.
    await new Promise((r) => setTimeout(r, 50));
    expect(unhandled).toEqual([]);
  });
});
