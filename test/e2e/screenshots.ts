// Regenerates docs/screenshots/*.png: every page at 360 px and 1280 px wide, from a fresh app with demo data.
//   node --import tsx test/e2e/screenshots.ts [page-name …]
// Needs /usr/bin/chromium (apt-get install -y chromium). Pages that cannot be produced yet are reported, not faked.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { ADMIN_PASSWORD, ADMIN_USER, REPO_ROOT, createMovie, startApp, waitForFinalStatus, type AppProcess } from './support/app-process.js';
import { DESKTOP, MOBILE, launchBrowser } from './support/browser.js';
import { book, openMovie, uniquePhone } from './support/flows.js';

const OUT = join(REPO_ROOT, 'docs', 'screenshots');

const DOOR_USER = 'door-1';
const DOOR_PASSWORD = 'door-screenshots-0123456789';

interface Shot {
  name: string;
  admin?: boolean;
  door?: boolean;
  /** Brings the page to the state to photograph; returns the URL to open at the other width. */
  open(page: Page, app: AppProcess): Promise<string>;
}

const pendingPhone = uniquePhone();

const SHOTS: Shot[] = [
  { name: 'home', open: async (page, app) => (await page.goto(`${app.baseUrl}/`), page.url()) },
  { name: 'movie-booking-form', open: async (page, app) => (await openMovie(page, app, 'Oppenheimer'), page.url()) },
  {
    name: 'ticket-pending',
    open: (page, app) => book(page, app, 'Oppenheimer', { name: 'Wanjiku Kamau', phone: pendingPhone.typed, quantity: 3 }),
  },
  {
    name: 'simulator-phone',
    open: async (page, app) => {
      await page.goto(`${app.baseUrl}/simulator/phone`);
      await page.locator('li.prompt', { hasText: pendingPhone.msisdn }).waitFor({ timeout: 10_000 });
      return page.url();
    },
  },
  {
    name: 'ticket-paid',
    open: async (page, app) => {
      const url = await book(page, app, 'The Lion King', { name: 'Otieno Ouma', phone: '0708 374 149', quantity: 2 });
      await waitForFinalStatus(url);
      await page.reload();
      return url;
    },
  },
  {
    name: 'ticket-failed',
    open: async (page, app) => {
      const url = await book(page, app, 'Black Panther', { name: 'Achieng Njeri', phone: '0700 000 001', quantity: 1 });
      await waitForFinalStatus(url);
      await page.reload();
      return url;
    },
  },
  {
    name: 'simulator-messages',
    open: async (page, app) => {
      await page.goto(`${app.baseUrl}/simulator/phone`);
      for (let i = 0; i < 20 && !(await page.locator('section.inbox', { hasText: '+254708374149' }).count()); i++) {
        await page.waitForTimeout(500);
        await page.reload();
      }
      await page.locator('section.inbox', { hasText: '+254708374149' }).scrollIntoViewIfNeeded();
      return page.url();
    },
  },
  { name: 'ticket-find', open: async (page, app) => (await page.goto(`${app.baseUrl}/tickets/find`), page.url()) },
  {
    name: 'door',
    door: true,
    open: async (page, app) => {
      const movieId = await createMovie(app, { title: 'Sura Mbili', price: 300, maximumTickets: 80, showTime: new Date(Date.now() + 2 * 3600_000).toISOString() });
      const customer = await page.context().browser()!.newContext();
      const url = await book(await customer.newPage(), app, 'Sura Mbili', { name: 'Akinyi Otieno', phone: '0708 374 149', quantity: 2 });
      await waitForFinalStatus(url);
      const code = (await (await fetch(`${url}/status`)).json() as { ticketCode: string }).ticketCode;
      await customer.close();
      await page.goto(`${app.baseUrl}/door?movieId=${movieId}`);
      await page.getByLabel('Or type the ticket code').fill(code);
      await page.getByRole('button', { name: 'Look up' }).click();
      await page.getByRole('button', { name: 'Admit' }).waitFor();
      return page.url();
    },
  },
  { name: 'admin-home', admin: true, open: async (page, app) => (await page.goto(`${app.baseUrl}/admin`), page.url()) },
];

async function photograph(browser: Browser, app: AppProcess, shot: Shot): Promise<void> {
  const context = await browser.newContext({
    viewport: MOBILE,
    deviceScaleFactor: 1,
    locale: 'en-KE',
    timezoneId: 'Africa/Nairobi',
    httpCredentials: shot.admin ? { username: ADMIN_USER, password: ADMIN_PASSWORD }
      : shot.door ? { username: DOOR_USER, password: DOOR_PASSWORD } : undefined,
  });
  try {
    const page = await context.newPage();
    const url = await shot.open(page, app);
    for (const viewport of [MOBILE, DESKTOP]) {
      await page.setViewportSize(viewport);
      if (page.url() !== url) await page.goto(url);
      await page.waitForLoadState('networkidle');
      // No blinking caret or half-finished transition in the picture.
      await page.screenshot({ path: join(OUT, `${shot.name}-${viewport.width}.png`), fullPage: true, animations: 'disabled', caret: 'hide' });
    }
  } finally {
    await context.close();
  }
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  mkdirSync(OUT, { recursive: true });
  const [app, browser] = await Promise.all([startApp({ SIMULATOR_MODE: 'manual', DOOR_USER, DOOR_PASSWORD }), launchBrowser()]);
  const failed: string[] = [];
  try {
    for (const shot of SHOTS) {
      // The phone needs the Pending ticket's prompt: keep that pair together when a subset is asked for.
      if (only.length && !only.includes(shot.name) && !(shot.name === 'ticket-pending' && only.includes('simulator-phone'))) continue;
      try {
        await photograph(browser, app, shot);
        console.log(`✓ ${shot.name}`);
      } catch (err) {
        failed.push(shot.name);
        console.error(`✗ ${shot.name}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
      }
    }
  } finally {
    await browser.close();
    await app.stop();
  }
  if (failed.length) {
    console.error(`Not produced: ${failed.join(', ')}`);
    process.exitCode = 1;
  }
}

await main();
