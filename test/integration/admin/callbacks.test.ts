import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../support/app.js';
import { dialects } from '../../support/db.js';
import { buildInbox, buildMovie, buildPush, buildTicket } from '../../support/builders.js';
import type { InboxOutcome } from '../../../src/core/db/schema.js';
import { ADMIN_ENV, auditRows, nextLink, operator, tokenIn } from './helpers.js';

const listedCallbackIds = (html: string) => [...html.matchAll(/data-callback-id="(\d+)"/g)].map((m) => Number(m[1]));

function successBody(checkoutRequestId: string, amount: number, phone: string, receipt: string): string {
  return JSON.stringify({
    Body: {
      stkCallback: {
        MerchantRequestID: '29115-34620561-1',
        CheckoutRequestID: checkoutRequestId,
        ResultCode: 0,
        ResultDesc: 'The service request is processed successfully.',
        CallbackMetadata: {
          Item: [
            { Name: 'Amount', Value: amount },
            { Name: 'MpesaReceiptNumber', Value: receipt },
            { Name: 'Balance' },
            { Name: 'TransactionDate', Value: 20250514201201 },
            { Name: 'PhoneNumber', Value: Number(phone) },
          ],
        },
      },
    },
  });
}

describe.each(dialects)('admin callback inbox on %s', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect, ADMIN_ENV);
  });
  afterAll(async () => {
    await t?.close();
  });

  /** A Pending ticket whose push timed out (no CheckoutRequestID), and an unmatched success callback that paid it. */
  async function lostPayment(n: number) {
    const db = t.database.db;
    const movie = await buildMovie(db, { price: 30, maximumTickets: 10, ticketsHeld: 2 });
    const tk = await buildTicket(db, {
      movieId: movie, paymentStatus: 'Pending', quantity: 2, totalAmount: 60, holdsTickets: 1,
      mpesaReceiptNumber: null, transactionDate: null, resultCode: null, confirmedBy: null,
    });
    await buildPush(db, { ticketId: tk.ticketId, checkoutRequestId: null, status: 'Unknown', amount: 60, phoneNumber: tk.phoneNumber });
    const id = `ws_CO_lost_${dialect}_${n}_${tk.ticketId}`;
    const cb = await buildInbox(db, {
      outcome: 'unmatched', checkoutRequestId: id, detail: 'unknown CheckoutRequestID',
      body: successBody(id, 60, tk.phoneNumber, `OPS${String(tk.ticketId).padStart(7, '0')}`),
    });
    return { tk, cb };
  }

  const inboxOutcome = async (callbackId: number) =>
    (await t.database.db.selectFrom('callbackinbox').select('outcome').where('callbackId', '=', callbackId).executeTakeFirstOrThrow()).outcome;
  const ticketStatus = async (ticketId: number) =>
    (await t.database.db.selectFrom('ticket').select('paymentStatus').where('ticketId', '=', ticketId).executeTakeFirstOrThrow()).paymentStatus;

  it('when the inbox is filtered by outcome, then only rows with that outcome show, newest first', async () => {
    const ids: Record<string, number[]> = {};
    for (const outcome of ['applied', 'duplicate', 'unmatched', 'rejected', 'invalid', 'mismatch', 'received'] as InboxOutcome[]) {
      ids[outcome] = [await buildInbox(t.database.db, { outcome }), await buildInbox(t.database.db, { outcome })];
    }
    for (const [outcome, mine] of Object.entries(ids)) {
      const res = await operator(t.app).get(`/admin/callbacks?outcome=${outcome}`).expect(200);
      const listed = listedCallbackIds(res.text);
      expect(listed.slice(0, 2), outcome).toEqual([...mine].reverse());
      const others = Object.entries(ids).filter(([o]) => o !== outcome).flatMap(([, v]) => v);
      expect(listed.filter((id) => others.includes(id)), outcome).toEqual([]);
      expect(res.text).toMatch(new RegExp(`<option value="${outcome}" selected>`));
    }
    const all = await operator(t.app).get('/admin/callbacks').expect(200);
    expect(listedCallbackIds(all.text).slice(0, 3)).toEqual([ids.received![1], ids.received![0], ids.mismatch![1]]);
    const bad = await operator(t.app).get('/admin/callbacks?outcome=<x>').expect(422);
    expect(bad.text).toContain('Choose one of the outcomes in the list.');
    expect(bad.text).not.toContain('<x>');
  });

  it('when the inbox is paged through, then every row of the filter is visited once', async () => {
    const mine: number[] = [];
    for (let i = 0; i < 9; i++) mine.push(await buildInbox(t.database.db, { outcome: 'rejected', detail: 'paging' }));
    const pages: Array<{ ids: number[]; next: string | undefined }> = [];
    let url: string | undefined = '/admin/callbacks?outcome=rejected&limit=4';
    while (url && pages.length < 50) {
      const res = await operator(t.app).get(url).expect(200);
      pages.push({ ids: listedCallbackIds(res.text), next: (url = nextLink(res.text)) });
    }
    // At least these 9 rows at 4 a page: full pages that each link on from their last row, then a last page without a link.
    expect(pages.length).toBeGreaterThanOrEqual(3);
    const last = pages.at(-1)!;
    for (const page of pages.slice(0, -1)) {
      expect(page.ids).toHaveLength(4);
      expect(page.next).toMatch(new RegExp(`[?&]before=${page.ids.at(-1)}(&|$)`));
    }
    expect(last.ids.length).toBeGreaterThanOrEqual(1);
    expect(last.ids.length).toBeLessThanOrEqual(4);
    expect(last.next).toBeUndefined();
    const seen = pages.flatMap((p) => p.ids);
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of mine) expect(seen.filter((x) => x === id)).toHaveLength(1);
    expect(seen).toEqual([...seen].sort((a, b) => b - a));
  });

  it('when a raw body is shown, then JSON is pretty-printed and anything else is shown as received, both escaped', async () => {
    const json = await buildInbox(t.database.db, { outcome: 'invalid', body: '{"Body":{"note":"<script>alert(1)</script>"}}' });
    const text = await buildInbox(t.database.db, { outcome: 'invalid', body: 'ResultCode=0&x=<img src=x onerror=alert(1)>' });
    const big = await buildInbox(t.database.db, { outcome: 'invalid', body: JSON.stringify({ pad: 'y'.repeat(5000), tail: 'END-OF-BODY' }) });
    const list = await operator(t.app).get('/admin/callbacks?outcome=invalid').expect(200);
    expect(list.text).not.toContain('<script>alert(1)');
    expect(list.text).not.toContain('<img src=x');
    expect(list.text).toContain('{\n  &#34;Body&#34;: {\n    &#34;note&#34;: &#34;&lt;script&gt;alert(1)&lt;/script&gt;&#34;\n  }\n}');
    expect(list.text).toContain('ResultCode=0&amp;x=&lt;img src=x onerror=alert(1)&gt;');
    // A long body shows its start in the list, and whole on its own page.
    expect(list.text).not.toContain('END-OF-BODY');
    expect(list.text).toContain(`href="/admin/callbacks/${big}">See the whole body`);
    const full = await operator(t.app).get(`/admin/callbacks/${big}`).expect(200);
    expect(full.text).toContain('END-OF-BODY');
    expect(full.text).toContain('Body (JSON, formatted)');
    const one = await operator(t.app).get(`/admin/callbacks/${text}`).expect(200);
    expect(one.text).toContain('Body (as received)');
    expect(json).toBeGreaterThan(0);
    await operator(t.app).get('/admin/callbacks/99999999').expect(404);
  });

  it('when an unmatched callback is assigned by reference, ticket link or number, then it is applied to that ticket by the operator and the page reports the outcome', async () => {
    const agent = operator(t.app);
    const ways = [(tk: { ref: string }) => ` ${tk.ref} `, (tk: { ref: string }) => `http://localhost:3000/tickets/${tk.ref}`, (tk: { ticketId: number }) => String(tk.ticketId)];
    for (const [n, way] of ways.entries()) {
      const { tk, cb } = await lostPayment(n);
      const page = await agent.get(`/admin/callbacks/${cb}`).expect(200);
      expect(page.text).toContain(`action="/admin/callbacks/${cb}/assign"`);
      const res = await agent.post(`/admin/callbacks/${cb}/assign`).type('form').send({ _csrf: tokenIn(page.text), ticket: way(tk) }).expect(303);
      expect(res.headers.location).toBe(`/admin/callbacks/${cb}?assigned=applied`);
      expect(await inboxOutcome(cb)).toBe('applied');
      expect(await ticketStatus(tk.ticketId)).toBe('Paid');
      expect(await auditRows(t.database.db, { ticketId: tk.ticketId })).toEqual([expect.objectContaining({ actor: 'ops', action: 'callback.assign', callbackId: cb })]);
      const after = await agent.get(res.headers.location!).expect(200);
      expect(after.text).toContain('Assigned. The callback was processed with the outcome &#34;applied&#34;.');
    }
  });

  it('when the ticket named does not exist, or the callback is not unmatched, then the operator is told and nothing changes', async () => {
    const { tk, cb: unmatched } = await lostPayment(9);
    const applied = await buildInbox(t.database.db, { outcome: 'applied' });
    const agent = operator(t.app);
    const page = await agent.get(`/admin/callbacks/${unmatched}`).expect(200);
    const token = tokenIn(page.text);
    const missing = await agent.post(`/admin/callbacks/${unmatched}/assign`).type('form').send({ _csrf: token, ticket: 'NoSuchTicketRef123' }).expect(422);
    expect(missing.text).toContain('No ticket has that number or reference.');
    expect(missing.text).toMatch(/id="ticket"[^>]*value="NoSuchTicketRef123"/);
    const empty = await agent.post(`/admin/callbacks/${unmatched}/assign`).type('form').send({ _csrf: token, ticket: '' }).expect(422);
    expect(empty.text).toContain('Enter the ticket number or its reference.');
    const done = await agent.post(`/admin/callbacks/${applied}/assign`).type('form').send({ _csrf: token, ticket: String(tk.ticketId) }).expect(409);
    expect(done.text).toContain('Only an unmatched callback can be assigned');
    const appliedPage = await agent.get(`/admin/callbacks/${applied}`).expect(200);
    expect(appliedPage.text).not.toContain('/assign"');
    expect(await inboxOutcome(unmatched)).toBe('unmatched');
    expect(await inboxOutcome(applied)).toBe('applied');
    expect(await ticketStatus(tk.ticketId)).toBe('Pending');
    expect(await auditRows(t.database.db, { ticketId: tk.ticketId })).toEqual([]);
  });

  it('when an unmatched success callback is assigned to the Pending ticket it paid for, then the ticket is Paid by the operator and the action is audited', async () => {
    const movie = await buildMovie(t.database.db, { price: 30, maximumTickets: 10, ticketsHeld: 2 });
    const tk = await buildTicket(t.database.db, {
      movieId: movie, paymentStatus: 'Pending', quantity: 2, totalAmount: 60, phoneNumber: '254708374149', holdsTickets: 1,
      mpesaReceiptNumber: null, transactionDate: null, resultCode: null, confirmedBy: null,
    });
    // The push timed out: no CheckoutRequestID was ever learned, and the callback's id matched nothing.
    await buildPush(t.database.db, { ticketId: tk.ticketId, checkoutRequestId: null, status: 'Unknown', amount: 60, phoneNumber: '254708374149' });
    const cb = await buildInbox(t.database.db, {
      outcome: 'unmatched', checkoutRequestId: 'ws_CO_lost_000001', detail: 'unknown CheckoutRequestID',
      body: successBody('ws_CO_lost_000001', 60, '254708374149', 'OPS1234567'),
    });
    const agent = operator(t.app);
    const token = tokenIn((await agent.get(`/admin/callbacks/${cb}`)).text);
    const res = await agent.post(`/admin/callbacks/${cb}/assign`).type('form').send({ _csrf: token, ticket: tk.ref }).expect(303);
    expect(res.headers.location).toBe(`/admin/callbacks/${cb}?assigned=applied`);
    const ticket = await t.database.db.selectFrom('ticket').selectAll().where('ticketId', '=', tk.ticketId).executeTakeFirstOrThrow();
    expect(ticket).toMatchObject({ paymentStatus: 'Paid', mpesaReceiptNumber: 'OPS1234567', confirmedBy: 'operator' });
    const inbox = await t.database.db.selectFrom('callbackinbox').selectAll().where('callbackId', '=', cb).executeTakeFirstOrThrow();
    expect(inbox).toMatchObject({ outcome: 'applied', ticketId: tk.ticketId });
    const audit = await auditRows(t.database.db, { ticketId: tk.ticketId });
    expect(audit).toEqual([expect.objectContaining({ actor: 'ops', callbackId: cb })]);
    const page = await agent.get(`/admin/callbacks/${cb}`).expect(200);
    expect(page.text).toContain('by ops');
    const timeline = await agent.get(`/admin/tickets/${tk.ticketId}`).expect(200);
    expect(timeline.text).toMatch(/data-kind="audit"/);
  });
});
