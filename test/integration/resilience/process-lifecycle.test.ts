import { Agent } from 'node:http';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Dialect } from '../../../src/core/db/database.js';
import { buildMovie } from '../../support/builders.js';
import { createTestDatabase, dialects } from '../../support/db.js';
import { formSession, postBooking, spawnApp, type AppProcess, type Sent } from '../../support/process.js';
import { waitFor } from '../../support/wait.js';
import { countWhere, heldDrift, inboxCheckoutIds, load, waitSettled, type LoadLog } from './helpers.js';

// The app as a real process (`node --import tsx src/server.ts`): SIGTERM under load loses nothing it
// accepted; kill -9 mid-load and a restart leave no ticket Pending and no callback unprocessed. PAYMENT_TIMEOUT_SECONDS
// is 1, so "10 × the timeout" is 10 s.

const ACK = JSON.stringify({ ResultCode: 0, ResultDesc: 'Success' });
/** Phones for the load: pays, cancelled, insufficient balance, pays with the callback twice, paid by query only. */
const LOAD_PHONES = ['0708374149', '0700000001', '0700000002', '0700000006', '0700000005'];

/** Connection errors that mean the server never took the request (refused, or reset in the kernel's accept queue). */
const NOT_TAKEN = new Set(['ECONNREFUSED', 'ECONNRESET']);

/** A fresh database and the app processes started on it, all cleaned up by `close()`. */
async function harness(dialect: Dialect) {
  const database = await createTestDatabase(dialect);
  const apps: AppProcess[] = [];
  return {
    database,
    db: database.db,
    async start(env: Record<string, string> = {}) {
      const app = await spawnApp(database.url, env);
      apps.push(app);
      return app;
    },
    async close() {
      await Promise.all(apps.map((a) => a.stop(2000)));
      await database.drop();
    },
  };
}

describe.each(dialects)('SIGTERM to the app as a real process on %s', (dialect) => {
  it('when SIGTERM arrives under a stream of bookings and callbacks, then every request it took gets a whole answer, every acknowledged callback is in the inbox, and it exits 0', async () => {
    const h = await harness(dialect);
    onTestFinished(() => h.close());
    const db = h.db;
    const movieId = await buildMovie(db, { price: 10, maximumTickets: 5000 });
    const slowMovieId = await buildMovie(db, { price: 77, maximumTickets: 5000 });
    const app = await h.start();
    const session = await formSession(app.baseUrl, movieId);

    let exited = false;
    const progress: LoadLog = { bookings: [], callbacks: [] };
    const running = load({ baseUrl: app.baseUrl, session, movieId }, { phones: LOAD_PHONES, workers: 2, tag: 'term', stop: () => exited, log: progress });
    // Under way for real before the signal, however slow the runner: a few bookings and callbacks already answered.
    await waitFor('a few bookings and callbacks answered', () => progress.bookings.length >= 6 && progress.callbacks.length >= 6, { timeout: 20_000 });
    // A request that is slow by nature (254700000008: the push is held past DARAJA_TIMEOUT_MS) is in flight at SIGTERM,
    // on a keep-alive connection, as a browser or a load balancer sends it: its push is recorded and not yet answered.
    const keepAlive = new Agent({ keepAlive: true });
    const slow = postBooking(app.baseUrl, session, { movieId: slowMovieId, customerName: 'Slow one', phoneNumber: '0700000008', quantity: 1 }, keepAlive);
    await waitFor('the slow booking\'s push in flight', () => db.selectFrom('pushrequest').innerJoin('ticket', 'ticket.ticketId', 'pushrequest.ticketId')
      .select('pushrequest.status').where('ticket.movieId', '=', slowMovieId).where('pushrequest.status', '=', 'Sending').executeTakeFirst());
    const signalledAt = Date.now();
    app.kill('SIGTERM');
    const exit = await app.exited;
    const shutdownMs = Date.now() - signalledAt;
    exited = true;
    const log = await running;
    const slowAnswer = await slow;

    keepAlive.destroy();
    expect(exit, app.output()).toEqual({ code: 0, signal: null });
    // The keep-alive connection is closed after its answer, so the process ends when its work does, not at the 15 s
    // cut-off (which would drop whatever that connection carried by then).
    expect(slowAnswer).toMatchObject({ kind: 'answered', status: 303, headers: { connection: 'close' } });
    expect(shutdownMs).toBeLessThan(5000);

    const answered = (s: Sent) => s.kind === 'answered';
    const problems = [...log.bookings, ...log.callbacks]
      .map((r) => r.sent)
      .filter((s) => s.kind === 'cut' || (s.kind === 'no-answer' && !NOT_TAKEN.has(s.code)));
    expect(problems).toEqual([]);
    for (const b of log.bookings.filter((r) => answered(r.sent))) expect(b.sent).toMatchObject({ status: 303 });
    for (const c of log.callbacks.filter((r) => answered(r.sent))) expect(c.sent).toMatchObject({ status: 200, body: ACK });
    const bookedOk = log.bookings.filter((r) => answered(r.sent)).map((r) => r.name);
    const ackedOk = log.callbacks.filter((r) => answered(r.sent)).map((r) => r.id);
    expect(bookedOk.length).toBeGreaterThan(5);
    expect(ackedOk.length).toBeGreaterThan(5);
    // Requests were still arriving when it stopped taking them.
    expect(log.callbacks.some((r) => r.sent.kind === 'no-answer')).toBe(true);

    // What the server kept is exactly what it answered: nothing acknowledged was lost, nothing taken went unanswered.
    const tickets = await db.selectFrom('ticket').select('customerName').where('movieId', '=', movieId).execute();
    expect(tickets.map((t) => t.customerName).sort()).toEqual([...bookedOk].sort());
    const inbox = new Set(await inboxCheckoutIds(db));
    expect(ackedOk.filter((id) => !inbox.has(id))).toEqual([]);
    expect([...inbox].filter((id) => id.includes('_term_') && !ackedOk.includes(id))).toEqual([]);
    expect(await heldDrift(db)).toEqual([]);
  }, 30_000);
});

