import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DarajaClient } from '../../../src/daraja/daraja.client.js';
import { CUSTOMER_MESSAGES, DarajaError, DarajaSubscriberBusyError } from '../../../src/daraja/errors.js';
import { createLogger } from '../../../src/core/logger.js';
import { createTestApp, csrfFrom, type TestApp } from '../../support/app.js';
import { dialects } from '../../support/db.js';
import { BEING_PROCESSED, startDarajaLocal, type DarajaLocal } from './daraja-local.js';
import { PHONE, config } from './helpers.js';

// Tikiti run unchanged against an outside emulator that speaks Daraja's dialect with its own accent (daraja-local.ts).

let local: DarajaLocal;

const client = (logger = createLogger({ level: 'silent' })) =>
  new DarajaClient(config({ baseUrl: local.baseUrl }), { logger, retry: { retries: 0 } });

describe('the client against an emulator like daraja-local', () => {
  beforeEach(async () => {
    local = await startDarajaLocal();
  });
  afterEach(() => local.close());

  it('when a query for an open prompt is answered 200 with ResultCode 9999 "being processed", then it is still processing', async () => {
    expect(await client().stkQuery('ws_CO_local_1')).toStrictEqual({ state: 'processing' });
  });

  it('when a query is answered 200 with a real failure code, then it is failed with that code', async () => {
    local.queryReply = { status: 200, body: { ...(BEING_PROCESSED.body as object), ResultCode: '1032', ResultDesc: 'Request cancelled by user' } };
    expect(await client().stkQuery('ws_CO_local_1')).toStrictEqual({ state: 'failed', resultCode: '1032', resultDesc: 'Request cancelled by user' });
  });

  it('when it restarts between two pushes (its tokens forgotten, 401 without an envelope), then the second push fetches a new token and is accepted', async () => {
    const c = client();
    await c.stkPush({ phoneNumber: PHONE, amount: 10 });
    local.restart();
    const accepted = await c.stkPush({ phoneNumber: PHONE, amount: 10 });
    expect(accepted.checkoutRequestId).toBe('ws_CO_local_2');
    expect(local.seen.map((s) => `${s.method} ${s.path} ${s.status}`)).toStrictEqual([
      'GET /oauth/v1/generate 200',
      'POST /mpesa/stkpush/v1/processrequest 200',
      'POST /mpesa/stkpush/v1/processrequest 401',
      'GET /oauth/v1/generate 200',
      'POST /mpesa/stkpush/v1/processrequest 200',
    ]);
    expect(local.seen[4]!.authorization).toBe('Bearer local-token-2');
  });

  it('when it restarts before a query, then the query fetches a new token and is answered', async () => {
    const c = client();
    await c.stkQuery('ws_CO_local_1');
    local.restart();
    expect(await c.stkQuery('ws_CO_local_1')).toStrictEqual({ state: 'processing' });
    expect(local.seen.filter((s) => s.path === '/oauth/v1/generate')).toHaveLength(2);
  });

  it.each([
    ['Unable to lock subscriber, a transaction is already in process for the current subscriber', 'DARAJA_SUBSCRIBER_BUSY', 'warn', CUSTOMER_MESSAGES.subscriberBusy],
    ['Wrong credentials', 'DARAJA_MERCHANT_SETUP', 'error', CUSTOMER_MESSAGES.merchantProblem],
    ['Merchant does not exist', 'DARAJA_MERCHANT_SETUP', 'error', CUSTOMER_MESSAGES.merchantProblem],
    ['Service is currently under maintenance', 'DARAJA_PUSH_NOT_STARTED', 'warn', CUSTOMER_MESSAGES.pushNotStarted],
  ])('when a push is answered 500.001.1001 "%s", then it is %s, logged at level %s, with its own sentence for the customer', async (message, code, level, customerMessage) => {
    local.pushReply = { kind: 'envelope', status: 500, errorCode: '500.001.1001', errorMessage: message };
    const lines: { level: number; msg: string }[] = [];
    const logger = createLogger({ level: 'debug', destination: { write: (l: string) => { lines.push(JSON.parse(l)); return true; } } as never });
    const err = await client(logger).stkPush({ phoneNumber: PHONE, amount: 10 }).catch((e: unknown) => e as DarajaError);
    expect(err).toBeInstanceOf(DarajaError);
    expect(err).toMatchObject({ code, customerMessage, outcome: 'refused' });
    expect(err instanceof DarajaSubscriberBusyError).toBe(code === 'DARAJA_SUBSCRIBER_BUSY');
    const failed = lines.find((l) => l.msg.includes('500.001.1001'));
    expect(failed?.level).toBe(level === 'error' ? 50 : 40);
    expect(local.seen.filter((s) => s.path.endsWith('processrequest'))).toHaveLength(1); // never repeated
  });
});

