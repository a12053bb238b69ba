import type { Locator, Page } from 'playwright-core';
import { movieByTitle, type AppProcess } from './app-process.js';

/** The booking form as docs/routes.md names it: POST /bookings with customerName, phoneNumber, quantity. */
export const BOOKING_FORM = 'form[action="/bookings"]';

let phoneCounter = 0;

/**
 * A phone number no other test uses (so its prompt is easy to find on the shared simulator phone), never one of the
 * simulator's test numbers: `typed` as a customer writes it, `msisdn` as Daraja and the phone page show it.
 */
export function uniquePhone(): { typed: string; msisdn: string } {
  phoneCounter += 1;
  const digits = `${String(process.pid % 1000).padStart(3, '0')}${String(phoneCounter).padStart(3, '0')}`;
  return { typed: `0712 ${digits.slice(0, 3)} ${digits.slice(3)}`, msisdn: `254712${digits}` };
}

export async function openMovie(page: Page, app: AppProcess, title: string): Promise<number> {
  const movie = await movieByTitle(app, title);
  await page.goto(`${app.baseUrl}/movies/${movie.movieId}`);
  return movie.movieId;
}

export interface BookingInput {
  name: string;
  phone: string;
  quantity?: number;
  email?: string;
}

export async function fillBookingForm(page: Page, input: BookingInput): Promise<Locator> {
  const form = page.locator(BOOKING_FORM);
  await form.locator('[name="customerName"]').fill(input.name);
  await form.locator('[name="phoneNumber"]').fill(input.phone);
  if (input.quantity !== undefined) await form.locator('[name="quantity"]').fill(String(input.quantity));
  if (input.email !== undefined) await form.locator('[name="email"]').fill(input.email);
  return form;
}

/**
 * Submits the booking form and waits for whatever page comes back (ticket page, or the form again); returns the
 * HTTP status of that page (after redirects).
 */
export async function submitBooking(page: Page): Promise<number> {
  const [response] = await Promise.all([
    page.waitForNavigation({ waitUntil: 'load' }),
    page.locator(`${BOOKING_FORM} [type="submit"]`).first().click(),
  ]);
  return response?.status() ?? 0;
}

/** Books from the movie page and returns the ticket page URL (the 303 target). */
export async function book(page: Page, app: AppProcess, title: string, input: BookingInput): Promise<string> {
  await openMovie(page, app, title);
  await fillBookingForm(page, input);
  const status = await submitBooking(page);
  const url = new URL(page.url());
  if (!url.pathname.startsWith('/tickets/') || status !== 200) {
    const text = (await page.locator('main').innerText().catch(() => '')).slice(0, 500);
    throw new Error(`booking did not reach a ticket page: ${status} ${page.url()}\n${text}`);
  }
  return `${url.origin}${url.pathname}`;
}

/** The pending prompt for a phone on the simulator's phone page (waits for it to appear; the page polls). */
export function promptFor(phonePage: Page, msisdn: string): Locator {
  return phonePage.locator('li.prompt', { hasText: msisdn });
}

/** Answers the prompt for `msisdn` on the simulator phone page: PIN (1234 pays) or Cancel (1032). */
export async function answerOnPhone(
  phonePage: Page,
  msisdn: string,
  answer: { pin: string } | 'cancel',
): Promise<void> {
  const prompt = promptFor(phonePage, msisdn);
  await prompt.waitFor({ state: 'visible', timeout: 15_000 });
  if (answer === 'cancel') {
    await prompt.getByRole('button', { name: 'Cancel' }).click();
  } else {
    await prompt.getByLabel('Enter M-Pesa PIN').fill(answer.pin);
    await prompt.getByRole('button', { name: 'Send' }).click();
  }
  await prompt.waitFor({ state: 'detached', timeout: 15_000 });
}

/** Counts main-frame navigations from now on: a page that "updates without reload" must keep this at 0. */
export function countNavigations(page: Page): () => number {
  let n = 0;
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) n += 1;
  });
  return () => n;
}
