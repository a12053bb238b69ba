import { describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, ADMIN_USER, waitForFinalStatus } from './support/app-process.js';
import { setupE2E } from './support/e2e.js';
import { book } from './support/flows.js';

const e2e = setupE2E();

describe('the operator pages', () => {
  it('when nobody signs in, then /admin asks for a password', async () => {
    // Headless Chromium cancels the password dialog (net::ERR_INVALID_AUTH_CREDENTIALS), so ask over plain HTTP.
    const res = await fetch(`${e2e.app.baseUrl}/admin`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic /);
  });

  it('when an operator opens /admin after sales, then it draws the revenue chart (svg) and the tables', async () => {
    // Sales to show: one paid, one failed.
    const customer = await e2e.newPage();
    const paid = await book(customer, e2e.app, 'Oppenheimer', { name: 'Admin Paid', phone: '0708374149', quantity: 2 });
    const failed = await book(customer, e2e.app, 'Black Panther', { name: 'Admin Failed', phone: '0700000002', quantity: 1 });
    expect((await waitForFinalStatus(paid)).status).toBe('Paid');
    expect((await waitForFinalStatus(failed)).status).toBe('Failed');

    const page = await e2e.newPage({ httpCredentials: { username: ADMIN_USER, password: ADMIN_PASSWORD } });
    const res = await page.goto(`${e2e.app.baseUrl}/admin`);
    expect(res?.status()).toBe(200);

    // The chart is an inline SVG drawn by the server (no chart library, no script needed), with a text alternative.
    const chart = page.locator('main svg').first();
    await chart.waitFor({ state: 'visible', timeout: 10_000 });
    const box = await chart.boundingBox();
    expect(box?.width ?? 0).toBeGreaterThan(100);
    expect(box?.height ?? 0).toBeGreaterThan(50);
    const chartName = await chart.evaluate((svg) => {
      const labelledBy = svg.getAttribute('aria-labelledby');
      return (
        svg.getAttribute('aria-label') ??
        svg.querySelector('title')?.textContent ??
        (labelledBy ? document.getElementById(labelledBy)?.textContent : null) ??
        svg.closest('figure')?.querySelector('figcaption')?.textContent ??
        ''
      ).trim();
    });
    expect(chartName, 'the chart has a text alternative').not.toBe('');
    await expect(chart.locator('rect, path, line, polyline, circle').count()).resolves.toBeGreaterThan(0);

    // Tables with headers, and the sales in them.
    const tables = page.locator('main table');
    expect(await tables.count()).toBeGreaterThanOrEqual(2);
    await expect(tables.first().locator('th').count()).resolves.toBeGreaterThan(0);
    const text = await page.locator('main').innerText();
    expect(text).toMatch(/Oppenheimer/);
    expect(text).toMatch(/Paid/);
    expect(text).toMatch(/Failed/);
  });
});
