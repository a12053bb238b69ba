import { describe, expect, it } from 'vitest';
import type { Response } from 'playwright-core';
import { listMovies, movieByTitle } from './support/app-process.js';
import { setupE2E } from './support/e2e.js';
import { BOOKING_FORM, openMovie } from './support/flows.js';

const e2e = setupE2E();

describe('catalogue and movie page', () => {
  it('when a customer opens the home page, then every movie now showing is listed with a way to book it', async () => {
    const page = await e2e.newPage();
    await page.goto(`${e2e.app.baseUrl}/`);

    await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toMatch(/now showing/i);
    const movies = await listMovies(e2e.app);
    expect(movies.length).toBeGreaterThanOrEqual(5);
    for (const m of movies) {
      await expect(page.getByRole('link', { name: m.title, exact: true }).count()).resolves.toBeGreaterThan(0);
    }

    // The Book link of a movie takes the customer to its booking form.
    const dune = await movieByTitle(e2e.app, 'Dune: Part Two');
    await Promise.all([page.waitForURL(`**/movies/${dune.movieId}`), page.getByRole('link', { name: 'Dune: Part Two', exact: true }).click()]);
    await expect(page.locator(BOOKING_FORM).count()).resolves.toBe(1);
  });

  it('when the quantity changes, then the total follows it (quantity × price)', async () => {
    const page = await e2e.newPage();
    await openMovie(page, e2e.app, 'Oppenheimer'); // KES 15 a ticket
    const form = page.locator(BOOKING_FORM);
    const quantity = form.locator('[name="quantity"]');
    const total = page.locator('#total');

    await expect(total.innerText()).resolves.toMatch(/KES\s*15\b/);
    await quantity.fill('3');
    await expect.poll(() => total.innerText()).toMatch(/KES\s*45\b/);
    // Typed the way people do, with the keyboard's arrows.
    await quantity.focus();
    await page.keyboard.press('ArrowUp');
    await expect.poll(() => total.innerText()).toMatch(/KES\s*60\b/);
    await quantity.fill('10');
    await expect.poll(() => total.innerText()).toMatch(/KES\s*150\b/);
  });

  it('when the booking page loads on a cold cache, then it transfers at most 50 KB in all, all from the app', async () => {
    const context = await e2e.newContext();
    const page = await context.newPage();
    const responses: Response[] = [];
    page.on('response', (r) => responses.push(r));
    await openMovie(page, e2e.app, 'Nairobi Half Life');
    await page.waitForLoadState('networkidle');

    let total = 0;
    const lines: string[] = [];
    for (const r of responses) {
      const sizes = await r.request().sizes();
      const bytes = sizes.responseBodySize + sizes.responseHeadersSize;
      total += bytes;
      lines.push(`${bytes} ${r.url()}`);
    }
    expect(responses.length).toBeGreaterThan(1); // the page, its stylesheet, its script…
    expect(total, `transferred:\n${lines.join('\n')}`).toBeLessThanOrEqual(50 * 1024);
  });

  it('when a customer uses only the keyboard, then a skip link leads to the content and the Book link opens the form', async () => {
    const page = await e2e.newPage();
    await page.goto(`${e2e.app.baseUrl}/`);
    await page.keyboard.press('Tab');
    const first = await page.evaluate(() => ({
      text: document.activeElement?.textContent?.trim(),
      href: document.activeElement?.getAttribute('href'),
    }));
    expect(first.href).toBe('#main');
    expect(first.text).toMatch(/skip/i);

    // Tab on to the first Book link and press Enter.
    let onBook = false;
    for (let i = 0; i < 25 && !onBook; i++) {
      await page.keyboard.press('Tab');
      onBook = await page.evaluate(() => /^Book\b/.test(document.activeElement?.textContent?.trim() ?? ''));
    }
    expect(onBook, 'a Book link is reachable with Tab').toBe(true);
    const focusStyle = await page.evaluate(() => {
      const s = getComputedStyle(document.activeElement as Element);
      return { outline: s.outlineStyle, width: s.outlineWidth, shadow: s.boxShadow };
    });
    expect(focusStyle.outline !== 'none' || focusStyle.shadow !== 'none', 'the focused link shows where focus is').toBe(true);
    await Promise.all([page.waitForURL('**/movies/*'), page.keyboard.press('Enter')]);
    await expect(page.locator(BOOKING_FORM).count()).resolves.toBe(1);
  });

  it('when a movie does not exist, then a readable 404 page says so', async () => {
    const page = await e2e.newPage();
    const res = await page.goto(`${e2e.app.baseUrl}/movies/999999`);
    expect(res?.status()).toBe(404);
    await expect(page.locator('main').innerText()).resolves.not.toBe('');
    await expect(page.getByRole('link', { name: /movies/i }).count()).resolves.toBeGreaterThan(0);
  });
});
