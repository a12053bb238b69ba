import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toDbTime } from '../../../src/core/db/time.js';
import { createTestApp, type TestApp } from '../../support/app.js';
import { buildMovie, buildTicket, type TicketOverrides } from '../../support/builders.js';
import { dialects } from '../../support/db.js';
import { MANUAL_SIMULATOR } from '../../support/daraja-edge.js';

const DOOR = { DOOR_USER: 'door-a', DOOR_PASSWORD: 'door secret 42' };
const ADMIN = { ADMIN_USER: 'ops', ADMIN_PASSWORD: 'counter secret 42' };

describe('the door is off until it has an account', () => {
  it('when neither DOOR_* nor ADMIN_* is set, then /door and its API are 404; with only the admin account it works with it', async () => {
    const off = await createTestApp('sqlite', MANUAL_SIMULATOR);
    const adminOnly = await createTestApp('sqlite', { ...MANUAL_SIMULATOR, ...ADMIN });
    try {
      await request(off.app).get('/door').expect(404);
      await request(off.app).post('/door/api/checkins').send({ movieId: 1, ticketCode: 'K7M2Q9XA' }).expect(404);
      await request(adminOnly.app).get('/door').expect(401);
      await request(adminOnly.app).get('/door').auth(ADMIN.ADMIN_USER, ADMIN.ADMIN_PASSWORD).expect(200);
    } finally {
      await off.close();
      await adminOnly.close();
    }
  });
});

