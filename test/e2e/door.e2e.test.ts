import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { createMovie, waitForFinalStatus } from './support/app-process.js';
import { formatAxe, seriousAxeViolations } from './support/axe.js';
import { CHROMIUM, MOBILE, foreignRequests, horizontalOverflow, newRecordedContext, seriousConsoleErrors } from './support/browser.js';
import { setupE2E } from './support/e2e.js';
import { answerOnPhone, fillBookingForm, submitBooking, uniquePhone } from './support/flows.js';
import { writeQrVideo } from './support/qr-video.js';

const DOOR = { user: 'door-e2e', password: 'door-e2e-password-0123' };
const e2e = setupE2E({ SIMULATOR_MODE: 'manual', DOOR_USER: DOOR.user, DOOR_PASSWORD: DOOR.password });

const dirs: string[] = [];
let cameraBrowser: Browser | undefined;
afterAll(async () => {
  await cameraBrowser?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** axe finds nothing serious, and nothing scrolls sideways at 360 px. */
async function noSeriousAxe(page: Page, what: string): Promise<void> {
  const problems = await seriousAxeViolations(page);
  expect(problems, `${what}:\n${formatAxe(problems)}`).toEqual([]);
  const overflow = await horizontalOverflow(page);
  expect(overflow.scrollWidth, `${what} scrolls sideways: ${overflow.culprits.join(', ')}`).toBeLessThanOrEqual(overflow.viewport);
}

describe('a ticket from the phone to the door, at 360 px', () => {
  it('when a customer pays, finds the ticket by code, and the door scans its QR code with the camera, then it is let in once and refused the second time', async () => {
    const { app } = e2e;
    const title = `Door Night ${process.pid}`;
    const movieId = await createMovie(app, { title, price: 25, maximumTickets: 20, showTime: new Date(Date.now() + 2 * 3600_000).toISOString() });
    const phone = uniquePhone();

    // ── the customer books and pays on the simulator's phone ──
    const context = await e2e.newContext();
    const page = await context.newPage();
    await page.goto(`${app.baseUrl}/movies/${movieId}`);
    await fillBookingForm(page, { name: 'Achieng Door', phone: phone.typed, quantity: 2 });
    await submitBooking(page);
    const ticketUrl = page.url();
    const phonePage = await context.newPage();
    await phonePage.goto(`${app.baseUrl}/simulator/phone`);
    await answerOnPhone(phonePage, phone.msisdn, { pin: '1234' });
    expect((await waitForFinalStatus(ticketUrl)).status).toBe('Paid');

    // ── the ticket page reads as a ticket, with the code and its QR code ──
    await page.bringToFront();
    await page.reload();
    const code = (await page.locator('#ticket-code').innerText()).trim();
    expect(code).toMatch(/^[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{8}$/);
    await expect(page.locator('svg.ticket-qr')).toBeDefined();
    expect(await page.locator('main').innerText()).toMatch(/Show this at the door/);
    await noSeriousAxe(page, 'paid ticket page');

    // ── the SMS and M-Pesa's confirmation reach the phone page (the outbox sends within a few seconds) ──
    await phonePage.bringToFront();
    await expect.poll(async () => {
      await phonePage.reload();
      return phonePage.locator('section.inbox', { hasText: `+${phone.msisdn}` }).innerText().catch(() => '');
    }, { timeout: 20_000, interval: 1000 }).toContain(code);
    const inbox = await phonePage.locator('section.inbox', { hasText: `+${phone.msisdn}` }).innerText();
    expect(inbox).toMatch(/MPESA[\s\S]*Confirmed\. Ksh50\.00 sent to TIKITI/);
    expect(inbox).toContain(title.slice(0, 10));
    await noSeriousAxe(phonePage, 'simulator phone with messages');

    // ── find my ticket opens it again ──
    const finder = await context.newPage();
    await finder.goto(`${app.baseUrl}/tickets/find`);
    await noSeriousAxe(finder, 'find my ticket');
    await finder.getByLabel('M-Pesa phone number').fill(phone.typed);
    await finder.getByLabel('Ticket code').fill(code.toLowerCase());
    await Promise.all([finder.waitForURL(ticketUrl), finder.getByRole('button', { name: 'Open my ticket' }).click()]);
    expect(await finder.locator('#ticket-code').innerText()).toBe(code);

    // ── the door, on a phone whose camera sees the ticket's QR code ──
    const dir = mkdtempSync(join(tmpdir(), 'tikiti-door-'));
    dirs.push(dir);
    const video = join(dir, 'ticket-qr.y4m');
    writeQrVideo(video, code);
    cameraBrowser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update',
        '--disable-dev-shm-usage', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
        `--use-file-for-fake-video-capture=${video}`,
      ],
    });
    const door = await newRecordedContext(cameraBrowser, {
      viewport: MOBILE, httpCredentials: { username: DOOR.user, password: DOOR.password }, permissions: ['camera'],
    });
    try {
      const doorPage = await door.context.newPage();
      await doorPage.goto(`${app.baseUrl}/door`);
      await doorPage.getByLabel('Show').selectOption(String(movieId));
      await Promise.all([doorPage.waitForURL(/\/door\?movieId=/), doorPage.getByRole('button', { name: 'Choose show' }).click()]);
      await noSeriousAxe(doorPage, 'door page');
      await doorPage.getByRole('button', { name: 'Scan QR code with camera' }).click();
      await expect.poll(() => doorPage.locator('#scan-status').innerText(), { timeout: 20_000 }).toBe(`Read ${code}.`);
      const result = doorPage.locator('#door-result');
      await expect.poll(() => result.innerText(), { timeout: 10_000 }).toContain('Achieng Door');
      expect(await result.innerText()).toMatch(/Already in\s*0 of 2/);
      await doorPage.getByRole('button', { name: 'Admit' }).click();
      await expect.poll(() => result.innerText(), { timeout: 10_000 }).toContain('Let in 2. 2 of 2 now in.');
      await noSeriousAxe(doorPage, 'door page after an admission');

      // ── the same code typed again is refused ──
      await doorPage.getByLabel('Or type the ticket code').fill(code);
      await doorPage.getByRole('button', { name: 'Look up' }).click();
      await expect.poll(() => result.innerText(), { timeout: 10_000 }).toMatch(/Already in: all 2 people on this ticket have been let in\..*by door-e2e/);
      expect(await doorPage.getByRole('button', { name: 'Admit' }).count()).toBe(0);

      expect(foreignRequests(door.recorder, app.baseUrl)).toEqual([]);
      expect(seriousConsoleErrors(door.recorder)).toEqual([]);
      expect(door.recorder.requests.some((u) => u.endsWith('/door/assets/jsqr/jsQR.js')), 'jsQR came from the site').toBe(true);
    } finally {
      await door.context.close();
    }
    expect((await waitForFinalStatus(ticketUrl)) as unknown as { admitted: number }).toMatchObject({ admitted: 2 });
  });
});
