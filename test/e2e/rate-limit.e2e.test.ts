import { describe, expect, it } from 'vitest';
import { formatAxe, seriousAxeViolations } from './support/axe.js';
import { horizontalOverflow, MOBILE } from './support/browser.js';
import { setupE2E } from './support/e2e.js';
import { book, fillBookingForm, openMovie, submitBooking, uniquePhone } from './support/flows.js';

// One push per phone per window, so the second booking to the same phone meets the limit.
const e2e = setupE2E({ RATE_LIMIT_PUSHES_PER_PHONE: '1', RATE_LIMIT_WINDOW_SECONDS: '600' });

describe('too many payment prompts', () => {
  it('when a phone has had its prompts for now, then the customer gets a clear 429 page that fits 360 px', async () => {
    const page = await e2e.newPage();
    const phone = uniquePhone();
    await book(page, e2e.app, 'Oppenheimer', { name: 'Eager Esther', phone: phone.typed, quantity: 1 });

    await openMovie(page, e2e.app, 'Oppenheimer');
    await fillBookingForm(page, { name: 'Eager Esther', phone: phone.typed, quantity: 1 });
    const status = await submitBooking(page);
    expect(status).toBe(429);
    const text = await page.locator('main').innerText();
    expect(text).toMatch(/try again|wait/i);
    expect(text).not.toMatch(/error|exception|stack/i);

    const overflow = await horizontalOverflow(page);
    expect(overflow.scrollWidth, overflow.culprits.join(', ')).toBeLessThanOrEqual(MOBILE.width);
    const problems = await seriousAxeViolations(page);
    expect(problems, formatAxe(problems)).toEqual([]);
  });
});
