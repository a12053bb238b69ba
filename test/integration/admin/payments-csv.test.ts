import { randomBytes } from 'node:crypto';
import type { Response } from 'superagent';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../support/app.js';
import { dialects } from '../../support/db.js';
import { buildMovie, buildTicket, ticketValues } from '../../support/builders.js';
import { csvCell, csvRow } from '../../../src/admin/csv.js';
import { ADMIN_ENV, at, operator } from './helpers.js';

/** A minimal RFC 4180 reader, to check what a spreadsheet would see. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; }
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(cell); cell = ''; }
    else if (c === '\r' && text[i + 1] === '\n') { row.push(cell); rows.push(row); row = []; cell = ''; i++; }
    else cell += c;
  }
  if (cell !== '' || row.length) { row.push(cell); rows.push(row); }
  return rows;
}

/** supertest does not buffer text/csv by default: read the body as UTF-8 text. */
function asText(res: Response, cb: (err: Error | null, body: string) => void): void {
  const r = res as unknown as NodeJS.ReadableStream;
  let s = '';
  r.setEncoding('utf8');
  r.on('data', (c: string) => { s += c; });
  r.on('end', () => cb(null, s));
}

const HEADER = ['Receipt', 'Transaction date (Nairobi)', 'Phone', 'Amount (KES)', 'Ticket ref', 'Ticket ID', 'Movie', 'Tickets', 'Customer', 'Confirmed by', 'Refund', 'Reversal status', 'Reversal transaction', 'Reversal amount (KES)'];