// The two dialects at once: most of this test is waiting out 10 × the timeout.
describe.concurrent('SIGKILL to the app as a real process, then a restart', () => {
  it.for(dialects)('on %s: when killed mid-load and started again, then every ticket ends Paid or Failed within 10 × the timeout, no callback stays unprocessed, and seats add up', { timeout: 45_000 }, async (dialect, { expect, onTestFinished }) => {
    const h = await harness(dialect);
    onTestFinished(() => h.close());
    const db = h.db;
    const movieId = await buildMovie(db, { price: 10, maximumTickets: 5000 });
    const first = await h.start();
    const session = await formSession(first.baseUrl, movieId);

    let stopped = false;
    const progress: LoadLog = { bookings: [], callbacks: [] };
    const running = load({ baseUrl: first.baseUrl, session, movieId }, { phones: LOAD_PHONES, workers: 2, tag: 'kill', stop: () => stopped, log: progress });
    // Mid-load for real, however slow the runner: bookings and callbacks answered, and prompts in flight.
    await waitFor('the load under way with prompts in flight', async () => progress.bookings.length >= 6 && progress.callbacks.length >= 6
      && (await countWhere(db, 'ticket', 'paymentStatus', 'Pending')) > 0, { timeout: 20_000, expect });
    first.kill('SIGKILL');
    const killedAt = Date.now();
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
    stopped = true;
    const log = await running;
    // It really was mid-load: prompts were in flight.
    expect(await countWhere(db, 'ticket', 'paymentStatus', 'Pending')).toBeGreaterThan(0);

    const second = await h.start();
    // With nobody acting, the two hard test numbers end Paid on the restarted process (docs/simulator.md).
    const [movie5, movie8] = [await buildMovie(db, { price: 55, maximumTickets: 10 }), await buildMovie(db, { price: 88, maximumTickets: 10 })];
    const [s5, s8] = [await formSession(second.baseUrl, movie5), await formSession(second.baseUrl, movie8)];
    const [b5, b8] = await Promise.all([
      postBooking(second.baseUrl, s5, { movieId: movie5, customerName: 'Nobody acting 5', phoneNumber: '0700000005', quantity: 2 }),
      postBooking(second.baseUrl, s8, { movieId: movie8, customerName: 'Nobody acting 8', phoneNumber: '0700000008', quantity: 3 }),
    ]);
    expect(b5).toMatchObject({ kind: 'answered', status: 303 });
    expect(b8).toMatchObject({ kind: 'answered', status: 303 });
    const bookedAt = Date.now();

    // None stuck Pending past 10 × PAYMENT_TIMEOUT_SECONDS (plus a reconcile interval and this machine's slack), and the
    // two booked after the restart settled within a few timeouts of it, however long the restart took on this runner.
    await waitSettled(db, Math.max(killedAt + 10_000 + 4000, bookedAt + 8000) - Date.now(), expect);

    const statuses = await db.selectFrom('ticket').select(['customerName', 'paymentStatus', 'confirmedBy', 'mpesaReceiptNumber']).execute();
    expect(statuses.filter((t) => t.paymentStatus !== 'Paid' && t.paymentStatus !== 'Failed')).toEqual([]);
    expect(statuses.find((t) => t.customerName === 'Nobody acting 5')).toMatchObject({ paymentStatus: 'Paid', confirmedBy: 'query', mpesaReceiptNumber: null });
    expect(statuses.find((t) => t.customerName === 'Nobody acting 8')).toMatchObject({ paymentStatus: 'Paid', confirmedBy: 'callback' });
    // Every booking the first process answered is there; every callback it acknowledged is in the inbox.
    const names = new Set(statuses.map((t) => t.customerName));
    expect(log.bookings.filter((r) => r.sent.kind === 'answered' && r.sent.status === 303 && !names.has(r.name))).toEqual([]);
    const inbox = new Set(await inboxCheckoutIds(db));
    expect(log.callbacks.filter((r) => r.sent.kind === 'answered' && r.sent.status === 200 && !inbox.has(r.id))).toEqual([]);
    expect(await countWhere(db, 'callbackinbox', 'outcome', 'received')).toBe(0);
    expect(await heldDrift(db)).toEqual([]);

    await second.stop();
    expect(await second.exited).toEqual({ code: 0, signal: null });
  });
});
