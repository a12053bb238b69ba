import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { createTestApp, type TestApp } from '../../support/app.js';
import { dialects } from '../../support/db.js';
import { buildInbox, buildMovie, buildNotification, buildPush, buildTicket } from '../../support/builders.js';
import { ADMIN_ENV, at, listedTicketIds, makeTickets, nextLink, operator } from './helpers.js';

describe.each(dialects)('admin tickets on %s', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect, ADMIN_ENV);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('when the list is filtered by movie and status, then only those tickets show, newest first', async () => {
    const movie = await buildMovie(t.database.db, { title: 'Filter Movie' });
    const other = await buildMovie(t.database.db);
    const [paidOld, failed, paidNew] = await makeTickets(t.database.db, [
      { movieId: movie, paymentStatus: 'Paid', createdAt: at('2025-03-01T08:00:00Z') },
      { movieId: movie, paymentStatus: 'Failed', createdAt: at('2025-03-01T09:00:00Z') },
      { movieId: movie, paymentStatus: 'Paid', createdAt: at('2025-03-01T10:00:00Z') },
    ]);
    await buildTicket(t.database.db, { movieId: other, paymentStatus: 'Paid' });

    const all = await operator(t.app).get(`/admin/tickets?movie=${movie}`).expect(200);
    expect(listedTicketIds(all.text)).toEqual([paidNew, failed, paidOld]);
    const paid = await operator(t.app).get(`/admin/tickets?movie=${movie}&status=Paid`).expect(200);
    expect(listedTicketIds(paid.text)).toEqual([paidNew, paidOld]);
    expect(paid.text).toMatch(/<option value="Paid" selected>/);
    const none = await operator(t.app).get(`/admin/tickets?movie=${movie}&status=Pending`).expect(200);
    expect(listedTicketIds(none.text)).toEqual([]);
    expect(none.text).toContain('No tickets match this filter.');
  });

  it('when the list is filtered by Nairobi dates, then a ticket booked at 23:59 and one at 00:00 fall on the right days', async () => {
    const movie = await buildMovie(t.database.db);
    // 2025-04-10 in Nairobi runs from 2025-04-09T21:00Z to 2025-04-10T21:00Z.
    const [before, first, last, after] = await makeTickets(t.database.db, [
      { movieId: movie, createdAt: at('2025-04-09T20:59:59.999Z') },
      { movieId: movie, createdAt: at('2025-04-09T21:00:00.000Z') },
      { movieId: movie, createdAt: at('2025-04-10T20:59:59.999Z') },
      { movieId: movie, createdAt: at('2025-04-10T21:00:00.000Z') },
    ]);
    const day = await operator(t.app).get(`/admin/tickets?movie=${movie}&from=2025-04-10&to=2025-04-10`).expect(200);
    expect(listedTicketIds(day.text)).toEqual([last, first]);
    const fromOnly = await operator(t.app).get(`/admin/tickets?movie=${movie}&from=2025-04-11`).expect(200);
    expect(listedTicketIds(fromOnly.text)).toEqual([after]);
    const toOnly = await operator(t.app).get(`/admin/tickets?movie=${movie}&to=2025-04-09`).expect(200);
    expect(listedTicketIds(toOnly.text)).toEqual([before]);
    // Shown in Nairobi time.
    expect(day.text).toContain('2025-04-10 00:00:00');
    expect(day.text).toContain('datetime="2025-04-10T23:59:59+03:00"');
  });

  it('when the list is filtered by the last digits of a phone, or the whole number in any form, then only that phone shows', async () => {
    const movie = await buildMovie(t.database.db);
    const target = await buildTicket(t.database.db, { movieId: movie, phoneNumber: '254712398761' });
    const sameTail = await buildTicket(t.database.db, { movieId: movie, phoneNumber: '254799918761' });
    await buildTicket(t.database.db, { movieId: movie, phoneNumber: '254712398760' });

    const tail4 = await operator(t.app).get(`/admin/tickets?movie=${movie}&phone=8761`).expect(200);
    expect(listedTicketIds(tail4.text).sort()).toEqual([target.ticketId, sameTail.ticketId].sort());
    const tail6 = await operator(t.app).get(`/admin/tickets?movie=${movie}&phone=${encodeURIComponent('398 761')}`).expect(200);
    expect(listedTicketIds(tail6.text)).toEqual([target.ticketId]);
    for (const whole of ['0712398761', '+254 712 398 761', '254712398761']) {
      const r = await operator(t.app).get(`/admin/tickets?movie=${movie}&phone=${encodeURIComponent(whole)}`).expect(200);
      expect(listedTicketIds(r.text)).toEqual([target.ticketId]);
    }
    // The list masks the number; the ticket page shows it whole.
    expect(tail6.text).toContain('2547•••••761');
    expect(tail6.text).not.toContain('254712398761');
  });

  it('when a filter is not valid, then 422 names the field, keeps what was typed and lists nothing', async () => {
    const res = await operator(t.app).get('/admin/tickets?phone=61&from=2025-02-30&to=yesterday&status=Lost').expect(422);
    expect(res.text).toContain('Enter at least the last 4 digits');
    expect(res.text).toContain('Enter a date as YYYY-MM-DD');
    expect(res.text).toContain('Choose Pending, Paid or Failed.');
    expect(res.text).toMatch(/id="phone"[^>]*value="61"/);
    expect(res.text).toMatch(/id="from"[^>]*value="2025-02-30"/);
    expect(listedTicketIds(res.text)).toEqual([]);
    const backwards = await operator(t.app).get('/admin/tickets?from=2025-05-02&to=2025-05-01').expect(422);
    expect(backwards.text).toContain('The end date is before the start date.');
  });

  it('when the pages are followed by their next links, then every ticket is visited exactly once, ties on time included', async () => {
    const movie = await buildMovie(t.database.db);
    // 23 tickets on 5 distinct times: the id breaks ties, so a page edge inside a tie must not skip or repeat.
    const seeds = Array.from({ length: 23 }, (_, i) => ({
      movieId: movie,
      createdAt: at(`2025-05-0${1 + (i % 5)}T12:00:00.000Z`),
      paymentStatus: (['Paid', 'Failed', 'Pending'] as const)[i % 3],
    }));
    const ids = await makeTickets(t.database.db, seeds);
    const seen: number[] = [];
    let url: string | undefined = `/admin/tickets?movie=${movie}&limit=4`;
    let pages = 0;
    while (url) {
      const res = await operator(t.app).get(url).expect(200);
      const page = listedTicketIds(res.text);
      expect(page.length).toBeLessThanOrEqual(4);
      seen.push(...page);
      url = nextLink(res.text);
      if (url) {
        expect(url).toMatch(/[?&]after=[A-Za-z0-9_-]+/);
        expect(url).not.toMatch(/offset|page=/i);
        expect(url).toContain(`movie=${movie}`);
        expect(url).toContain('limit=4');
      }
      if (++pages > 10) throw new Error('pagination does not end');
    }
    expect(pages).toBe(6);
    expect(new Set(seen).size).toBe(23);
    expect(seen.length).toBe(23);
    const expected = ids
      .map((id, i) => ({ id, at: seeds[i]!.createdAt }))
      .sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : b.id - a.id))
      .map((x) => x.id);
    expect(seen).toEqual(expected);
  });

  it('when a page link carries a cursor that is not ours, then 400 says to start again and nothing breaks', async () => {
    const res = await operator(t.app).get('/admin/tickets?after=bm90LWEtY3Vyc29y').expect(400);
    expect(res.text).toContain('That page link is broken or out of date');
    await operator(t.app).get(`/admin/tickets?after=${Buffer.from("2025-01-01 00:00:00.000|1 or 1=1").toString('base64url')}`).expect(400);
  });

  it('when totals are asked for a filter, then they count bookings, seats and shillings per status', async () => {
    const movie = await buildMovie(t.database.db);
    await makeTickets(t.database.db, [
      { movieId: movie, paymentStatus: 'Paid', quantity: 2, totalAmount: 40 },
      { movieId: movie, paymentStatus: 'Paid', quantity: 3, totalAmount: 60 },
      { movieId: movie, paymentStatus: 'Paid', quantity: 1, totalAmount: 20, holdsTickets: 0, needsRefund: 1 },
      { movieId: movie, paymentStatus: 'Failed', quantity: 4, totalAmount: 80 },
      { movieId: movie, paymentStatus: 'Pending', quantity: 1, totalAmount: 20 },
    ]);
    const list = await operator(t.app).get(`/admin/tickets?movie=${movie}`).expect(200);
    // One show's tickets are few: counted as the page loads. All time is a full scan: counted when asked.
    expect(list.text).toContain(`data-totals-src="/admin/tickets/totals?movie=${movie}&amp;fragment=1" data-totals-auto="1"`);
    const allTime = await operator(t.app).get('/admin/tickets?status=Paid').expect(200);
    expect(allTime.text).toContain('data-totals-src="/admin/tickets/totals?status=Paid&amp;fragment=1">');
    expect(allTime.text).toContain('href="/admin/tickets/totals?status=Paid" class="totals-link"');
    const month = await operator(t.app).get('/admin/tickets?from=2025-03-01&to=2025-03-31').expect(200);
    expect(month.text).toContain('data-totals-auto="1"');
    const quarter = await operator(t.app).get('/admin/tickets?from=2025-01-01&to=2025-03-31').expect(200);
    expect(quarter.text).not.toContain('data-totals-auto');
    const res = await operator(t.app).get(`/admin/tickets/totals?movie=${movie}`).expect(200);
    const row = (status: string) => new RegExp(`<tr data-status="${status}">.*?</tr>`, 's').exec(res.text)?.[0] ?? '';
    expect(row('Paid')).toMatch(/>3<\/td><td class="num">6<\/td><td class="num">KES 120</);
    expect(row('Failed')).toMatch(/>1<\/td><td class="num">4<\/td><td class="num">KES 80</);
    expect(row('Pending')).toMatch(/>1<\/td><td class="num">1<\/td><td class="num">KES 20</);
    expect(row('all')).toMatch(/>5<\/td><td class="num">11<\/td><td class="num">KES 220</);
    expect(res.text).toContain('KES 20 is owed back');
    const fragment = await operator(t.app).get(`/admin/tickets/totals?movie=${movie}&status=Paid&fragment=1`).expect(200);
    expect(fragment.text).not.toContain('<html');
    expect(fragment.text).toMatch(/<tr data-status="all">.*>3<\/td>/s);
  });

  it('when a customer name holds HTML, then every admin page shows it as text', async () => {
    const movie = await buildMovie(t.database.db, { title: '<b>Bold</b> & "quoted"' });
    const evil = '<script>alert("x")</script><img src=x onerror=alert(1)>';
    const tk = await buildTicket(t.database.db, { movieId: movie, customerName: evil, paymentStatus: 'Paid', needsRefund: 1, holdsTickets: 0 });
    for (const url of [`/admin/tickets?movie=${movie}`, `/admin/tickets/${tk.ticketId}`, '/admin/refunds', '/admin/movies']) {
      const res = await operator(t.app).get(url).expect(200);
      expect(res.text, url).not.toContain('<script>alert');
      expect(res.text, url).not.toContain('<img src=x');
      if (url !== '/admin/movies') expect(res.text, url).toContain('&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;');
      expect(res.text, url).not.toContain('<b>Bold</b>');
    }
  });

  it('when a ticket is opened, then its timeline lists booking, every push, callback, query answer, notification and audit entry in time order', async () => {
    const movie = await buildMovie(t.database.db, { title: 'Timeline Movie' });
    const tk = await buildTicket(t.database.db, {
      movieId: movie, phoneNumber: '254708374149', paymentStatus: 'Paid', customerName: 'Wanjiru',
      createdAt: at('2025-06-01T10:00:00.000Z'), mpesaReceiptNumber: 'TLM1234XYZ',
    });
    const p1 = await buildPush(t.database.db, {
      ticketId: tk.ticketId, checkoutRequestId: 'ws_CO_first', status: 'Completed', resultCode: '1032', resultDesc: 'Request cancelled by user',
      createdAt: at('2025-06-01T10:00:01.000Z'), answeredAt: at('2025-06-01T10:00:02.000Z'), completedAt: at('2025-06-01T10:00:20.000Z'),
    });
    await buildPush(t.database.db, {
      ticketId: tk.ticketId, checkoutRequestId: 'ws_CO_second', status: 'Completed', resultCode: '0',
      createdAt: at('2025-06-01T10:01:00.000Z'), answeredAt: at('2025-06-01T10:01:01.000Z'),
    });
    await buildPush(t.database.db, {
      ticketId: tk.ticketId, checkoutRequestId: null, status: 'Refused', errorCode: '500.001.1001', errorMessage: 'Unable to lock subscriber',
      createdAt: at('2025-06-01T10:00:30.000Z'), answeredAt: at('2025-06-01T10:00:31.000Z'),
    });
    await buildInbox(t.database.db, {
      ticketId: tk.ticketId, checkoutRequestId: 'ws_CO_first', outcome: 'applied', receivedAt: at('2025-06-01T10:00:20.000Z'),
      body: '{"Body":{"stkCallback":{"CheckoutRequestID":"ws_CO_first","ResultCode":1032}}}',
    });
    // A callback that named the second attempt's id before it was tied to the ticket: found through the CheckoutRequestID.
    await buildInbox(t.database.db, {
      ticketId: null, checkoutRequestId: 'ws_CO_second', outcome: 'duplicate', detail: 'already applied', receivedAt: at('2025-06-01T10:01:30.000Z'),
    });
    await buildInbox(t.database.db, {
      ticketId: tk.ticketId, source: 'query', sourceIp: null, checkoutRequestId: 'ws_CO_second', outcome: 'applied',
      receivedAt: at('2025-06-01T10:01:20.000Z'), body: '{"ResultCode":"0","ResultDesc":"processed"}',
    });
    await buildNotification(t.database.db, { ticketId: tk.ticketId, createdAt: at('2025-06-01T10:01:21.000Z'), recipient: 'wanjiru@example.com' });
    await t.database.db.insertInto('auditlog').values({
      at: at('2025-06-01T11:00:00.000Z'), actor: 'ops', action: 'refund.marked', ticketId: tk.ticketId, callbackId: null, detail: 'note',
    }).execute();
    // Someone else's rows stay out.
    const other = await buildTicket(t.database.db, { movieId: movie });
    await buildInbox(t.database.db, { ticketId: other.ticketId, outcome: 'applied', detail: 'NOT-MINE' });

    const res = await operator(t.app).get(`/admin/tickets/${tk.ticketId}`).expect(200);
    const kinds = [...res.text.matchAll(/data-kind="([a-z]+)"/g)].map((m) => m[1]);
    expect(kinds).toEqual(['booked', 'push', 'callback', 'push', 'push', 'query', 'notification', 'callback', 'audit']);
    const stamps = [...res.text.matchAll(/<p class="event-head"><time datetime="[^"]+">([^<]+)<\/time>/g)].map((m) => m[1]);
    expect(stamps).toEqual([...stamps].sort());
    expect(stamps[0]).toBe('2025-06-01 13:00:00');
    expect(res.text).toContain('ws_CO_first');
    expect(res.text).toContain('500.001.1001');
    expect(res.text).toContain('Request cancelled by user');
    expect(res.text).toContain('wanjiru@example.com');
    expect(res.text).toContain('refund.marked by ops');
    expect(res.text).toContain('already applied');
    expect(res.text).toContain('TLM1234XYZ');
    expect(res.text).toContain('254708374149');
    expect(res.text).not.toContain('NOT-MINE');
    // JSON bodies are pretty-printed (and escaped).
    expect(res.text).toContain('&#34;CheckoutRequestID&#34;: &#34;ws_CO_first&#34;');
    expect(p1).toBeGreaterThan(0);
  });

  it('when a ticket does not exist, then 404', async () => {
    await operator(t.app).get('/admin/tickets/99999999').expect(404);
    await operator(t.app).get('/admin/tickets/abc').expect(404);
  });

  it('when the list is opened without a filter, then it shows the newest tickets and links to the CSV and totals', async () => {
    const movie = await buildMovie(t.database.db);
    const tk = await buildTicket(t.database.db, { movieId: movie, createdAt: at('2099-01-01T00:00:00Z') });
    const res = await operator(t.app).get('/admin/tickets').expect(200);
    expect(listedTicketIds(res.text)[0]).toBe(tk.ticketId);
    expect(res.text).toContain('href="/admin/payments.csv"');
    expect(res.text).toContain('/js/admin.js');
    expect(res.text).not.toMatch(/<script>|style="|onclick=/);
    const anon = await request(t.app).get('/admin/tickets');
    expect(anon.status).toBe(401);
  });
});