describe.each(dialects)('Tikiti on %s against an emulator like daraja-local', (dialect) => {
  let t: TestApp;
  let clock = Date.now();
  beforeAll(async () => {
    local = await startDarajaLocal();
    t = await createTestApp(dialect, { PAYMENT_TIMEOUT_SECONDS: '1', DARAJA_BASE_URL: local.baseUrl }, { now: () => new Date(clock) });
  });
  afterAll(async () => {
    await t?.close();
    await local?.close();
  });
  beforeEach(() => {
    local.pushReply = { kind: 'accept' };
    local.queryReply = BEING_PROCESSED;
    local.seen.length = 0;
  });

  /** Books one ticket through the app's pages, as a browser would, and returns its status JSON. */
  async function book(phone: string): Promise<{ ref: string; status: string; failureReason: string | null }> {
    const agent = request.agent(t.app);
    const movies = (await agent.get('/api/movies').expect(200)).body as { movieId: number }[];
    const movieId = movies[0]!.movieId;
    const csrf = await csrfFrom(agent, `/movies/${movieId}`);
    const res = await agent.post('/bookings').type('form')
      .send({ _csrf: csrf, movieId, customerName: 'Wanjiru', phoneNumber: phone, quantity: 1 }).expect(303);
    const ref = String(res.headers.location).split('/').pop()!;
    return (await agent.get(`/tickets/${ref}/status`).expect(200)).body as { ref: string; status: string; failureReason: string | null };
  }

  const ticketRow = (ref: string) => t.database.db.selectFrom('ticket').selectAll().where('ref', '=', ref).executeTakeFirstOrThrow();

  it('when the reconciler\'s query is answered 200 + 9999 "being processed", then the ticket stays Pending and keeps its seats', async () => {
    const ticket = await book('0712000111');
    expect(ticket.status).toBe('Pending');
    clock += 5_000; // past PAYMENT_TIMEOUT_SECONDS: due for a query
    const report = await t.services.payments.reconciler.runOnce();
    expect(report).toMatchObject({ checked: 1, waiting: 1, failed: 0 });
    expect(local.seen.some((s) => s.path === '/mpesa/stkpushquery/v1/query' && s.status === 200)).toBe(true);
    expect(await ticketRow(ticket.ref)).toMatchObject({ paymentStatus: 'Pending', holdsTickets: 1 });
  });

  it('when the emulator restarts between two bookings, then the next booking is Pending, not failed "a problem on our side"', async () => {
    expect((await book('0712000222')).status).toBe('Pending');
    local.restart();
    const second = await book('0712000333');
    expect(second).toMatchObject({ status: 'Pending', failureReason: null });
    // The refused token is not taken up again from the shared store: the one saved there now is the new one.
    const tokenRequests = local.seen.filter((s) => s.path === '/oauth/v1/generate');
    expect(tokenRequests).toHaveLength(1);
    const row = await t.database.db.selectFrom('darajatoken').select('accessToken').executeTakeFirstOrThrow();
    expect(local.seen.at(-1)!.authorization).toBe(`Bearer ${row.accessToken}`);
  });

  it('when a push is answered 500.001.1001 with another message than a busy phone, then the ticket says M-Pesa could not start the payment', async () => {
    local.pushReply = { kind: 'envelope', status: 500, errorCode: '500.001.1001', errorMessage: 'Service is currently under maintenance' };
    expect(await book('0712000444')).toMatchObject({ status: 'Failed', failureReason: CUSTOMER_MESSAGES.pushNotStarted });
  });
});
