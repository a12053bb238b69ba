import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import type { Dialect } from '../../../src/core/db/database.js';
import type { TestApp } from '../../support/app.js';
import { dialects } from '../../support/db.js';
import { buildMovie } from '../../support/builders.js';
import { MANUAL_SIMULATOR, REFUSED_PHONE, promptsTo } from '../../support/daraja-edge.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import { countRows, postBooking, refFrom, ticketByRef, tokenFor, uniquePhone } from './helpers.js';

async function phoneTickets(t: TestApp, phone: string): Promise<number> {
  const rows = await t.database.db.selectFrom('ticket').select('ticketId').where('phoneNumber', '=', phone).execute();
  return rows.length;
}

/** An app of its own with these limits, pushing to the built-in simulator (accepted, left Pending). */
const server = (dialect: Dialect, env: Record<string, string>) =>
  startTestServer(dialect, { ...MANUAL_SIMULATOR, ...env });

describe.each(dialects)('rate limits on %s', (dialect) => {
  let t: TestServer | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('when one address books more than RATE_LIMIT_BOOKINGS_PER_IP times, then 429 with a page and Retry-After, and 422s did not count', async () => {
    t = await server(dialect, { RATE_LIMIT_BOOKINGS_PER_IP: '3', RATE_LIMIT_PUSHES_PER_PHONE: '100', RATE_LIMIT_WINDOW_SECONDS: '600' });
    const movieId = await buildMovie(t.database.db);
    const agent = request.agent(t.app);
    // Typos cost nothing: two invalid forms first.
    expect((await postBooking(agent, movieId, { quantity: '0' })).status).toBe(422);
    expect((await postBooking(agent, movieId, { phoneNumber: 'abc' })).status).toBe(422);
    for (let i = 0; i < 3; i++) expect((await postBooking(agent, movieId)).status).toBe(303);

    const res = await postBooking(agent, movieId);
    expect(res.status).toBe(429);
    expect(res.text).toContain('Too many bookings have come from your connection in a short time.');
    expect(res.text).toContain('Nothing was booked or charged.');
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(600);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(await countRows(t.database.db, 'ticket', movieId)).toBe(3);
    expect(promptsTo(t)).toHaveLength(3);
    expect(await countRows(t.database.db, 'pushrequest')).toBe(3);
  });

  it('when one phone gets more than RATE_LIMIT_PUSHES_PER_PHONE pushes, then 429 whatever way the number is typed, and other phones still book', async () => {
    t = await server(dialect, { RATE_LIMIT_BOOKINGS_PER_IP: '100', RATE_LIMIT_PUSHES_PER_PHONE: '2' });
    const movieId = await buildMovie(t.database.db);
    const full = await buildMovie(t.database.db, { maximumTickets: 1 });
    const agent = request.agent(t.app);
    const phone = uniquePhone();
    const national = phone.stored.slice(3); // 7XXXXXXXX
    await postBooking(agent, full, { quantity: 1 });

    // Neither an invalid form nor a sold-out 409 sends a push, so neither counts.
    expect((await postBooking(agent, movieId, { phoneNumber: phone.typed, quantity: '99' })).status).toBe(422);
    expect((await postBooking(agent, full, { phoneNumber: phone.typed, quantity: 1 })).status).toBe(409);
    expect((await postBooking(agent, movieId, { phoneNumber: phone.typed })).status).toBe(303);
    expect((await postBooking(agent, movieId, { phoneNumber: `+254 ${national.slice(0, 3)} ${national.slice(3)}` })).status).toBe(303);
    const third = await postBooking(agent, movieId, { phoneNumber: `254-${national}` });
    expect(third.status).toBe(429);
    expect(third.text).toContain('Too many M-Pesa payment prompts have been sent to this phone in a short time.');
    expect(Number(third.headers['retry-after'])).toBeGreaterThan(0);

    expect(await phoneTickets(t, phone.stored)).toBe(2);
    const pushes = await t.database.db.selectFrom('pushrequest').select('pushRequestId').where('phoneNumber', '=', phone.stored).execute();
    expect(pushes).toHaveLength(2);
    expect(promptsTo(t, phone.stored)).toHaveLength(2);
    expect(promptsTo(t)).toHaveLength(3); // the sold-out filler booking, then two for this phone

    expect((await postBooking(agent, movieId, { phoneNumber: uniquePhone().typed })).status).toBe(303);
  });

  it('when a Failed ticket is retried past the per-phone limit, then 429, no push, and it stays Failed', async () => {
    t = await server(dialect, { RATE_LIMIT_BOOKINGS_PER_IP: '100', RATE_LIMIT_PUSHES_PER_PHONE: '2' });
    const movieId = await buildMovie(t.database.db);
    const agent = request.agent(t.app);
    // Daraja refuses every push to this phone, so the ticket is Failed again after each try.
    const phone = REFUSED_PHONE;
    const ref = refFrom((await postBooking(agent, movieId, { phoneNumber: phone.typed })).headers.location);
    const token = await tokenFor(agent, movieId);
    expect((await agent.post(`/tickets/${ref}/retry`).type('form').send({ _csrf: token })).status).toBe(303);
    expect(await ticketByRef(t.database.db, ref)).toMatchObject({ paymentStatus: 'Failed' });

    const res = await agent.post(`/tickets/${ref}/retry`).type('form').send({ _csrf: token });
    expect(res.status).toBe(429);
    expect(res.text).toContain('Too many M-Pesa payment prompts');
    expect(await ticketByRef(t.database.db, ref)).toMatchObject({ paymentStatus: 'Failed', holdsTickets: 0 });
    const pushes = await t.database.db.selectFrom('pushrequest').select('status').where('phoneNumber', '=', phone.stored).execute();
    expect(pushes).toHaveLength(2);
  });

  it('when two apps are built, then each has its own in-memory counts', async () => {
    t = await server(dialect, { RATE_LIMIT_BOOKINGS_PER_IP: '1', RATE_LIMIT_PUSHES_PER_PHONE: '100' });
    const movieId = await buildMovie(t.database.db);
    expect(t.services.rateLimits.store).toBe('memory');
    expect((await postBooking(request.agent(t.app), movieId)).status).toBe(303);
    expect((await postBooking(request.agent(t.app), movieId)).status).toBe(429);
    const second = await server(dialect, { RATE_LIMIT_BOOKINGS_PER_IP: '1', RATE_LIMIT_PUSHES_PER_PHONE: '100' });
    try {
      const m2 = await buildMovie(second.database.db);
      expect((await postBooking(request.agent(second.app), m2)).status).toBe(303);
    } finally {
      await second.close();
    }
  });
});
