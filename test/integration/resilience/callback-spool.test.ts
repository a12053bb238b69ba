import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Express } from 'express';
import { sql } from 'kysely';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../../src/app.js';
import { buildServices } from '../../../src/compose.js';
import type { Config } from '../../../src/config.js';
import { openDatabase, type DatabaseHandle, type Db } from '../../../src/core/db/database.js';
import { silentLogger } from '../../../src/core/logger.js';
import { defaultSpoolPath } from '../../../src/payments/callback-spool.js';
import type { CallbackIntake } from '../../../src/payments/callback-intake.js';
import type { Reconciler } from '../../../src/payments/reconciler.js';
import { testConfig } from '../../support/config.js';
import { createTestDatabase, dialects, type TestDatabase } from '../../support/db.js';
import {
  TOKEN, failureCallback, inboxRowsFor, insertPendingTicket, newCheckoutId, newReceipt, notificationKinds, successCallback, ticketRow,
} from '../payments/helpers.js';

// A callback is always answered 200, and only once it is kept. With the database down it is kept in the spool file,
// fsynced, and the reconciler moves it into the inbox when the database is back.

const ACK = { ResultCode: 0, ResultDesc: 'Success' };

interface Instance {
  handle: DatabaseHandle;
  intake: CallbackIntake;
  reconciler: Reconciler;
  app: Express;
}

/** One app instance on its own connection, as the composition root builds it, with the spool at `spoolPath`. */
async function instance(config: Readonly<Config>, spoolPath: string): Promise<Instance> {
  const handle = await openDatabase(config.databaseUrl);
  // No ticket here is due for a query, so its Daraja client is never called.
  const services = await buildServices(config, silentLogger, { database: handle, spoolPath, migrate: false });
  return { handle, intake: services.payments.intake, reconciler: services.payments.reconciler, app: createApp(services) };
}

/**
 * Closes the connection so every later query fails. Kysely's destroy() does nothing to a driver that never ran a
 * query (and a later query would open it again), so one is run first.
 */
async function closeForGood(handle: DatabaseHandle): Promise<void> {
  await sql`select 1`.execute(handle.db);
  await handle.close();
}

const post = (app: Express, body: string, token = TOKEN) =>
  request(app).post(`/api/payments/callback/${token}`).set('Content-Type', 'application/json').send(body);

const spoolLines = (path: string) =>
  existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>) : [];

