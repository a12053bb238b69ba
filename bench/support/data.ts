import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { darajaTimestamp } from '../../src/core/time.js';
import { toDbTime } from '../../src/core/db/time.js';
import type { BenchDatabase } from './database.js';

/**
 * Synthetic data for the benchmarks, written straight into the tables (no app involved): movies, "history" tickets
 * already settled (Paid/Failed, each with its push attempt and its callback in the inbox, as a year of sales leaves
 * them), and Pending tickets holding seats whose push Daraja accepted, each with a known CheckoutRequestID, waiting
 * for the callbacks the benchmark will post. Everything is a function of the index, so the expected end state of
 * every ticket is known without bookkeeping.
 */

const TICKET_COLUMNS = [
  'ticketId', 'ref', 'movieId', 'customerName', 'phoneNumber', 'email', 'quantity', 'totalAmount', 'paymentStatus',
  'holdsTickets', 'mpesaReceiptNumber', 'transactionDate', 'resultCode', 'failureReason', 'confirmedBy', 'needsRefund',
  'refundedAt', 'pendingSince', 'nextCheckAt', 'createdAt', 'updatedAt',
] as const;
const PUSH_COLUMNS = [
  'pushRequestId', 'ticketId', 'checkoutRequestId', 'merchantRequestId', 'phoneNumber', 'amount', 'status', 'resultCode',
  'resultDesc', 'errorCode', 'errorMessage', 'createdAt', 'answeredAt', 'completedAt',
] as const;
const INBOX_COLUMNS = [
  'callbackId', 'receivedAt', 'source', 'sourceIp', 'body', 'checkoutRequestId', 'outcome', 'detail', 'ticketId', 'processedAt',
] as const;
const MOVIE_COLUMNS = [
  'movieId', 'title', 'description', 'showTime', 'price', 'maximumTickets', 'ticketsHeld', 'imageUrl', 'createdAt', 'updatedAt',
] as const;

const BATCH = 1000;
/** MySQL commits every this many tickets (three rows each), so the undo log stays small. */
const COMMIT_EVERY = 50_000;
const HISTORY_TICKETS_PER_MOVIE = 500;
const SAFARICOM_IP = '196.201.214.200';

/** Failure results the pending tickets get, in turn, after the successes: numbers, a numeric string, a non-numeric code. */
const FAILURES: Array<{ code: number | string; desc: string }> = [
  { code: 1032, desc: 'Request cancelled by user' },
  { code: 1, desc: 'The balance is insufficient for the transaction' },
  { code: 2001, desc: 'The initiator information is invalid.' },
  { code: 1037, desc: 'DS timeout user cannot be reached' },
  { code: '1032', desc: 'Request cancelled by user' },
  { code: 'SFC_IC0003', desc: 'Operator does not exist' },
];
/** Of every 20 callbacks, this many succeed; the rest cycle through FAILURES. */
const SUCCESSES_PER_20 = 14;

export interface PendingTicket {
  ticketId: number;
  checkoutRequestId: string;
  movieId: number;
  quantity: number;
  totalAmount: number;
  phoneNumber: string;
}

export interface FillResult {
  history: number;
  pending: PendingTickets;
  /** Movies the pending tickets hold seats on (upcoming shows). */
  showMovieIds: number[];
  seconds: number;
}

/** The pending tickets of one fill, by index 0..count-1. */
export class PendingTickets {
  private readonly transactionDate: number;
  private readonly tag: string;

  constructor(
    readonly firstTicketId: number,
    readonly count: number,
    readonly showMovieIds: number[],
    readonly prices: number[],
    private readonly stamp: Date,
  ) {
    this.transactionDate = Number(darajaTimestamp(stamp));
    // Daraja's ids: ws_CO_DDMMYYYYHHmmss + digits. A per-fill tag keeps them unique across fills.
    const ts = darajaTimestamp(stamp);
    this.tag = `ws_CO_${ts.slice(6, 8)}${ts.slice(4, 6)}${ts.slice(0, 4)}${ts.slice(8)}`;
  }

