import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { ADMIN_PASSWORD, ADMIN_USER, waitForFinalStatus, type AppProcess } from './support/app-process.js';
import { formatAxe, seriousAxeViolations } from './support/axe.js';
import { DESKTOP, MOBILE, distortedImages, horizontalOverflow } from './support/browser.js';
import { setupE2E } from './support/e2e.js';
import { book, fillBookingForm, openMovie, submitBooking, uniquePhone } from './support/flows.js';

const e2e = setupE2E();

/**
 * Every page a customer or operator sees: at 360 px nothing scrolls sideways, no image is stretched and axe-core
 * finds no serious or critical problem; at 1280 px nothing scrolls sideways or stretches either.
 */
async function expectMobileFirstAndAccessible(page: Page): Promise<void> {
  await page.setViewportSize(MOBILE);
  const narrow = await horizontalOverflow(page);
  expect(narrow.scrollWidth, `${page.url()} scrolls sideways at 360 px: ${narrow.culprits.join(', ')}`).toBeLessThanOrEqual(MOBILE.width);
  expect(await distortedImages(page), `${page.url()} at 360 px`).toEqual([]);
  const problems = await seriousAxeViolations(page);
  expect(problems, `${page.url()}\n${formatAxe(problems)}`).toEqual([]);
  await page.setViewportSize(DESKTOP);
  const wide = await horizontalOverflow(page);
  expect(wide.scrollWidth, `${page.url()} scrolls sideways at 1280 px: ${wide.culprits.join(', ')}`).toBeLessThanOrEqual(DESKTOP.width);
  expect(await distortedImages(page), `${page.url()} at 1280 px`).toEqual([]);
}

const pages: Array<[string, (page: Page, app: AppProcess) => Promise<void>]> = [
  ['home', async (page, app) => void (await page.goto(`${app.baseUrl}/`))],
  ['movie page with its booking form', async (page, app) => void (await openMovie(page, app, 'Oppenheimer'))],
  ['404 page', async (page, app) => void (await page.goto(`${app.baseUrl}/movies/999999`))],
  ['simulator phone, nothing waiting', async (page, app) => void (await page.goto(`${app.baseUrl}/simulator/phone`))],
  [
    'booking form showing errors (422)',
    async (page, app) => {
      await openMovie(page, app, 'The Lion King');
      await fillBookingForm(page, { name: '', phone: '12345', quantity: 0 });
      await submitBooking(page);
    },
  ],
  [
    'ticket page, Pending',
    async (page, app) => {
      await book(page, app, 'Black Panther', { name: 'Wanjiru Pending', phone: uniquePhone().typed, quantity: 2 });
    },
  ],
  [
    'simulator phone with a prompt waiting',
    async (page, app) => {
      const phone = uniquePhone();
      await book(page, app, 'Black Panther', { name: 'Otieno Prompt', phone: phone.typed, quantity: 1 });
      await page.goto(`${app.baseUrl}/simulator/phone`);
      await page.locator('li.prompt', { hasText: phone.msisdn }).waitFor();
    },
  ],
  [
    'ticket page, Paid',
    async (page, app) => {
      const url = await book(page, app, 'The Lion King', { name: 'Achieng Paid', phone: '0708 374 149', quantity: 2 });
      const status = await waitForFinalStatus(url);
      expect(status.status).toBe('Paid');
      await page.reload();
    },
  ],
  [
    'ticket page, Failed',
    async (page, app) => {
      const url = await book(page, app, 'The Lion King', { name: 'Kamau Failed', phone: '0700 000 001', quantity: 1 });
      const status = await waitForFinalStatus(url);
      expect(status.status).toBe('Failed');
      await page.reload();
    },
  ],
];

describe('every page, at 360 px and 1280 px, with axe-core', () => {
  for (const [name, open] of pages) {
    it(`when a customer opens the ${name}, then it fits 360 px and has no serious accessibility problem`, async () => {
      const page = await e2e.newPage();
      await open(page, e2e.app);
      await expectMobileFirstAndAccessible(page);
    });
  }

  it('when an operator opens /admin, then it fits 360 px and has no serious accessibility problem', async () => {
    // A paid ticket first, so the admin tables have a row to show.
    const customer = await e2e.newPage();
    const url = await book(customer, e2e.app, 'Oppenheimer', { name: 'Admin Row', phone: '0708374149', quantity: 1 }).catch(
      () => undefined,
    );
    if (url) await waitForFinalStatus(url);
    const page = await e2e.newPage({ httpCredentials: { username: ADMIN_USER, password: ADMIN_PASSWORD } });
    const res = await page.goto(`${e2e.app.baseUrl}/admin`);
    expect(res?.status()).toBe(200);
    await expectMobileFirstAndAccessible(page);
  });
});
