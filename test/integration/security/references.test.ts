import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csrfFrom } from '../../support/app.js';
import { dialects } from '../../support/db.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import { ADMIN_ENV, operator, tokenIn } from '../admin/helpers.js';
import { buildInbox, buildMovie } from '../../support/builders.js';
import { waitFor } from '../../support/wait.js';
import { refFrom, ticketByRef } from '../bookings/helpers.js';

const PAYS = '254708374149';
const CANCELS = '254700000001';
/** Push accepted, no callback ever: stays Pending. */
const NO_CALLBACK = '254700000005';

/** The reference with the case of every letter swapped: 'aB3-x' → 'Ab3-X'. */
const swapCase = (ref: string) => [...ref].map((c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase())).join('');

/** Every way the full number could be written on a page. */
function fullNumberForms(phone: string): string[] {
  const national = phone.slice(3);
  return [phone, `+${phone}`, `0${national}`, national, `${national.slice(0, 3)} ${national.slice(3, 6)} ${national.slice(6)}`];
}

describe.each(dialects)('ticket references and masked phones on %s', (dialect) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(dialect, { ...ADMIN_ENV, RATE_LIMIT_PUSHES_PER_PHONE: '100', RATE_LIMIT_BOOKINGS_PER_IP: '100' });
  });
  afterAll(async () => {
    await s?.close();
  });

  const book = async (phone: string) => {
    const movieId = await buildMovie(s.database.db);
    const agent = request.agent(s.app);
    const _csrf = await csrfFrom(agent, `/movies/${movieId}`);
    const res = await agent.post('/bookings').type('form').send({ _csrf, movieId: String(movieId), customerName: 'Mask Me', phoneNumber: `0${phone.slice(3)}`, quantity: '1' });
    expect(res.status).toBe(303);
    return refFrom(res.headers.location);
  };

  it('when bookings are made one after another, then each ref is ≥128 bits of base64url, unrelated to the last and to the row id', async () => {
    const refs: string[] = [];
    for (let i = 0; i < 6; i++) refs.push(await book(PAYS));
    const ids: number[] = [];
    for (const ref of refs) {
      expect(ref).toMatch(/^[A-Za-z0-9_-]{22,}$/);
      expect(Buffer.from(ref, 'base64url').length).toBeGreaterThanOrEqual(16);
      const row = await ticketByRef(s.database.db, ref);
      ids.push(row.ticketId);
      expect(ref).not.toBe(String(row.ticketId));
    }
    // The row ids are consecutive; the refs share nothing.
    expect(ids.slice(1).every((id, i) => id === ids[i]! + 1)).toBe(true);
    for (let i = 1; i < refs.length; i++) {
      expect(refs[i]!.slice(0, 4)).not.toBe(refs[i - 1]!.slice(0, 4));
      expect(refs[i]!.slice(-4)).not.toBe(refs[i - 1]!.slice(-4));
    }
    // Neither the row id nor a neighbour's id finds a ticket.
    for (const id of ids) {
      expect((await request(s.app).get(`/tickets/${id}`)).status).toBe(404);
      expect((await request(s.app).get(`/tickets/${id}/status`)).status).toBe(404);
    }
  });

  it('when a ticket is Pending, Paid or Failed, then its page and status JSON show the phone as 2547•••••149 and never the full number', async () => {
    const paid = await book(PAYS);
    const failed = await book(CANCELS);
    const pending = await book(NO_CALLBACK);
    await waitFor('Paid', async () => (await ticketByRef(s.database.db, paid)).paymentStatus === 'Paid');
    await waitFor('Failed', async () => (await ticketByRef(s.database.db, failed)).paymentStatus === 'Failed');

    for (const [ref, phone, masked] of [[paid, PAYS, '2547•••••149'], [failed, CANCELS, '2547•••••001'], [pending, NO_CALLBACK, '2547•••••005']] as const) {
      const page = await request(s.app).get(`/tickets/${ref}`);
      expect(page.status).toBe(200);
      expect(page.text).toContain(masked);
      const json = await request(s.app).get(`/tickets/${ref}/status`);
      expect(json.body.phoneNumber).toBe(masked);
      for (const form of fullNumberForms(phone)) {
        expect(page.text, `${ref} page has ${form}`).not.toContain(form);
        expect(JSON.stringify(json.body), `${ref} JSON has ${form}`).not.toContain(form);
      }
    }
    expect((await request(s.app).get(`/tickets/${pending}/status`)).body.status).toBe('Pending');
    const json = await request(s.app).get(`/tickets/${paid}/status`);
    expect(json.body).toMatchObject({ ref: paid, status: 'Paid' });
    expect(Object.keys(json.body)).not.toContain('ticketId');
  });

  it('when a reference is given with its letters in the other case, then it is another reference: 404 on the page, the status, the retry, and the operator cannot find it', async () => {
    const ref = await book(CANCELS);
    await waitFor('Failed', async () => (await ticketByRef(s.database.db, ref)).paymentStatus === 'Failed', { timeout: 8000 });
    const swapped = swapCase(ref);
    expect(swapped).not.toBe(ref);
    // Only the first letter's case changed: one bit of difference is still another reference.
    const i = [...ref].findIndex((c) => /[A-Za-z]/.test(c));
    const oneLetter = ref.slice(0, i) + swapCase(ref[i]!) + ref.slice(i + 1);
    for (const other of [swapped, oneLetter, ref.toUpperCase(), ref.toLowerCase()].filter((r) => r !== ref)) {
      expect((await request(s.app).get(`/tickets/${other}`)).status, other).toBe(404);
      expect((await request(s.app).get(`/tickets/${other}/status`)).status, other).toBe(404);
    }
    expect((await request(s.app).get(`/tickets/${ref}`)).status).toBe(200);

    // Retry, with a form token of the right ticket's page: the other spelling finds nothing and sends nothing.
    const agent = request.agent(s.app);
    const page = await agent.get(`/tickets/${ref}`);
    const pushesBefore = await s.database.db.selectFrom('pushrequest').select('pushRequestId').execute();
    const retry = await agent.post(`/tickets/${swapped}/retry`).type('form').send({ _csrf: tokenIn(page.text) });
    expect(retry.status).toBe(404);
    expect(await s.database.db.selectFrom('pushrequest').select('pushRequestId').execute()).toHaveLength(pushesBefore.length);
    expect((await ticketByRef(s.database.db, ref)).paymentStatus).toBe('Failed');

    // The operator's "find by reference" (assigning an unmatched callback) does not find it either, as a reference or a link.
    const cb = await buildInbox(s.database.db, { outcome: 'unmatched' });
    const admin = operator(s.app);
    const token = tokenIn((await admin.get(`/admin/callbacks/${cb}`)).text);
    for (const ticket of [swapped, `${s.baseUrl}/tickets/${swapped}`]) {
      const res = await admin.post(`/admin/callbacks/${cb}/assign`).type('form').send({ _csrf: token, ticket });
      expect(res.status, ticket).toBe(422);
      expect(res.text).toContain('No ticket has that number or reference.');
    }
    const inbox = await s.database.db.selectFrom('callbackinbox').select(['outcome', 'ticketId']).where('callbackId', '=', cb).executeTakeFirstOrThrow();
    expect(inbox).toEqual({ outcome: 'unmatched', ticketId: null });
  });
});
