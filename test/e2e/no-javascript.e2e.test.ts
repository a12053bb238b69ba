import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { ticketStatus, waitForFinalStatus } from './support/app-process.js';
import { setupE2E } from './support/e2e.js';
import { answerOnPhone, book, uniquePhone } from './support/flows.js';

const e2e = setupE2E({ SIMULATOR_MODE: 'manual' });

/** Waits, without touching the page, until it shows `text`: only its own meta refresh can bring it. */
async function waitForRefreshTo(page: Page, text: RegExp | string, timeout = 30_000): Promise<void> {
  const pattern = typeof text === 'string' ? new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : text;
  await expect
    .poll(async () => page.locator('main').innerText().catch(() => ''), { timeout, interval: 250 })
    .toMatch(pattern);
}

describe('with JavaScript turned off', () => {
  it('when a customer books and pays, then the form posts and the ticket page refreshes itself to Paid', async () => {
    const context = await e2e.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    const phone = uniquePhone();

    const ticketUrl = await book(page, e2e.app, 'Oppenheimer', { name: 'No Script Nafula', phone: phone.typed, quantity: 2 });
    await expect(page.locator('main').innerText()).resolves.toMatch(/check your phone/i);
    // The page asks the browser to come back: <meta http-equiv="refresh"> (inside <noscript>, so it only acts here).
    await expect(page.locator('meta[http-equiv="refresh" i]').count()).resolves.toBeGreaterThan(0);

    // The simulator's phone works without JavaScript too: a plain form post and a redirect.
    const phonePage = await context.newPage();
    await phonePage.goto(`${e2e.app.baseUrl}/simulator/phone`);
    await answerOnPhone(phonePage, phone.msisdn, { pin: '1234' });

    const paid = await waitForFinalStatus(ticketUrl);
    expect(paid).toMatchObject({ status: 'Paid', quantity: 2, totalAmount: 30 });
    await waitForRefreshTo(page, paid.mpesaReceiptNumber!);
    await expect(page.locator('meta[http-equiv="refresh" i]').count(), 'a Paid ticket stops refreshing').resolves.toBe(0);
  });

  it('when the payment fails, then the reason shows and "Try again" is a form that posts and comes back', async () => {
    const page = await e2e.newPage({ javaScriptEnabled: false });
    // 254700000001: the simulator cancels by itself (ResultCode 1032).
    const ticketUrl = await book(page, e2e.app, 'The Lion King', { name: 'No Script Cancel', phone: '0700 000 001', quantity: 1 });
    const failed = await waitForFinalStatus(ticketUrl);
    expect(failed.status).toBe('Failed');
    await waitForRefreshTo(page, failed.failureReason!);

    const retry = page.getByRole('button', { name: /try again/i });
    await expect(retry.evaluate((b) => (b as HTMLButtonElement).form?.method)).resolves.toBe('post');
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), retry.click()]); // POST, then 303 back
    expect(page.url()).toBe(ticketUrl);
    // The retry sent a new push: Pending again, or already Failed again for this test number.
    expect(['Pending', 'Failed']).toContain((await ticketStatus(ticketUrl)).status);
    await expect(page.locator('main').innerText()).resolves.toMatch(/check your phone|cancel/i);
  });
});
