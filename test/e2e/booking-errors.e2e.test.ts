import { describe, expect, it } from 'vitest';
import { createMovie, listMovies, movieByTitle, waitForFinalStatus } from './support/app-process.js';
import { setupE2E } from './support/e2e.js';
import { BOOKING_FORM, book, fillBookingForm, openMovie, submitBooking, uniquePhone } from './support/flows.js';

const e2e = setupE2E();

describe('booking mistakes and limits', () => {
  it('when the phone number is not a Kenyan mobile number, then its message sits beside the field and the typed values stay', async () => {
    const page = await e2e.newPage();
    await openMovie(page, e2e.app, 'Oppenheimer');
    await fillBookingForm(page, { name: 'Halima Typo', phone: '0812 345', quantity: 3, email: 'halima@example.com' });
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/bookings') && r.request().method() === 'POST'),
      submitBooking(page),
    ]);
    expect(response.status()).toBe(422);

    const form = page.locator(BOOKING_FORM);
    const phoneInput = form.locator('[name="phoneNumber"]');
    await expect(phoneInput.inputValue()).resolves.toBe('0812 345');
    await expect(form.locator('[name="customerName"]').inputValue()).resolves.toBe('Halima Typo');
    await expect(form.locator('[name="quantity"]').inputValue()).resolves.toBe('3');
    await expect(form.locator('[name="email"]').inputValue()).resolves.toBe('halima@example.com');

    // Beside the field: tied to it by aria-describedby, marked invalid, and inside the same field block.
    await expect(phoneInput.getAttribute('aria-invalid')).resolves.toBe('true');
    const message = await phoneInput.evaluate((input) => {
      const ids = (input.getAttribute('aria-describedby') ?? '').split(/\s+/).filter(Boolean);
      const described = ids.map((id) => document.getElementById(id)).filter((el): el is HTMLElement => el !== null);
      // The message is the described-by element that is not the standing hint.
      const error = described.find((el) => !el.classList.contains('hint') && (el.textContent ?? '').trim() !== '');
      const box = input.getBoundingClientRect();
      const errBox = error?.getBoundingClientRect();
      return {
        text: error?.textContent?.trim() ?? '',
        near: errBox ? Math.abs(errBox.top - box.bottom) < 120 : false,
      };
    });
    expect(message.text).toMatch(/number/i);
    expect(message.near, 'the message is right under the phone field').toBe(true);
    // The other fields were fine: no message beside them.
    await expect(form.locator('[name="customerName"]').getAttribute('aria-invalid')).resolves.not.toBe('true');
    // And the problem is announced: an alert region lists it, and focus starts there.
    await expect(page.getByRole('alert').first().innerText()).resolves.toContain(message.text);
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('error-summary');
  });

  it('when the show is sold out, then the movie page and the catalogue say so and no form is offered', async () => {
    const dune = await movieByTitle(e2e.app, 'Dune: Part Two');
    expect(dune.maximumTickets).toBe(5);
    const page = await e2e.newPage();

    // Two customers take the five seats (the sandbox test number pays by itself).
    const first = await book(page, e2e.app, 'Dune: Part Two', { name: 'Seat Taker', phone: '0708374149', quantity: 3 });
    expect((await waitForFinalStatus(first)).status).toBe('Paid');

    // A third asks for more than are left: the form comes back with the reason (409).
    await openMovie(page, e2e.app, 'Dune: Part Two');
    await fillBookingForm(page, { name: 'Late Lucy', phone: uniquePhone().typed, quantity: 3 });
    const [tooMany] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/bookings') && r.request().method() === 'POST'),
      submitBooking(page),
    ]);
    expect(tooMany.status()).toBe(409);
    await expect(page.locator('main').innerText()).resolves.toMatch(/\b2\b.*left|left.*\b2\b|not enough|only/i);
    await expect(page.locator(BOOKING_FORM).locator('[name="customerName"]').inputValue()).resolves.toBe('Late Lucy');

    const second = await book(page, e2e.app, 'Dune: Part Two', { name: 'Last Two', phone: '0708374149', quantity: 2 });
    expect((await waitForFinalStatus(second)).status).toBe('Paid');
    expect((await movieByTitle(e2e.app, 'Dune: Part Two')).ticketsLeft).toBe(0);

    await openMovie(page, e2e.app, 'Dune: Part Two');
    await expect(page.locator('main').innerText()).resolves.toMatch(/sold out/i);
    await expect(page.locator(BOOKING_FORM).count()).resolves.toBe(0);

    await page.goto(`${e2e.app.baseUrl}/`);
    const card = page.locator('li', { has: page.getByRole('link', { name: 'Dune: Part Two', exact: true }) });
    await expect(card.innerText()).resolves.toMatch(/sold out/i);
  });

  it('when the form was opened before the last seats went, then booking says sold out instead of charging', async () => {
    const movieId = await createMovie(e2e.app, { title: `Tiny Hall ${Date.now()}`, price: 30, maximumTickets: 1 });
    const page = await e2e.newPage();
    await page.goto(`${e2e.app.baseUrl}/movies/${movieId}`);
    await fillBookingForm(page, { name: 'Slow Simba', phone: uniquePhone().typed, quantity: 1 });

    // Someone else takes the only seat meanwhile.
    const other = await e2e.newPage();
    await other.goto(`${e2e.app.baseUrl}/movies/${movieId}`);
    await fillBookingForm(other, { name: 'Quick Quentin', phone: uniquePhone().typed, quantity: 1 });
    await submitBooking(other);
    expect(other.url()).toMatch(/\/tickets\//);

    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/bookings') && r.request().method() === 'POST'),
      submitBooking(page),
    ]);
    expect(response.status()).toBe(409);
    await expect(page.getByRole('alert').first().innerText()).resolves.toMatch(/sold out|left|not enough/i);
    expect((await listMovies(e2e.app)).find((m) => m.movieId === movieId)?.ticketsLeft).toBe(0);
  });
});
