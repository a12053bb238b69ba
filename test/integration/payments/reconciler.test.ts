import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import nock from 'nock';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { openDatabase, type Db } from '../../../src/core/db/database.js';
import { toDbTime } from '../../../src/core/db/time.js';
import { silentLogger } from '../../../src/core/logger.js';
import { DarajaClient } from '../../../src/daraja/daraja.client.js';
import { buildServices } from '../../../src/compose.js';
import { NO_ANSWER_REASON } from '../../../src/payments/result-applier.js';
import { Reconciler } from '../../../src/payments/reconciler.js';
import { createTestApp, type TestApp } from '../../support/app.js';
import { buildInbox } from '../../support/builders.js';
import { dialects } from '../../support/db.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import { waitFor } from '../../support/wait.js';
import {
  TOKEN, failureCallback, inboxRow, inboxRowsFor, insertPendingTicket, newCheckoutId, notificationKinds,
  successCallback, ticketRow, ticketsHeld,
} from './helpers.js';

const DARAJA = 'http://daraja.test';
const TIMEOUT_S = 2;
const INTERVAL_S = 30;
const PROCESSING: [number, object] = [500, { requestId: 'r', errorCode: '500.001.1001', errorMessage: 'The transaction is being processed' }];
const queryAnswer = (id: string, code: string, desc: string): [number, object] => [200, {
  ResponseCode: '0', ResponseDescription: 'The service request has been accepted successsfully', MerchantRequestID: '1-2-3',
  CheckoutRequestID: id, ResultCode: code, ResultDesc: desc,
}];

/** A Daraja stand-in whose STK Query answers per CheckoutRequestID and counts how often each was asked. */
function fakeDaraja() {
  const answers = new Map<string, [number, object]>();
  const queried = new Map<string, number>();
  nock(DARAJA).get('/oauth/v1/generate').query(true).reply(200, { access_token: 'tok', expires_in: '3599' }).persist();
  nock(DARAJA).post('/mpesa/stkpushquery/v1/query').delay(15).reply((_uri, body) => {
    const id = String((body as { CheckoutRequestID?: unknown }).CheckoutRequestID);
    queried.set(id, (queried.get(id) ?? 0) + 1);
    return answers.get(id) ?? PROCESSING;
  }).persist();
  return { answers, queried, total: () => [...queried.values()].reduce((a, b) => a + b, 0) };
}

const inSeconds = (s: number) => () => new Date(Date.now() + s * 1000);

