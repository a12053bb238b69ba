import { createHash } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../../src/core/db/database.js';
import { toDbTime } from '../../../src/core/db/time.js';
import { createTestApp, type TestApp } from '../../support/app.js';
import { buildInbox, buildMovie, buildTicket } from '../../support/builders.js';
import { dialects } from '../../support/db.js';
import { TOKEN } from './helpers.js';

const sha256 = (s: string) => createHash('sha256').update(Buffer.from(s, 'utf8')).digest('hex');
const DAY = 86_400_000;

// The callback URL cannot fill the disk: a rejected callback keeps a bounded start of its body with the size and hash
// of the whole, a source past its hourly budget is only counted, and old settled bodies are trimmed by retention.
describe.each(dialects)('the inbox keeps bounded what nobody needs on %s', (dialect) => {
  let t: TestApp;
  let db: Db;
  beforeAll(async () => {
    t = await createTestApp(dialect, { MPESA_CALLBACK_TOKEN: TOKEN, REJECTED_CALLBACKS_PER_SOURCE_PER_HOUR: '3', INBOX_RETENTION_DAYS: '30', TRUST_PROXY: 'true' });
    db = t.database.db;
  });
  afterAll(async () => {
    await t?.close();
  });

  const postWrong = (body: string, ip: string) =>
    request(t.app).post('/api/payments/callback/not-the-token').set('X-Forwarded-For', ip).set('Content-Type', 'application/json').send(body);
  const rowsFrom = (ip: string) => db.selectFrom('callbackinbox').selectAll().where('sourceIp', '=', ip).orderBy('callbackId').execute();

  it('when a rejected callback carries a large body, then only its first 2 KB is stored, with the size and sha256 of the whole', async () => {
    const body = JSON.stringify({ junk: 'é'.repeat(6000) });
    const res = await postWrong(body, '203.0.113.7');
    expect(res.status).toBe(200);
    const [row] = await rowsFrom('203.0.113.7');
    expect(row).toMatchObject({ outcome: 'rejected', bodyBytes: Buffer.byteLength(body), bodySha256: sha256(body) });
    expect(Buffer.byteLength(row!.body)).toBeLessThanOrEqual(2048);
    expect(Buffer.byteLength(row!.body)).toBeGreaterThan(2040);
    expect(body.startsWith(row!.body)).toBe(true);
  });

  it.each(['result', 'timeout'])('when a body with a wrong token reaches the reversal %s URL, then it is bounded like a rejected callback and shares its source budget', async (endpoint) => {
    const ip = endpoint === 'result' ? '203.0.113.21' : '203.0.113.22';
    const body = JSON.stringify({ Result: { junk: 'x'.repeat(9000) } });
    const answers = [];
    for (let i = 0; i < 5; i++) {
      answers.push((await request(t.app).post(`/api/payments/${endpoint}/not-the-token`).set('X-Forwarded-For', ip).set('Content-Type', 'application/json').send(body)).status);
    }
    expect(answers).toEqual([200, 200, 200, 200, 200]);
    const rows = await rowsFrom(ip);
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      expect(row).toMatchObject({ source: 'reversal', outcome: 'rejected', bodyBytes: Buffer.byteLength(body), bodySha256: sha256(body) });
      expect(Buffer.byteLength(row.body)).toBeLessThanOrEqual(2048);
    }
  });

  it('when one source sends more rejected callbacks in an hour than its budget, then the rest are answered 200 and only counted', async () => {
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push((await postWrong(`{"n":${i}}`, '203.0.113.8')).status);
    expect(answers).toEqual([200, 200, 200, 200, 200, 200]);
    expect((await rowsFrom('203.0.113.8')).map((r) => r.body)).toEqual(['{"n":0}', '{"n":1}', '{"n":2}']);
    expect(t.services.payments.intake.rejected.counted()).toMatchObject({ '203.0.113.8': 3 });
    // Another source has its own budget, and a callback with the right token is never limited.
    expect((await postWrong('{"other":1}', '203.0.113.9')).status).toBe(200);
    expect(await rowsFrom('203.0.113.9')).toHaveLength(1);
    const good = await request(t.app).post(`/api/payments/callback/${TOKEN}`).set('X-Forwarded-For', '203.0.113.8')
      .set('Content-Type', 'application/json').send('{"not":"a callback"}');
    expect(good.status).toBe(200);
    expect((await rowsFrom('203.0.113.8')).map((r) => r.outcome)).toEqual(['rejected', 'rejected', 'rejected', 'invalid']);
  });

  it('when retention runs, then old settled bodies are emptied keeping size and hash, and nothing an open money question needs is touched', async () => {
    const old = toDbTime(new Date(Date.now() - 40 * DAY));
    const young = toDbTime(new Date(Date.now() - 2 * DAY));
    const movieId = await buildMovie(db);
    const owed = await buildTicket(db, { movieId, paymentStatus: 'Paid', needsRefund: 1, refundedAt: null });
    const settled = await buildTicket(db, { movieId, paymentStatus: 'Paid' });
    const body = '{"Body":{"stkCallback":{"ResultCode":0,"pad":"' + 'x'.repeat(900) + '"}}}';
    const ids = {
      applied: await buildInbox(db, { receivedAt: old, outcome: 'applied', body, ticketId: settled.ticketId }),
      duplicate: await buildInbox(db, { receivedAt: old, outcome: 'duplicate', body, ticketId: settled.ticketId }),
      refundOwed: await buildInbox(db, { receivedAt: old, outcome: 'applied', body, ticketId: owed.ticketId }),
      unmatched: await buildInbox(db, { receivedAt: old, outcome: 'unmatched', body }),
      mismatch: await buildInbox(db, { receivedAt: old, outcome: 'mismatch', body, ticketId: settled.ticketId }),
      received: await buildInbox(db, { receivedAt: old, outcome: 'received', body, processedAt: null }),
      youngApplied: await buildInbox(db, { receivedAt: young, outcome: 'applied', body, ticketId: settled.ticketId }),
      rejected: await buildInbox(db, { receivedAt: old, outcome: 'rejected', body: 'abc', bodyBytes: 9000, bodySha256: 'f'.repeat(64) }),
    };
    expect(await t.services.payments.retention.runOnce()).toBeGreaterThanOrEqual(3);
    const rows = new Map((await db.selectFrom('callbackinbox').selectAll().where('callbackId', 'in', Object.values(ids)).execute()).map((r) => [r.callbackId, r]));
    for (const k of ['applied', 'duplicate'] as const) {
      expect(rows.get(ids[k])).toMatchObject({ body: '', bodyBytes: Buffer.byteLength(body), bodySha256: sha256(body), outcome: k, ticketId: settled.ticketId });
    }
    // A rejected row's hash and size are of what arrived, not of the prefix it kept.
    expect(rows.get(ids.rejected)).toMatchObject({ body: '', bodyBytes: 9000, bodySha256: 'f'.repeat(64) });
    for (const k of ['refundOwed', 'unmatched', 'mismatch', 'received', 'youngApplied'] as const) {
      expect(rows.get(ids[k]), k).toMatchObject({ body, bodySha256: null });
    }
    // A second run finds nothing more to do.
    expect(await t.services.payments.retention.runOnce()).toBe(0);
  });
});
