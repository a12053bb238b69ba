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

  // Sales to show on the operator pages: one paid, one failed (booked once per file, in the browser).
  let sales: Promise<void> | undefined;
  const ensureSales = () =>
    (sales ??= (async () => {
      const customer = await e2e.browser.newPage();
      try {
        const paid = await book(customer, e2e.app, 'Oppenheimer', { name: 'Admin Paid', phone: '0708374149', quantity: 1 });
        const failed = await book(customer, e2e.app, 'Oppenheimer', { name: 'Admin Failed', phone: '0700000002', quantity: 1 });
        await Promise.all([waitForFinalStatus(paid), waitForFinalStatus(failed)]);
      } finally {
        await customer.close();
      }
    })());

  /** Opens a list page and follows its first link whose address matches `href`. */
  const firstLinkOn = (list: string, href: RegExp) => async (page: Page, app: AppProcess) => {
    await page.goto(`${app.baseUrl}${list}`);
    const links = await page.locator('main a[href]').evaluateAll((as) => as.map((a) => a.getAttribute('href') ?? ''));
    const target = links.find((h) => href.test(h));
    expect(target, `a link matching ${href} on ${list}`).toBeDefined();
    await page.goto(new URL(target!, app.baseUrl).toString());
  };

  const adminPages: Array<[string, (page: Page, app: AppProcess) => Promise<void>]> = [
    ['/admin', async (page, app) => void (await page.goto(`${app.baseUrl}/admin`))],
    ['/admin/tickets', async (page, app) => void (await page.goto(`${app.baseUrl}/admin/tickets`))],
    ['/admin/tickets/:ticketId', firstLinkOn('/admin/tickets', /^\/admin\/tickets\/\d+$/)],
    ['/admin/tickets/totals', async (page, app) => void (await page.goto(`${app.baseUrl}/admin/tickets/totals`))],
    ['/admin/callbacks', async (page, app) => void (await page.goto(`${app.baseUrl}/admin/callbacks`))],
    ['/admin/callbacks/:callbackId', firstLinkOn('/admin/callbacks', /^\/admin\/callbacks\/\d+$/)],
    ['/admin/refunds', async (page, app) => void (await page.goto(`${app.baseUrl}/admin/refunds`))],
    ['/admin/movies', async (page, app) => void (await page.goto(`${app.baseUrl}/admin/movies`))],
    ['/admin/movies/new', async (page, app) => void (await page.goto(`${app.baseUrl}/admin/movies/new`))],
    ['/admin/movies/:movieId/edit', firstLinkOn('/admin/movies', /^\/admin\/movies\/\d+\/edit$/)],
    ['/admin/movies/:movieId/cancel', async (page, app) => {
      await firstLinkOn('/admin/movies', /^\/admin\/movies\/\d+\/edit$/)(page, app);
      await page.goto(new URL((await page.locator('#cancel-show-link').getAttribute('href'))!, app.baseUrl).toString());
    }],
  ];

  for (const [name, open] of adminPages) {
    it(`when an operator opens ${name}, then it fits 360 px and has no serious accessibility problem`, async () => {
      await ensureSales();
      const page = await e2e.newPage({ httpCredentials: { username: ADMIN_USER, password: ADMIN_PASSWORD } });
      let status = 0;
      page.on('response', (r) => {
        if (r.request().isNavigationRequest() && r.request().frame() === page.mainFrame()) status = r.status();
      });
      await open(page, e2e.app);
      expect(status, page.url()).toBe(200);
      await expectMobileFirstAndAccessible(page);
    });
  }
});