  ticket(i: number): PendingTicket {
    const m = i % this.showMovieIds.length;
    const quantity = 1 + (i % 4);
    return {
      ticketId: this.firstTicketId + i,
      checkoutRequestId: `${this.tag}${String(i).padStart(9, '0')}`,
      movieId: this.showMovieIds[m]!,
      quantity,
      totalAmount: quantity * this.prices[m]!,
      // 2547 10000000… upwards: never one of the simulator's 2547000000xx test numbers.
      phoneNumber: `2547${String(10_000_000 + (i % 89_999_999)).padStart(8, '0')}`,
    };
  }

  /** The state the ticket must end in once its callback is applied. */
  expected(i: number): { status: 'Paid' | 'Failed'; resultCode: string } {
    const k = i % 20;
    if (k < SUCCESSES_PER_20) return { status: 'Paid', resultCode: '0' };
    return { status: 'Failed', resultCode: String(FAILURES[(k - SUCCESSES_PER_20) % FAILURES.length]!.code) };
  }

  receipt(i: number): string {
    return `B${i.toString(36).toUpperCase().padStart(9, '0')}`;
  }

  /** The callback Safaricom would POST for ticket i, in Daraja's exact shape. */
  body(i: number): string {
    const t = this.ticket(i);
    const k = i % 20;
    const merchantRequestId = `${29115 + (i % 1000)}-${34620561 + i}-1`;
    if (k < SUCCESSES_PER_20) {
      return JSON.stringify({
        Body: {
          stkCallback: {
            MerchantRequestID: merchantRequestId,
            CheckoutRequestID: t.checkoutRequestId,
            ResultCode: 0,
            ResultDesc: 'The service request is processed successfully.',
            CallbackMetadata: {
              Item: [
                { Name: 'Amount', Value: t.totalAmount },
                { Name: 'MpesaReceiptNumber', Value: this.receipt(i) },
                { Name: 'Balance' },
                { Name: 'TransactionDate', Value: this.transactionDate },
                { Name: 'PhoneNumber', Value: Number(t.phoneNumber) },
              ],
            },
          },
        },
      });
    }
    const f = FAILURES[(k - SUCCESSES_PER_20) % FAILURES.length]!;
    return JSON.stringify({
      Body: {
        stkCallback: { MerchantRequestID: merchantRequestId, CheckoutRequestID: t.checkoutRequestId, ResultCode: f.code, ResultDesc: f.desc },
      },
    });
  }
}

const ref = () => randomBytes(18).toString('base64url');

/**
 * Empties and migrates the database, then writes `showMovies` upcoming movies, `history` settled tickets and `pending`
 * Pending tickets (with their accepted push), and sets every movie's ticketsHeld to what its tickets hold.
 */