describe.each(dialects)('the reconciler against a nock Daraja on %s', (dialect) => {
  let t: TestApp;
  let db: Db;
  let daraja: ReturnType<typeof fakeDaraja>;
  const reconciler = (now: () => Date = () => new Date()) => new Reconciler({
    database: t.database, daraja: t.services.daraja, config: t.config, logger: silentLogger, now, applier: t.services.payments.applier, intake: t.services.payments.intake,
  });

  beforeAll(async () => {
    t = await createTestApp(dialect, {
      MPESA_CALLBACK_TOKEN: TOKEN, DARAJA_BASE_URL: DARAJA, DARAJA_TIMEOUT_MS: '2000',
      PAYMENT_TIMEOUT_SECONDS: String(TIMEOUT_S), RECONCILE_INTERVAL_SECONDS: String(INTERVAL_S),
    });
    db = t.database.db;
  });
  afterAll(async () => {
    await t?.close();
  });
  beforeEach(() => {
    daraja = fakeDaraja();
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('when a Pending ticket is not due yet, then it is not queried; once due, STK Query "paid" makes it Paid by query with no receipt', async () => {
    const tk = await insertPendingTicket(db, { timeoutSeconds: TIMEOUT_S });
    daraja.answers.set(tk.checkoutRequestId!, queryAnswer(tk.checkoutRequestId!, '0', 'The service request is processed successfully.'));

    await reconciler().runOnce();
    expect(daraja.queried.get(tk.checkoutRequestId!)).toBeUndefined();

    const report = await reconciler(inSeconds(TIMEOUT_S + 1)).runOnce();
    expect(report).toMatchObject({ paid: 1 });
    expect(daraja.queried.get(tk.checkoutRequestId!)).toBe(1);
    const ticket = await ticketRow(db, tk.ticketId);
    expect(ticket).toMatchObject({ paymentStatus: 'Paid', confirmedBy: 'query', mpesaReceiptNumber: null, resultCode: '0', nextCheckAt: null, holdsTickets: 1 });
    expect(ticket.transactionDate).not.toBeNull();
    const [row] = await inboxRowsFor(db, tk.checkoutRequestId!);
    expect(row).toMatchObject({ source: 'query', outcome: 'applied', ticketId: tk.ticketId, sourceIp: null });
    expect(JSON.parse(row!.body)).toEqual({ CheckoutRequestID: tk.checkoutRequestId, ResultCode: '0', ResultDesc: 'The service request is processed successfully.' });
    expect(await notificationKinds(db, tk.ticketId)).toEqual(['Paid']);
  });

  it('when STK Query answers a failure, then the ticket is Failed with the plain reason and its tickets released', async () => {
    const tk = await insertPendingTicket(db, { nextCheckAt: new Date(Date.now() - 1000) });
    daraja.answers.set(tk.checkoutRequestId!, queryAnswer(tk.checkoutRequestId!, '1032', 'Request cancelled by user'));
    const report = await reconciler().runOnce();

    expect(report.failed).toBeGreaterThanOrEqual(1);
    expect(await ticketRow(db, tk.ticketId)).toMatchObject({ paymentStatus: 'Failed', failureReason: 'You cancelled the payment on your phone.', resultCode: '1032', holdsTickets: 0 });
    expect(await ticketsHeld(db, tk.movieId)).toBe(0);
    expect((await inboxRowsFor(db, tk.checkoutRequestId!))[0]).toMatchObject({ source: 'query', outcome: 'applied' });
  });

  it('when STK Query says "still processing", then the ticket waits and is asked again only after one interval', async () => {
    const tk = await insertPendingTicket(db, { nextCheckAt: new Date(Date.now() - 1000) });
    const first = await reconciler().runOnce();
    expect(first.waiting).toBeGreaterThanOrEqual(1);
    expect(daraja.queried.get(tk.checkoutRequestId!)).toBe(1);
    const after = await ticketRow(db, tk.ticketId);
    expect(after.paymentStatus).toBe('Pending');
    expect(after.nextCheckAt! > toDbTime(new Date(Date.now() + (INTERVAL_S - 5) * 1000))).toBe(true);

    await reconciler().runOnce();
    expect(daraja.queried.get(tk.checkoutRequestId!)).toBe(1);
    await reconciler(inSeconds(INTERVAL_S + 1)).runOnce();
    expect(daraja.queried.get(tk.checkoutRequestId!)).toBe(2);
    expect(await inboxRowsFor(db, tk.checkoutRequestId!)).toEqual([]);
  });

  it('when STK Query fails (Daraja answers an HTML 500), then the ticket waits and nothing throws', async () => {
    const tk = await insertPendingTicket(db, { nextCheckAt: new Date(Date.now() - 1000) });
    daraja.answers.set(tk.checkoutRequestId!, [500, '<html>oops</html>' as unknown as object]);
    const report = await reconciler().runOnce();
    expect(report.waiting).toBeGreaterThanOrEqual(1);
    expect((await ticketRow(db, tk.ticketId)).paymentStatus).toBe('Pending');
  });

  it('when a ticket has been Pending for 10 × the timeout with no final answer, then it is Failed "No answer from M-Pesa" and released', async () => {
    const longAgo = new Date(Date.now() - 11 * TIMEOUT_S * 1000);
    const asked = await insertPendingTicket(db, { pendingSince: longAgo, timeoutSeconds: TIMEOUT_S }); // query keeps saying "processing"
    const neverAnswered = await insertPendingTicket(db, { pendingSince: longAgo, timeoutSeconds: TIMEOUT_S, push: { status: 'Unknown' } });
    await reconciler().runOnce();

    for (const tk of [asked, neverAnswered]) {
      expect(await ticketRow(db, tk.ticketId)).toMatchObject({ paymentStatus: 'Failed', failureReason: NO_ANSWER_REASON, holdsTickets: 0, resultCode: null });
      expect(await ticketsHeld(db, tk.movieId)).toBe(0);
      expect(await notificationKinds(db, tk.ticketId)).toEqual(['Failed']);
    }
    expect(daraja.queried.get(asked.checkoutRequestId!)).toBe(1);

    // A success callback after the expiry still records the money (docs/payments.md, late payments).
    await request(t.app).post(`/api/payments/callback/${TOKEN}`).set('Content-Type', 'application/json')
      .send(JSON.stringify(successCallback({ checkoutRequestId: asked.checkoutRequestId!, amount: asked.totalAmount, phone: asked.phone })));
    expect(await ticketRow(db, asked.ticketId)).toMatchObject({ paymentStatus: 'Paid', holdsTickets: 1, needsRefund: 0 });
  });

  it('when a ticket has no nextCheckAt, then it is due PAYMENT_TIMEOUT_SECONDS after pendingSince', async () => {
    const tk = await insertPendingTicket(db, { nextCheckAt: null, pendingSince: new Date(Date.now() - (TIMEOUT_S + 1) * 1000) });
    daraja.answers.set(tk.checkoutRequestId!, queryAnswer(tk.checkoutRequestId!, '0', 'ok'));
    await reconciler().runOnce();
    expect((await ticketRow(db, tk.ticketId)).paymentStatus).toBe('Paid');
  });

  it('when a crash left a callback row "received", then the next run processes it; a row received a moment ago is left to its request', async () => {
    const tk = await insertPendingTicket(db);
    const fresh = await insertPendingTicket(db);
    const insert = (body: unknown, receivedAt: Date) => buildInbox(db, {
      receivedAt: toDbTime(receivedAt), sourceIp: '127.0.0.1', body: JSON.stringify(body), outcome: 'received', processedAt: null,
    });
    const old = await insert(successCallback({ checkoutRequestId: tk.checkoutRequestId!, amount: tk.totalAmount, phone: tk.phone }), new Date(Date.now() - 60_000));
    const recent = await insert(successCallback({ checkoutRequestId: fresh.checkoutRequestId!, amount: fresh.totalAmount, phone: fresh.phone }), new Date());

    const report = await reconciler().runOnce();
    expect(report.inboxReprocessed).toBeGreaterThanOrEqual(1);
    expect(await inboxRow(db, old)).toMatchObject({ outcome: 'applied', ticketId: tk.ticketId, checkoutRequestId: tk.checkoutRequestId });
    expect((await ticketRow(db, tk.ticketId)).paymentStatus).toBe('Paid');
    expect((await inboxRow(db, recent)).outcome).toBe('received');
    expect((await ticketRow(db, fresh.ticketId)).paymentStatus).toBe('Pending');
  });

  it('when the route stored a callback but processing failed, then the reconciler applies it later', async () => {
    const tk = await insertPendingTicket(db);
    vi.spyOn(t.services.payments.applier, 'processInboxRow').mockRejectedValueOnce(new Error('database hiccup'));
    await request(t.app).post(`/api/payments/callback/${TOKEN}`).set('Content-Type', 'application/json')
      .send(JSON.stringify(failureCallback({ checkoutRequestId: tk.checkoutRequestId!, resultCode: 1, resultDesc: 'The balance is insufficient for the transaction.' })))
      .expect(200);
    vi.restoreAllMocks();
    await reconciler(inSeconds(10)).runOnce();
    expect(await ticketRow(db, tk.ticketId)).toMatchObject({ paymentStatus: 'Failed', failureReason: 'Your M-Pesa balance was not enough.' });
  });

  it('when an unmatched callback\'s CheckoutRequestID later appears on an attempt, then the next run applies it', async () => {
    const tk = await insertPendingTicket(db, { push: { status: 'Sending' } });
    const id = newCheckoutId();
    await request(t.app).post(`/api/payments/callback/${TOKEN}`).set('Content-Type', 'application/json')
      .send(JSON.stringify(failureCallback({ checkoutRequestId: id, resultCode: 2001, resultDesc: 'The initiator information is invalid.' })));
    expect((await inboxRowsFor(db, id))[0]!.outcome).toBe('unmatched');
    // Another instance stored the push answer but crashed before applying the waiting rows.
    await db.updateTable('pushrequest').set({ checkoutRequestId: id, status: 'Accepted' }).where('pushRequestId', '=', tk.pushRequestId!).execute();

    await reconciler().runOnce();
    expect((await inboxRowsFor(db, id))[0]!.outcome).toBe('applied');
    expect(await ticketRow(db, tk.ticketId)).toMatchObject({ paymentStatus: 'Failed', failureReason: 'The PIN was wrong.' });
  });

  it('when started, then it runs on its interval, survives a failed run without an unhandled rejection, and stops cleanly', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const tk = await insertPendingTicket(db, { nextCheckAt: new Date(Date.now() - 1000) });
      daraja.answers.set(tk.checkoutRequestId!, queryAnswer(tk.checkoutRequestId!, '0', 'ok'));
      const fast = { ...t.config, reconcileIntervalSeconds: 1 };
      const job = new Reconciler({ database: t.database, daraja: t.services.daraja, config: fast, logger: silentLogger, now: () => new Date(), applier: t.services.payments.applier, intake: t.services.payments.intake });
      const run = vi.spyOn(job, 'runOnce');
      run.mockRejectedValueOnce(new Error('database briefly away'));
      // The job's interval timer on a clock the test moves (expect.poll moves it on by its interval between tries);
      // the database and Daraja (nock) keep real time.
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      job.start();
      // The first run (1 s after start) fails; the next comes one interval later and pays.
      await vi.advanceTimersByTimeAsync(1000);
      expect(run).toHaveBeenCalledTimes(1);
      await vi.advanceTimersByTimeAsync(1000);
      expect(run).toHaveBeenCalledTimes(2);
      await waitFor('Paid by the timer', async () => (await ticketRow(db, tk.ticketId)).paymentStatus === 'Paid');
      await job.stop();
      expect(run.mock.calls.length).toBeGreaterThanOrEqual(2);
      const calls = run.mock.calls.length;
      // Ten intervals later, still no further run.
      await vi.advanceTimersByTimeAsync(10 * 1000);
      expect(run.mock.calls.length).toBe(calls);
      expect(unhandled).toEqual([]);
    } finally {
      vi.useRealTimers();
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe.each(dialects)('two reconciler instances on one database (%s)', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect, { MPESA_CALLBACK_TOKEN: TOKEN, DARAJA_BASE_URL: DARAJA, PAYMENT_TIMEOUT_SECONDS: String(TIMEOUT_S) });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('when two instances run at once over the same 30 due tickets, then each ticket is queried exactly once and paid once', async () => {
    const daraja = fakeDaraja();
    const db = t.database.db;
    const tickets = [];
    for (let i = 0; i < 30; i++) {
      const tk = await insertPendingTicket(db, { nextCheckAt: new Date(Date.now() - 1000) });
      daraja.answers.set(tk.checkoutRequestId!, queryAnswer(tk.checkoutRequestId!, '0', 'ok'));
      tickets.push(tk);
    }
    // The second instance has its own connection pool (or SQLite connection), Daraja client and services.
    const other = await openDatabase(t.database.url);
    try {
      const now = () => new Date();
      const makeInstance = async (database: typeof other) => {
        const s = await buildServices(t.config, silentLogger, { database, now, migrate: false });
        return new Reconciler({ database, daraja: s.daraja, applier: s.payments.applier, intake: s.payments.intake, config: t.config, logger: silentLogger, now });
      };
      const [ra, rb] = await Promise.all([makeInstance(t.database), makeInstance(other)]);
      const [a, b] = await Promise.all([ra.runOnce(), rb.runOnce()]);

      expect(a.checked + b.checked).toBe(30);
      expect(a.paid + b.paid).toBe(30);
      expect(daraja.total()).toBe(30);
      for (const tk of tickets) {
        expect(daraja.queried.get(tk.checkoutRequestId!)).toBe(1);
        expect((await ticketRow(db, tk.ticketId)).paymentStatus).toBe('Paid');
        expect(await notificationKinds(db, tk.ticketId)).toEqual(['Paid']);
      }
    } finally {
      await other.close();
    }
  });
});

describe.each(dialects)('the reconciler against the built-in simulator on %s', (dialect) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(dialect, { MPESA_CALLBACK_TOKEN: TOKEN, PAYMENT_TIMEOUT_SECONDS: String(TIMEOUT_S) });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('when 254700000005 pays but no callback ever comes, then the reconciler\'s STK Query makes it Paid with nobody acting', async () => {
    const db = t.database.db;
    const tk = await insertPendingTicket(db, { phone: '254700000005', price: 27, push: false, timeoutSeconds: TIMEOUT_S });
    const started = await t.services.payments.pushes.startPush(tk.ticketId);
    expect(started.kind).toBe('accepted');
    const id = started.kind === 'accepted' ? started.checkoutRequestId : '';
    const prompt = await waitFor('prompt finished', () => t.services.simulator!.prompts().find((p) => p.checkoutRequestId === id && p.status === 'finished'));
    // Paid on the phone, and no callback will ever come: none was planned, and none started when the prompt finished.
    expect(prompt).toMatchObject({ resultCode: '0', callback: { planned: 0, attempts: 0, state: 'none' } });
    expect((await ticketRow(db, tk.ticketId)).paymentStatus).toBe('Pending');

    const job = new Reconciler({
      database: t.database, daraja: t.services.daraja, config: t.config, logger: silentLogger, now: inSeconds(TIMEOUT_S + 1), applier: t.services.payments.applier, intake: t.services.payments.intake,
    });
    const report = await job.runOnce();
    expect(report).toMatchObject({ checked: 1, paid: 1, failed: 0, expired: 0 });
    expect(await ticketRow(db, tk.ticketId)).toMatchObject({ paymentStatus: 'Paid', confirmedBy: 'query', mpesaReceiptNumber: null });
    expect((await inboxRowsFor(db, id)).map((r) => [r.source, r.outcome])).toEqual([['query', 'applied']]);
  });
});

describe('npm run reconcile', () => {
  it('when run against a database, then it prints the report and exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tikiti-reconcile-'));
    try {
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli/reconcile.ts'], {
        env: {
          PATH: process.env.PATH, TIKITI_NO_DOTENV: '1', DATABASE_URL: `sqlite:${join(dir, 'cli.db')}`,
          DARAJA_ENV: 'simulator', DARAJA_BASE_URL: 'http://127.0.0.1:9', LOG_LEVEL: 'silent',
        },
        timeout: 20_000,
      });
      const last = stdout.trim().split('\n').at(-1)!;
      expect(JSON.parse(last)).toEqual({
        checked: 0, paid: 0, failed: 0, expired: 0, waiting: 0, inboxReprocessed: 0,
        refunds: { strandedToUnknown: 0, statusQueries: 0, unsettled: 0, lateCancelled: 0, sent: 0, resultsReprocessed: 0 },
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
