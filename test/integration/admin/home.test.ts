import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../support/app.js';
import { dialects } from '../../support/db.js';
import { buildInbox, buildMovie, buildTicket } from '../../support/builders.js';
import { ADMIN_ENV, at, operator } from './helpers.js';

// Noon in Nairobi on 15 June 2030: that day runs from 2030-06-14T21:00Z to 2030-06-15T21:00Z.
const NOW = new Date('2030-06-15T09:00:00Z');

describe.each(dialects)('admin dashboard on %s', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect, ADMIN_ENV, { now: () => NOW });
  });
  afterAll(async () => {
    await t?.close();
  });

  it("when today's bookings are counted, then only bookings since midnight Nairobi count: seats sold, revenue, pending, failed by reason", async () => {
    const movie = await buildMovie(t.database.db, { title: 'Today Show', showTime: new Date('2030-06-16T17:00:00Z'), price: 50 });
    const today = (iso: string) => at(iso);
    await buildTicket(t.database.db, { movieId: movie, paymentStatus: 'Paid', quantity: 2, totalAmount: 100, createdAt: today('2030-06-14T21:00:00.000Z') });
    await buildTicket(t.database.db, { movieId: movie, paymentStatus: 'Paid', quantity: 3, totalAmount: 150, createdAt: today('2030-06-15T08:59:00.000Z') });
    // Paid late for a full show: money owed back, not revenue.
    await buildTicket(t.database.db, { movieId: movie, paymentStatus: 'Paid', quantity: 1, totalAmount: 50, holdsTickets: 0, needsRefund: 1, createdAt: today('2030-06-15T01:00:00.000Z') });
    await buildTicket(t.database.db, { movieId: movie, paymentStatus: 'Pending', quantity: 1, totalAmount: 50, createdAt: today('2030-06-15T08:58:00.000Z') });
    for (const reason of ['You cancelled the payment on your phone', 'You cancelled the payment on your phone', 'Your M-Pesa balance was not enough']) {
      await buildTicket(t.database.db, { movieId: movie, paymentStatus: 'Failed', failureReason: reason, createdAt: today('2030-06-15T05:00:00.000Z') });
    }
    // Yesterday 23:59:59 Nairobi: not today.
    await buildTicket(t.database.db, { movieId: movie, paymentStatus: 'Paid', quantity: 9, totalAmount: 450, createdAt: at('2030-06-14T20:59:59.999Z') });
    await buildTicket(t.database.db, { movieId: movie, paymentStatus: 'Failed', failureReason: 'Yesterday reason', createdAt: at('2030-06-14T20:00:00.000Z') });
    await buildInbox(t.database.db, { outcome: 'unmatched' });

    const res = await operator(t.app).get('/admin').expect(200);
    expect(res.text).toContain('Sat, 15 Jun 2030');
    expect(res.text).toMatch(/id="stat-seats">5</);
    expect(res.text).toMatch(/id="stat-revenue">KES 250</);
    expect(res.text).toMatch(/id="stat-paid">3</);
    expect(res.text).toMatch(/id="stat-pending">1</);
    expect(res.text).toMatch(/id="stat-failed">3</);
    const reasons = /<table id="failed-reasons">.*?<\/table>/s.exec(res.text)?.[0] ?? '';
    const rows = [...reasons.matchAll(/<tr><th scope="row">([^<]+)<\/th><td class="num">(\d+)<\/td><\/tr>/g)].map((m) => [m[1], Number(m[2])]);
    expect(rows).toEqual([['You cancelled the payment on your phone', 2], ['Your M-Pesa balance was not enough', 1]]);
    expect(res.text).not.toContain('Yesterday reason');
    expect(res.text).toContain('1 unmatched callback</a>');
    expect(res.text).toContain('1 refund due</a> (KES 50)');
  });

  it('when shows have sales, then revenue per show is drawn as an accessible SVG bar chart with a table of the same figures', async () => {
    const big = await buildMovie(t.database.db, { title: 'Big <Hit>', showTime: new Date('2030-06-17T17:00:00Z'), price: 100 });
    const small = await buildMovie(t.database.db, { title: 'Small Film', showTime: new Date('2030-06-17T18:00:00Z'), price: 10 });
    const old = await buildMovie(t.database.db, { title: 'Long Gone', showTime: new Date('2030-05-01T17:00:00Z') });
    await buildTicket(t.database.db, { movieId: big, paymentStatus: 'Paid', quantity: 4, totalAmount: 400, createdAt: at('2030-06-10T10:00:00Z') });
    await buildTicket(t.database.db, { movieId: big, paymentStatus: 'Paid', quantity: 2, totalAmount: 200 });
    await buildTicket(t.database.db, { movieId: big, paymentStatus: 'Failed', quantity: 5, totalAmount: 500 });
    await buildTicket(t.database.db, { movieId: small, paymentStatus: 'Paid', quantity: 3, totalAmount: 30 });
    await buildTicket(t.database.db, { movieId: old, paymentStatus: 'Paid', quantity: 1, totalAmount: 20 });

    const res = await operator(t.app).get('/admin').expect(200);
    const svg = /<svg id="revenue-chart".*?<\/svg>/s.exec(res.text)?.[0] ?? '';
    expect(svg).toMatch(/role="img" aria-labelledby="revenue-chart-title revenue-chart-desc"/);
    expect(svg).toContain('<title id="revenue-chart-title">Revenue per show</title>');
    expect(svg).toContain('Big &lt;Hit&gt; · Mon, 17 Jun 2030, 20:00');
    expect(svg).toContain('>KES 600</text>');
    expect(svg).toContain('>KES 30</text>');
    expect(svg).toContain('Big &lt;Hit&gt;, Mon, 17 Jun 2030, 20:00: KES 600 from 6 seats');
    expect(svg).not.toContain('Long Gone');
    // Bar lengths are proportional to revenue (other tests' shows share the chart, so compare the two).
    const bigWidth = Number(/Big &lt;Hit&gt;.*?<rect x="0" y="\d+" width="(\d+)"/s.exec(svg)?.[1]);
    const smallWidth = Number(/Small Film.*?<rect x="0" y="\d+" width="(\d+)"/s.exec(svg)?.[1]);
    expect(bigWidth).toBeGreaterThan(100);
    expect(Math.abs(smallWidth - (30 / 600) * bigWidth)).toBeLessThanOrEqual(1.5);
    const table = /<table id="revenue-table">.*?<\/table>/s.exec(res.text)?.[0] ?? '';
    expect(table).toMatch(/<th scope="col">Show<\/th>/);
    expect(table).toMatch(new RegExp(`<a href="/admin/tickets\\?movie=${big}">Big &lt;Hit&gt;</a></th>\\s*<td><time[^>]*>[^<]+</time></td>\\s*<td class="num">6</td>\\s*<td class="num">KES 600</td>`));
    expect(res.text).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  });
});
