import { describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, ADMIN_USER, createMovie, waitForFinalStatus } from './support/app-process.js';
import { setupE2E } from './support/e2e.js';
import { answerOnPhone, countNavigations, fillBookingForm, submitBooking, uniquePhone } from './support/flows.js';

// A refund owed for real: a payment that arrives after its ticket expired and its only seat was sold to someone
// else (a late payment, flagged for refund). The operator refunds it from the refunds page with one click and watches
// it turn Refunded without a reload, while the simulator's phone shows the money coming back.
const e2e = setupE2E({ PAYMENT_TIMEOUT_SECONDS: '1', RECONCILE_INTERVAL_SECONDS: '1', SIMULATOR_DELAY_MS: '200' });

describe('refunding from the refunds page', () => {
  it('when an operator presses Refund for an owed refund, then the row says Refunded without a reload and the phone shows KES 50 reversed', async () => {
    const movieId = await createMovie(e2e.app, { title: `Refund show ${Date.now()}`, price: 50, maximumTickets: 1 });
    const customer = await e2e.newPage();
    const phonePage = await e2e.newPage();
    await phonePage.goto(`${e2e.app.baseUrl}/simulator/phone`);

    // A books the only seat but does not answer; after 10 × PAYMENT_TIMEOUT_SECONDS the ticket fails and the seat goes.
    const late = uniquePhone();
    await customer.goto(`${e2e.app.baseUrl}/movies/${movieId}`);
    await fillBookingForm(customer, { name: 'Late Payer', phone: late.typed, quantity: 1 });
    await submitBooking(customer);
    const lateTicket = customer.url();
    expect((await waitForFinalStatus(lateTicket, 40_000)).status).toBe('Failed');

    // B buys the seat.
    const other = uniquePhone();
    const second = await e2e.newPage();
    await second.goto(`${e2e.app.baseUrl}/movies/${movieId}`);
    await fillBookingForm(second, { name: 'On Time', phone: other.typed, quantity: 1 });
    await submitBooking(second);
    await answerOnPhone(phonePage, other.msisdn, { pin: '1234' });
    expect((await waitForFinalStatus(second.url())).status).toBe('Paid');

    // A pays after all: the money is kept (Paid) and a refund is owed.
    await answerOnPhone(phonePage, late.msisdn, { pin: '1234' });
    await expect.poll(async () => (await (await fetch(`${lateTicket}/status`)).json()).status, { timeout: 15_000 }).toBe('Paid');

    const admin = await e2e.newPage({ httpCredentials: { username: ADMIN_USER, password: ADMIN_PASSWORD } });
    await admin.goto(`${e2e.app.baseUrl}/admin/refunds`);
    const row = admin.locator('#refunds-table tbody tr', { hasText: 'Late Payer' });
    await row.waitFor({ state: 'visible' });
    const navigations = countNavigations(admin);
    await row.getByRole('button', { name: /^Refund KES 50/ }).click();
    await expect.poll(async () => row.locator('[data-refund-status]').innerText(), { timeout: 20_000 }).toBe('Refunded');
    expect(navigations()).toBe(0);

    const status = await (await fetch(`${lateTicket}/status`)).json();
    expect(status).toMatchObject({ status: 'Paid', refundStatus: 'refunded', refundedAt: expect.stringMatching(/\+03:00$/) });
    await phonePage.goto(`${e2e.app.baseUrl}/simulator/phone`);
    await expect.poll(async () => phonePage.locator('#reversals').innerText()).toMatch(new RegExp(`KES 50 reversed to ${late.msisdn}`));
  });
});