export async function fillDatabase(
  bdb: BenchDatabase,
  plan: { history: number; pending: number; showMovies?: number; capacity?: number },
  now = new Date(),
): Promise<FillResult> {
  const t0 = performance.now();
  await bdb.reset();
  const w = await bdb.bulk();
  const nowDb = toDbTime(now);
  const later = toDbTime(new Date(now.getTime() + 86_400_000));
  try {
    // Movies: past shows for the history, then the upcoming shows the pending tickets are for.
    const historyMovies = plan.history > 0 ? Math.max(1, Math.ceil(plan.history / HISTORY_TICKETS_PER_MOVIE)) : 0;
    const showMovies = plan.showMovies ?? 10;
    const movies: unknown[][] = [];
    const prices: number[] = [];
    for (let m = 1; m <= historyMovies + showMovies; m++) {
      const isShow = m > historyMovies;
      const price = 100 + 50 * (m % 10);
      if (isShow) prices.push(price);
      const showTime = isShow
        ? toDbTime(new Date(now.getTime() + (2 + (m % 5)) * 86_400_000))
        : toDbTime(new Date(now.getTime() - (historyMovies - m + 1) * 3600_000));
      movies.push([
        m, isShow ? `Opening night ${m - historyMovies}` : `Past show ${m}`, 'Benchmark movie', showTime, price,
        isShow ? (plan.capacity ?? 10_000_000) : 1_000_000, 0, null, nowDb, nowDb,
      ]);
      if (movies.length === BATCH) await w.insert('movie', MOVIE_COLUMNS, movies.splice(0));
    }
    await w.insert('movie', MOVIE_COLUMNS, movies);
    const showMovieIds = Array.from({ length: showMovies }, (_, k) => historyMovies + 1 + k);

    // History: settled tickets, oldest first, spread over the last 180 days.
    const span = 180 * 86_400_000;
    let tickets: unknown[][] = [];
    let pushes: unknown[][] = [];
    let inbox: unknown[][] = [];
    const flush = async () => {
      await w.insert('ticket', TICKET_COLUMNS, tickets);
      await w.insert('pushrequest', PUSH_COLUMNS, pushes);
      if (inbox.length) await w.insert('callbackinbox', INBOX_COLUMNS, inbox);
      tickets = [];
      pushes = [];
      inbox = [];
    };
    for (let id = 1; id <= plan.history; id++) {
      const at = new Date(now.getTime() - span + Math.floor((span * id) / (plan.history + 1)));
      const atDb = toDbTime(at);
      const movieId = 1 + Math.floor((id - 1) / HISTORY_TICKETS_PER_MOVIE);
      const quantity = 1 + (id % 4);
      const amount = quantity * (100 + 50 * (movieId % 10));
      const phone = `2547${String(20_000_000 + (id % 79_999_999)).padStart(8, '0')}`;
      const paid = id % 5 !== 0;
      const checkout = `ws_CO_hist${String(id).padStart(12, '0')}`;
      tickets.push([
        id, ref(), movieId, `Customer ${id}`, phone, null, quantity, amount, paid ? 'Paid' : 'Failed', paid ? 1 : 0,
        paid ? `H${id.toString(36).toUpperCase().padStart(9, '0')}` : null, paid ? atDb : null, paid ? '0' : '1032',
        paid ? null : 'Request cancelled by user', 'callback', 0, null, atDb, null, atDb, atDb,
      ]);
      pushes.push([
        id, id, checkout, `hist-${id}`, phone, amount, 'Completed', paid ? '0' : '1032',
        paid ? 'The service request is processed successfully.' : 'Request cancelled by user', null, null, atDb, atDb, atDb,
      ]);
      // The raw body of an old callback is kept short here: only the table's size and indexes matter to the benchmark.
      inbox.push([id, atDb, 'callback', SAFARICOM_IP, `{"history":${id}}`, checkout, 'applied', null, id, atDb]);
      if (tickets.length === BATCH) await flush();
      if (id % COMMIT_EVERY === 0) {
        await flush();
        await w.checkpoint();
      }
    }
    await flush();
    await w.checkpoint();

    // Pending tickets, each with the push Daraja accepted, waiting for their callback.
    const pending = new PendingTickets(plan.history + 1, plan.pending, showMovieIds, prices, now);
    for (let i = 0; i < plan.pending; i++) {
      const t = pending.ticket(i);
      tickets.push([
        t.ticketId, ref(), t.movieId, `Fan ${i}`, t.phoneNumber, null, t.quantity, t.totalAmount, 'Pending', 1,
        null, null, null, null, null, 0, null, nowDb, later, nowDb, nowDb,
      ]);
      pushes.push([
        t.ticketId, t.ticketId, t.checkoutRequestId, `${29115 + (i % 1000)}-${34620561 + i}-1`, t.phoneNumber, t.totalAmount,
        'Accepted', null, null, null, null, nowDb, nowDb, null,
      ]);
      if (tickets.length === BATCH) await flush();
      if ((i + 1) % COMMIT_EVERY === 0) {
        await flush();
        await w.checkpoint();
      }
    }
    await flush();
    await w.checkpoint();

    // Seats held = what the holding tickets hold, computed by the database in one statement.
    await w.exec(
      'UPDATE movie SET ticketsHeld = (SELECT COALESCE(SUM(t.quantity), 0) FROM ticket t WHERE t.movieId = movie.movieId AND t.holdsTickets = 1)',
    );
    await w.close();
    return { history: plan.history, pending, showMovieIds, seconds: (performance.now() - t0) / 1000 };
  } catch (err) {
    await w.close().catch(() => undefined);
    throw err;
  }
}