describe('CSV cells', () => {
  it('when a text cell could be read as a formula, then it is prefixed with a quote; commas, quotes and newlines are quoted', () => {
    expect(csvCell('=HYPERLINK("http://evil","x")')).toBe(`"'=HYPERLINK(""http://evil"",""x"")"`);
    for (const s of ['+254', '-2+3', '@SUM(A1)', '\tx', '\rx']) expect(csvCell(s)).toBe(`"'${s}"`);
    expect(csvCell('Otieno, Jane')).toBe('"Otieno, Jane"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell(45)).toBe('45');
    expect(csvCell(null)).toBe('');
    expect(csvRow(['a', 1, null])).toBe('a,1,\r\n');
  });
});

describe.each(dialects)('admin payments CSV on %s', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect, ADMIN_ENV);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('when payments are exported for a movie, then the file is an attachment listing its Paid tickets oldest first, with full phones and Nairobi dates', async () => {
    const movie = await buildMovie(t.database.db, { title: 'CSV, "The Movie"' });
    // A reference is base64url, so one in 64 starts with '-': it gets the same quote as any cell a spreadsheet would
    // read as a formula (the Ticket ID column beside it is always plain).
    const dashRef = `-${randomBytes(12).toString('base64url')}`;
    const first = await buildTicket(t.database.db, {
      ref: dashRef, movieId: movie, paymentStatus: 'Paid', mpesaReceiptNumber: 'SFK1AB2CD3', phoneNumber: '254708374149', totalAmount: 45, quantity: 3,
      customerName: 'Jane Otieno', createdAt: at('2025-05-14T17:10:00Z'), transactionDate: at('2025-05-14T17:12:01Z'),
    });
    const second = await buildTicket(t.database.db, {
      ref: `A${randomBytes(12).toString('base64url')}`, movieId: movie, paymentStatus: 'Paid', mpesaReceiptNumber: null, phoneNumber: '254711222333', totalAmount: 15, quantity: 1,
      customerName: 'Query Confirmed', confirmedBy: 'query', createdAt: at('2025-05-14T18:00:00Z'), transactionDate: at('2025-05-14T18:05:00Z'),
      needsRefund: 1, holdsTickets: 0,
    });
    await buildTicket(t.database.db, { movieId: movie, paymentStatus: 'Failed', customerName: 'Not Paid' });
    await buildTicket(t.database.db, { movieId: movie, paymentStatus: 'Pending', customerName: 'Still Waiting' });

    const res = await operator(t.app).get(`/admin/payments.csv?movie=${movie}`).buffer(true).parse(asText).expect(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename="tikiti-payments-start-to-\d{4}-\d{2}-\d{2}\.csv"$/);
    expect(res.headers['cache-control']).toBe('no-store');
    const text = res.body as string;
    expect(text.startsWith('\uFEFF')).toBe(true);
    expect(text.endsWith('\r\n')).toBe(true);
    const rows = parseCsv(text.slice(1));
    expect(rows[0]).toEqual(HEADER);
    expect(rows.slice(1)).toEqual([
      ['SFK1AB2CD3', '2025-05-14 20:12:01', '254708374149', '45', `'${dashRef}`, String(first.ticketId), 'CSV, "The Movie"', '3', 'Jane Otieno', 'callback', '', '', '', ''],
      ['', '2025-05-14 21:05:00', '254711222333', '15', second.ref, String(second.ticketId), 'CSV, "The Movie"', '1', 'Query Confirmed', 'query', 'refund due', '', '', ''],
    ]);
  });

  it('when a payment was reversed through M-Pesa, then its row carries the reversal: status, transaction and amount', async () => {
    const movie = await buildMovie(t.database.db);
    const paid = await buildTicket(t.database.db, { movieId: movie, paymentStatus: 'Paid', mpesaReceiptNumber: 'SFK9ZZ8YY7', totalAmount: 40, refundedAt: at('2025-05-15T08:00:00Z') });
    const now = at('2025-05-15T07:59:00Z');
    await t.database.db.insertInto('refund').values({
      ticketId: paid.ticketId, activeTicketId: paid.ticketId, amount: 40, transactionId: 'SFK9ZZ8YY7', status: 'refunded', reason: 'test', actor: 'ops',
      conversationId: 'AG_1', originatorConversationId: 'o-1', reversalTransactionId: 'RVS1234567', statusConversationId: null,
      statusOriginatorConversationId: null, resultCode: '0', failureReason: null, sendingSince: now, nextAttemptAt: null, createdAt: now,
      acceptedAt: now, completedAt: now, updatedAt: now,
    }).execute();
    const res = await operator(t.app).get(`/admin/payments.csv?movie=${movie}`).buffer(true).parse(asText).expect(200);
    const rows = parseCsv((res.body as string).slice(1));
    expect(rows[1]!.slice(10)).toEqual(['refunded 2025-05-15 11:00:00', 'refunded', 'RVS1234567', '40']);
  });

  it('when a customer name is a formula or holds CSV syntax, then the cell comes out as harmless text', async () => {
    const movie = await buildMovie(t.database.db);
    const names = ['=cmd|" /C calc"!A0', '+2547', '-1+1', '@SUM(1,2)', 'Line\r\nbreak, "quoted"'];
    for (const customerName of names) await buildTicket(t.database.db, { movieId: movie, paymentStatus: 'Paid', customerName });
    const res = await operator(t.app).get(`/admin/payments.csv?movie=${movie}`).buffer(true).parse(asText).expect(200);
    const rows = parseCsv((res.body as string).slice(1)).slice(1);
    expect(rows.map((r) => r[8])).toEqual([`'=cmd|" /C calc"!A0`, `'+2547`, `'-1+1`, `'@SUM(1,2)`, 'Line\r\nbreak, "quoted"']);
    for (const r of rows) expect(r).toHaveLength(HEADER.length);
  });

  it('when the export is filtered by dates, phone or status, then it honours the filter; a non-Paid status gives the header alone', async () => {
    const movie = await buildMovie(t.database.db);
    const inDay = await buildTicket(t.database.db, { movieId: movie, paymentStatus: 'Paid', createdAt: at('2025-07-01T21:30:00Z'), phoneNumber: '254722000111' });
    await buildTicket(t.database.db, { movieId: movie, paymentStatus: 'Paid', createdAt: at('2025-07-01T20:30:00Z'), phoneNumber: '254722000222' });
    const get = async (q: string) => {
      const res = await operator(t.app).get(`/admin/payments.csv?movie=${movie}&${q}`).buffer(true).parse(asText).expect(200);
      return { rows: parseCsv((res.body as string).slice(1)), disposition: res.headers['content-disposition'] };
    };
    // 2025-07-02 in Nairobi starts at 2025-07-01T21:00Z.
    const day = await get('from=2025-07-02&to=2025-07-02');
    expect(day.rows.slice(1).map((r) => r[5])).toEqual([String(inDay.ticketId)]);
    expect(day.disposition).toContain('tikiti-payments-2025-07-02-to-2025-07-02.csv');
    const phone = await get('phone=0111');
    expect(phone.rows.slice(1).map((r) => r[2])).toEqual(['254722000111']);
    const failed = await get('status=Failed');
    expect(failed.rows).toEqual([HEADER]);
    const bad = await operator(t.app).get(`/admin/payments.csv?from=tomorrow`).expect(422);
    expect(bad.text).toContain('Enter a date as YYYY-MM-DD');
  });

  it('when more Paid tickets than one batch are exported, then each appears exactly once', async () => {
    const movie = await buildMovie(t.database.db);
    const rows = Array.from({ length: 1203 }, (_, i) => ticketValues({
      movieId: movie, customerName: `Bulk ${i}`, phoneNumber: '254700111222', paymentStatus: 'Paid',
      mpesaReceiptNumber: `B${String(i).padStart(9, '0')}`, transactionDate: at('2025-08-01T10:00:00Z'),
      // Many equal times: the batch edge falls inside a tie.
      pendingSince: at('2025-08-01T10:00:00Z'), createdAt: at(`2025-08-01T10:00:0${i % 3}Z`), updatedAt: at('2025-08-01T10:00:00Z'),
    }));
    for (let i = 0; i < rows.length; i += 300) await t.database.db.insertInto('ticket').values(rows.slice(i, i + 300)).execute();
    const res = await operator(t.app).get(`/admin/payments.csv?movie=${movie}`).buffer(true).parse(asText).expect(200);
    const receipts = parseCsv((res.body as string).slice(1)).slice(1).map((r) => r[0]);
    expect(receipts).toHaveLength(1203);
    expect(new Set(receipts).size).toBe(1203);
  });
});
