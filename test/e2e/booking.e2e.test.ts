import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { movieByTitle, ticketStatus, waitForFinalStatus } from './support/app-process.js';
import { setupE2E } from './support/e2e.js';
import { BOOKING_FORM, answerOnPhone, book, countNavigations, fillBookingForm, promptFor, submitBooking, uniquePhone } from './support/flows.js';

const e2e = setupE2E({ SIMULATOR_MODE: 'manual' });

/** Waits until the ticket page's own text shows `text` (it updates itself; nobody reloads it). */
async function waitForText(page: Page, text: string | RegExp, timeout = 20_000): Promise<void> {
  await expect
    .poll(async () => page.locator('main').innerText(), { timeout, interval: 250 })
    .toMatch(typeof text === 'string' ? new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : text);
}

describe('booking and paying in the browser', () => {
  it('when the customer pays on the phone in another tab, then the ticket page turns Paid without a reload', async () => {
    const context = await e2e.newContext();
    const page = await context.newPage();
    const phone = uniquePhone();

    // Browse from the home page to the movie, as a customer does.
    await page.goto(`${e2e.app.baseUrl}/`);
    await Promise.all([page.waitForURL('**/movies/*'), page.getByRole('link', { name: 'Oppenheimer', exact: true }).click()]);
    await fillBookingForm(page, { name: 'Njeri Paid', phone: phone.typed, quantity: 3 });
    await submitBooking(page);
    expect(page.url()).toMatch(/\/tickets\/[A-Za-z0-9_-]{16,}$/);
    await waitForText(page, /check your phone/i);
    const ticketUrl = page.url();
    const navigations = countNavigations(page);

    const phonePage = await context.newPage();
    await phonePage.goto(`${e2e.app.baseUrl}/simulator/phone`);
    await expect(promptFor(phonePage, phone.msisdn).innerText()).resolves.toMatch(/KES 45\b/);
    await answerOnPhone(phonePage, phone.msisdn, { pin: '1234' });

    await page.bringToFront();
    const status = await waitForFinalStatus(ticketUrl);
    expect(status).toMatchObject({ status: 'Paid', quantity: 3, totalAmount: 45 });
    expect(status.mpesaReceiptNumber).toMatch(/^[A-Z0-9]{10}$/);
    await waitForText(page, status.mpesaReceiptNumber!);
    await waitForText(page, /paid/i);
    expect(navigations(), 'the ticket page updated itself, without a reload').toBe(0);
  });

  it('when the customer cancels on the phone, then the page shows why and "Try again" leads to a paid ticket', async () => {
    const context = await e2e.newContext();
    const page = await context.newPage();
    const phone = uniquePhone();
    const ticketUrl = await book(page, e2e.app, 'Nairobi Half Life', { name: 'Mutua Retry', phone: phone.typed, quantity: 2 });
    const navigations = countNavigations(page);

    const phonePage = await context.newPage();
    await phonePage.goto(`${e2e.app.baseUrl}/simulator/phone`);
    await answerOnPhone(phonePage, phone.msisdn, 'cancel');

    await page.bringToFront();
    const failed = await waitForFinalStatus(ticketUrl);
    expect(failed.status).toBe('Failed');
    expect(failed.failureReason).toBeTruthy();
    await waitForText(page, failed.failureReason!);
    expect(navigations(), 'the Failed state arrived without a reload').toBe(0);

    const retry = page.getByRole('button', { name: /try again/i });
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), retry.click()]); // POST, then 303 back
    expect(page.url()).toBe(ticketUrl);
    expect((await ticketStatus(ticketUrl)).status).toBe('Pending');
    await waitForText(page, /check your phone/i);

    await phonePage.bringToFront();
    await answerOnPhone(phonePage, phone.msisdn, { pin: '1234' });
    await page.bringToFront();
    const paid = await waitForFinalStatus(ticketUrl);
    expect(paid).toMatchObject({ status: 'Paid', quantity: 2, totalAmount: 24 });
    await waitForText(page, paid.mpesaReceiptNumber!);
  });

  it('when the customer books with the keyboard alone, then Tab, typing and Enter complete the form', async () => {
    const page = await e2e.newPage();
    const phone = uniquePhone();
    const movie = await movieByTitle(e2e.app, 'Black Panther'); // KES 20
    await page.goto(`${e2e.app.baseUrl}/movies/${movie.movieId}`);

    const unseen: string[] = [];
    const tabTo = async (name: string) => {
      for (let i = 0; i < 30; i++) {
        await page.keyboard.press('Tab');
        const focused = await page.evaluate(() => {
          const el = document.activeElement as HTMLElement | null;
          if (!el) return { name: '', visible: false, label: '' };
          const s = getComputedStyle(el);
          return {
            name: el.getAttribute('name') ?? '',
            visible: s.outlineStyle !== 'none' || s.boxShadow !== 'none',
            label: `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''} ${el.textContent?.trim().slice(0, 30) ?? ''}`,
          };
        });
        if (!focused.visible) unseen.push(focused.label);
        if (focused.name === name) return;
      }
      throw new Error(`Tab never reached the ${name} field`);
    };

    await tabTo('customerName');
    await page.keyboard.type('Keyboard Kiprono');
    await tabTo('phoneNumber');
    await page.keyboard.type(phone.typed);
    await tabTo('quantity');
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.type('2');
    await expect.poll(() => page.locator(BOOKING_FORM).innerText()).toMatch(/KES\s*40\b/);
    await Promise.all([page.waitForURL('**/tickets/*'), page.keyboard.press('Enter')]);

    expect(unseen, 'every element reached by Tab shows a focus indicator').toEqual([]);
    expect(await ticketStatus(page.url())).toMatchObject({ status: 'Pending', quantity: 2, totalAmount: 40 });
  });

  it('when the total shown in the page is tampered with, then the server still charges quantity × price', async () => {
    const context = await e2e.newContext();
    const page = await context.newPage();
    const phone = uniquePhone();
    const movie = await movieByTitle(e2e.app, 'The Lion King'); // KES 10
    await page.goto(`${e2e.app.baseUrl}/movies/${movie.movieId}`);
    await fillBookingForm(page, { name: 'Tamper Tabitha', phone: phone.typed, quantity: 4 });
    await page.evaluate((selector) => {
      const form = document.querySelector(selector) as HTMLFormElement;
      for (const name of ['totalAmount', 'amount', 'price', 'total']) {
        const input = document.createElement('input');
        input.type = 'hidden';
        input.name = name;
        input.value = '1';
        form.append(input);
      }
      const total = document.getElementById('total');
      if (total) total.textContent = 'KES 1';
    }, BOOKING_FORM);
    await submitBooking(page);
    expect(await ticketStatus(page.url())).toMatchObject({ quantity: 4, totalAmount: 40 });

    const phonePage = await context.newPage();
    await phonePage.goto(`${e2e.app.baseUrl}/simulator/phone`);
    await expect(promptFor(phonePage, phone.msisdn).innerText()).resolves.toMatch(/KES 40\b/);
  });
});