describe.each(dialects)('the callback spool on %s', (dialect) => {
  let database: TestDatabase;
  let db: Db;
  let config: Readonly<Config>;
  let dir: string;
  let spoolPath: string;

  beforeAll(async () => {
    database = await createTestDatabase(dialect);
    db = database.db;
    config = testConfig({ DATABASE_URL: database.url, MPESA_CALLBACK_TOKEN: TOKEN, DARAJA_BASE_URL: 'http://127.0.0.1:9' });
    dir = mkdtempSync(join(tmpdir(), 'tikiti-spool-'));
    spoolPath = join(dir, 'callback-spool.jsonl');
  });
  afterAll(async () => {
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** An instance whose database connection is closed: every query fails, as with the database down. */
  const downInstance = async () => {
    const down = await instance(config, spoolPath);
    await closeForGood(down.handle);
    return down;
  };

  it('when the database is down, then a success callback is answered 200 and kept in the spool; once it is back the reconciler makes the ticket Paid', async () => {
    const tk = await insertPendingTicket(db, { email: 'njeri@example.com' });
    const receipt = newReceipt();
    const body = JSON.stringify(successCallback({ checkoutRequestId: tk.checkoutRequestId!, amount: tk.totalAmount, phone: tk.phone, receipt }));
    const down = await downInstance();
    const before = Date.now();

    const res = await post(down.app, body);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(ACK);
    const wrongToken = await post(down.app, body, 'not-the-token');
    expect(wrongToken.status).toBe(200);

    const spooled = spoolLines(spoolPath);
    expect(spooled).toHaveLength(2);
    expect(spooled[0]).toMatchObject({ body, outcome: 'received', detail: null });
    expect(spooled[1]).toMatchObject({ body, outcome: 'rejected', detail: 'wrong token' });
    expect(Date.parse(String(spooled[0]!.receivedAt))).toBeGreaterThanOrEqual(before - 5);
    expect(await inboxRowsFor(db, tk.checkoutRequestId!)).toEqual([]);
    expect((await ticketRow(db, tk.ticketId)).paymentStatus).toBe('Pending');

    const back = await instance(config, spoolPath);
    try {
      await back.reconciler.runOnce();
      expect(await ticketRow(db, tk.ticketId)).toMatchObject({ paymentStatus: 'Paid', mpesaReceiptNumber: receipt, confirmedBy: 'callback' });
      expect(await notificationKinds(db, tk.ticketId)).toEqual(['Paid']);
      const rows = await db.selectFrom('callbackinbox').selectAll().where('body', '=', body).orderBy('callbackId').execute();
      expect(rows.map((r) => r.outcome)).toEqual(['applied', 'rejected']);
      // The row keeps the time it arrived, not the time it was moved.
      expect(new Date(`${rows[0]!.receivedAt.replace(' ', 'T')}Z`).getTime()).toBe(Date.parse(String(spooled[0]!.receivedAt)));
      const audit = await db.selectFrom('auditlog').selectAll().where('callbackId', '=', rows[0]!.callbackId).execute();
      expect(audit).toMatchObject([{ actor: 'spool', action: 'callback.spooled', detail: `spool ${String(spooled[0]!.spoolId)}` }]);
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      await back.handle.close();
    }
  });

  it('when the spool is drained twice (a crash before it was cleared, or a drainer that died), then each callback is in the inbox once and applied once', async () => {
    const tk = await insertPendingTicket(db);
    const body = JSON.stringify(failureCallback({ checkoutRequestId: tk.checkoutRequestId!, resultCode: 1032, resultDesc: 'Request cancelled by user' }));
    const down = await downInstance();
    expect((await post(down.app, body)).status).toBe(200);
    const copy = join(dir, 'copy');
    copyFileSync(spoolPath, copy);

    const back = await instance(config, spoolPath);
    try {
      expect(await back.intake.drainSpool()).toEqual({ moved: 1, left: 0, unreadable: 0, foreign: 0, foreignOwners: [] });
      // As if the process had died after storing the row but before clearing the file …
      copyFileSync(copy, spoolPath);
      expect(await back.intake.drainSpool()).toEqual({ moved: 1, left: 0, unreadable: 0, foreign: 0, foreignOwners: [] });
      // … or a drainer had claimed the file and died (its pid no longer runs).
      copyFileSync(copy, join(dir, 'callback-spool.jsonl.draining-999999999-dead'));
      expect(await back.intake.drainSpool()).toEqual({ moved: 1, left: 0, unreadable: 0, foreign: 0, foreignOwners: [] });
      rmSync(copy);

      expect((await inboxRowsFor(db, tk.checkoutRequestId!)).map((r) => r.outcome)).toEqual(['applied']);
      expect(await ticketRow(db, tk.ticketId)).toMatchObject({ paymentStatus: 'Failed', holdsTickets: 0 });
      expect(await notificationKinds(db, tk.ticketId)).toEqual(['Failed']);
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      await back.handle.close();
    }
  });

  it('when 40 callbacks arrive at once with the database down, then all are answered 200 and each is one whole line in the spool', async () => {
    const down = await downInstance();
    const marker = `burst-${newCheckoutId()}`;
    const bodies = Array.from({ length: 40 }, (_, i) =>
      JSON.stringify({ ...successCallback({ checkoutRequestId: `${marker}-${i}`, amount: 10, phone: '254711000000' }), pad: 'x'.repeat(4000 + i) }));
    const answers = await Promise.all(bodies.map((b) => post(down.app, b)));
    for (const a of answers) expect(a.status).toBe(200);

    const spooled = spoolLines(spoolPath);
    expect(spooled.map((e) => e.body).sort()).toEqual([...bodies].sort());
    expect(new Set(spooled.map((e) => e.spoolId)).size).toBe(40);

    const back = await instance(config, spoolPath);
    try {
      expect(await back.intake.drainSpool()).toEqual({ moved: 40, left: 0, unreadable: 0, foreign: 0, foreignOwners: [] });
      const rows = await db.selectFrom('callbackinbox').select(['outcome', 'checkoutRequestId']).where('checkoutRequestId', 'like', `${marker}-%`).execute();
      expect(rows).toHaveLength(40);
      expect(new Set(rows.map((r) => r.outcome))).toEqual(new Set(['unmatched']));
    } finally {
      await back.handle.close();
    }
  });

  it('when a drain runs while the database is still down, then nothing is lost and a later drain moves it', async () => {
    const tk = await insertPendingTicket(db);
    const body = JSON.stringify(successCallback({ checkoutRequestId: tk.checkoutRequestId!, amount: tk.totalAmount, phone: tk.phone }));
    const down = await downInstance();
    expect((await post(down.app, body)).status).toBe(200);
    // A torn line (a crash mid-write, never acknowledged) is dropped without taking the next entry with it.
    writeFileSync(spoolPath, `${readFileSync(spoolPath, 'utf8')}{"spoolId":"torn","bo`, { flag: 'w' });
    expect((await post(down.app, body)).status).toBe(200);

    expect(await down.intake.drainSpool()).toEqual({ moved: 0, left: 2, unreadable: 1, foreign: 0, foreignOwners: [] });
    expect(await inboxRowsFor(db, tk.checkoutRequestId!)).toEqual([]);

    const back = await instance(config, spoolPath);
    try {
      expect(await back.intake.drainSpool()).toEqual({ moved: 2, left: 0, unreadable: 0, foreign: 0, foreignOwners: [] });
      expect((await inboxRowsFor(db, tk.checkoutRequestId!)).map((r) => r.outcome).sort()).toEqual(['applied', 'duplicate']);
      expect((await ticketRow(db, tk.ticketId)).paymentStatus).toBe('Paid');
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      await back.handle.close();
    }
  });

  it('when neither the inbox nor the spool can keep a callback, then it is not acknowledged (503)', async () => {
    const blocked = join(dir, 'a-file');
    writeFileSync(blocked, '');
    const down = await instance(config, join(blocked, 'callback-spool.jsonl'));
    await closeForGood(down.handle);
    const res = await post(down.app, JSON.stringify(successCallback({ checkoutRequestId: newCheckoutId(), amount: 10, phone: '254711000000' })));
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ ResultCode: 1, ResultDesc: 'Temporarily unavailable' });
    rmSync(blocked);
  });
});

describe('where the spool lives by default', () => {
  it('when the database is SQLite, then beside its file; when MySQL, then ./data with the schema in the name', () => {
    expect(defaultSpoolPath('sqlite:./data/tikiti.db')).toBe(join(process.cwd(), 'data', 'callback-spool.jsonl'));
    expect(defaultSpoolPath('sqlite:/tmp/x/t.db')).toBe('/tmp/x/callback-spool.jsonl');
    expect(defaultSpoolPath('mysql://u:p@db:3306/tikiti')).toBe(join(process.cwd(), 'data', 'callback-spool-tikiti.jsonl'));
  });
});