describe.each(dialects)('check-ins at the door on %s', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(dialect, { ...MANUAL_SIMULATOR, ...DOOR, ...ADMIN });
  });
  afterAll(async () => {
    await t?.close();
  });

  const checkin = (body: Record<string, unknown>, who: [string, string] = [DOOR.DOOR_USER, DOOR.DOOR_PASSWORD]) =>
    request(t.app).post('/door/api/checkins').auth(...who).send(body);
  async function ticket(over: Partial<TicketOverrides> = {}) {
    const movieId = over.movieId ?? (await buildMovie(t.database.db, { title: `Door ${Math.random().toString(36).slice(2, 7)}`, showTime: new Date(Date.now() + 3600_000) }));
    return buildTicket(t.database.db, { quantity: 3, customerName: 'Wanjiku Kamau', ...over, movieId });
  }
  const row = (ticketId: number) => t.database.db.selectFrom('ticket').select(['admitted', 'lastAdmittedBy']).where('ticketId', '=', ticketId).executeTakeFirstOrThrow();
  const audits = (ticketId: number) => t.database.db.selectFrom('auditlog').selectAll().where('ticketId', '=', ticketId).where('action', '=', 'door.admit').execute();

  it('when a door admits some and then the rest, then each answer says how many are in, and each admission is audited by its door', async () => {
    const tk = await ticket();
    const first = await checkin({ movieId: tk.movieId, ticketCode: tk.ticketCode, admit: 2 }).expect(200);
    expect(first.body).toEqual({ ticketCode: tk.ticketCode, movieTitle: expect.stringMatching(/^Door /), customerName: 'Wanjiku Kamau', quantity: 3, admitted: 2, admittedNow: 2 });
    const rest = await checkin({ movieId: tk.movieId, ticketCode: tk.ticketCode!.toLowerCase() }, [ADMIN.ADMIN_USER, ADMIN.ADMIN_PASSWORD]).expect(200);
    expect(rest.body).toMatchObject({ admitted: 3, admittedNow: 1 });
    expect(await row(tk.ticketId)).toEqual({ admitted: 3, lastAdmittedBy: 'ops' });
    expect((await audits(tk.ticketId)).map((a) => a.actor)).toEqual(['door-a', 'ops']);
    const timeline = await request(t.app).get(`/admin/tickets/${tk.ticketId}`).auth(ADMIN.ADMIN_USER, ADMIN.ADMIN_PASSWORD).expect(200);
    expect(timeline.text).toContain('door.admit by door-a');
    expect(timeline.text).toContain('<dd id="admitted">3 of 3</dd>');
    expect(timeline.text).toContain(`<code id="ticket-code">${tk.ticketCode}</code>`);
    expect(timeline.text).toContain('let in 2 people at the door: 2 of 3 now in');
    const status = await request(t.app).get(`/tickets/${tk.ref}/status`).expect(200);
    expect(status.body.admitted).toBe(3);
  });

  it('when 20 doors check in one person each on a 3-seat ticket at the same moment, then exactly 3 are let in', async () => {
    const tk = await ticket();
    const answers = await Promise.all(Array.from({ length: 20 }, () => checkin({ movieId: tk.movieId, ticketCode: tk.ticketCode, admit: 1 })));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(3);
    const refused = answers.filter((a) => a.status !== 200);
    expect(refused).toHaveLength(17);
    for (const r of refused) expect(r.status === 409 && r.body.error).toBe('already_admitted');
    expect((await row(tk.ticketId)).admitted).toBe(3);
    expect(await audits(tk.ticketId)).toHaveLength(3);
  });

  it('when 20 doors admit "everyone" on a 3-seat ticket at the same moment, then one lets in 3 and the rest are refused', async () => {
    const tk = await ticket();
    const answers = await Promise.all(Array.from({ length: 20 }, () => checkin({ movieId: tk.movieId, ticketCode: tk.ticketCode })));
    const ok = answers.filter((a) => a.status === 200);
    expect(ok.map((a) => a.body.admittedNow)).toEqual([3]);
    expect((await row(tk.ticketId)).admitted).toBe(3);
  });

  it('when a ticket cannot come in, then each reason is refused with its own error and a clear message, and nobody is let in', async () => {
    const pending = await ticket({ paymentStatus: 'Pending' });
    const failed = await ticket({ paymentStatus: 'Failed' });
    const refunded = await ticket({ needsRefund: 1, refundedAt: toDbTime(new Date()) });
    const owed = await ticket({ needsRefund: 1 });
    const other = await ticket();
    const tonight = await buildMovie(t.database.db, { title: 'Tonight Elsewhere' });
    const full = await ticket({ admitted: 3, lastAdmittedAt: toDbTime(new Date()), lastAdmittedBy: 'door-b' });
    const some = await ticket({ admitted: 2 });
    const cases: Array<[typeof pending, Record<string, unknown>, string, RegExp]> = [
      [pending, {}, 'not_paid', /Not paid/],
      [failed, {}, 'not_paid', /Not paid/],
      [refunded, {}, 'refunded', /Refunded/],
      [owed, {}, 'refunded', /Owed a refund/],
      [other, { movieId: tonight }, 'other_show', /Another show: this ticket is for Door /],
      [full, {}, 'already_admitted', /Already in: all 3 people .* let in by door-b/],
      [some, { admit: 2 }, 'too_many', /only 1 person of 3/],
    ];
    for (const [tk, over, error, message] of cases) {
      const res = await checkin({ movieId: tk.movieId, ticketCode: tk.ticketCode, ...over });
      expect(res.status, error).toBe(409);
      expect(Object.keys(res.body).sort()).toEqual(['error', 'message']);
      expect(res.body.error).toBe(error);
      expect(res.body.message).toMatch(message);
      expect(await audits(tk.ticketId)).toHaveLength(0);
    }
    expect((await row(some.ticketId)).admitted).toBe(2);
  });

  it('when a Paid ticket has an M-Pesa refund in flight (requested, accepted or unknown), then the door refuses it as refunded', async () => {
    for (const status of ['requested', 'accepted', 'unknown'] as const) {
      const tk = await ticket();
      const now = toDbTime(new Date());
      await t.database.db.insertInto('refund').values({
        ticketId: tk.ticketId, activeTicketId: tk.ticketId, amount: Number(tk.totalAmount), transactionId: tk.mpesaReceiptNumber!, status, reason: 'test',
        actor: 'ops', conversationId: null, originatorConversationId: null, reversalTransactionId: null, statusConversationId: null,
        statusOriginatorConversationId: null, resultCode: null, failureReason: null, sendingSince: null, nextAttemptAt: now, createdAt: now,
        acceptedAt: null, completedAt: null, updatedAt: now,
      }).execute();
      const res = await checkin({ movieId: tk.movieId, ticketCode: tk.ticketCode });
      expect(res.status, status).toBe(409);
      expect(res.body).toEqual({ error: 'refunded', message: expect.stringMatching(/^Being refunded/) });
      expect((await row(tk.ticketId)).admitted).toBe(0);
      expect(await audits(tk.ticketId)).toHaveLength(0);
    }
  });

  it('when a refund failed (no longer in flight), then the ticket is let in again', async () => {
    const tk = await ticket();
    const now = toDbTime(new Date());
    await t.database.db.insertInto('refund').values({
      ticketId: tk.ticketId, activeTicketId: null, amount: Number(tk.totalAmount), transactionId: tk.mpesaReceiptNumber!, status: 'failed', reason: 'test',
      actor: 'ops', conversationId: null, originatorConversationId: null, reversalTransactionId: null, statusConversationId: null,
      statusOriginatorConversationId: null, resultCode: '1', failureReason: 'insufficient', sendingSince: null, nextAttemptAt: null, createdAt: now,
      acceptedAt: null, completedAt: now, updatedAt: now,
    }).execute();
    await checkin({ movieId: tk.movieId, ticketCode: tk.ticketCode, admit: 1 }).expect(200);
  });

  it('when the code is unknown or the request is not a check-in, then 404, 400 or 415 say so', async () => {
    expect((await checkin({ movieId: 1, ticketCode: 'ZZZZZZZZ' })).status).toBe(404);
    expect((await checkin({ movieId: 1, ticketCode: 'nope' })).status).toBe(404);
    expect((await checkin({ ticketCode: 'ZZZZZZZZ' })).body.error).toBe('invalid');
    expect((await checkin({ movieId: 1, ticketCode: 'ZZZZZZZZ', admit: 0 })).status).toBe(400);
    const form = await request(t.app).post('/door/api/checkins').auth(DOOR.DOOR_USER, DOOR.DOOR_PASSWORD).type('form').send('movieId=1&ticketCode=ZZZZZZZZ');
    expect(form.status).toBe(415);
    await request(t.app).post('/door/api/checkins').send({ movieId: 1, ticketCode: 'ZZZZZZZZ' }).expect(401);
  });

  it('when the door page is opened, then it lists the shows of the night and, for a show, the camera and the code form', async () => {
    const movieId = await buildMovie(t.database.db, { title: 'On At The Door', showTime: new Date(Date.now() + 2 * 3600_000) });
    const far = await buildMovie(t.database.db, { title: 'Next Month', showTime: new Date(Date.now() + 30 * 86400_000) });
    const page = await request(t.app).get('/door').auth(DOOR.DOOR_USER, DOOR.DOOR_PASSWORD).expect(200);
    expect(page.text).toContain('On At The Door');
    expect(page.text).not.toContain('Next Month');
    const chosen = await request(t.app).get(`/door?movieId=${movieId}`).auth(DOOR.DOOR_USER, DOOR.DOOR_PASSWORD).expect(200);
    expect(chosen.text).toContain(`data-movie-id="${movieId}"`);
    expect(chosen.text).toContain('id="scan-start"');
    expect(chosen.text).toContain('<script src="/js/door.js" defer></script>');
    const jsqr = await request(t.app).get('/door/assets/jsqr/jsQR.js').auth(DOOR.DOOR_USER, DOOR.DOOR_PASSWORD).expect(200);
    expect(jsqr.text).toContain('jsQR');
    expect(far).toBeGreaterThan(0);
  });
});
