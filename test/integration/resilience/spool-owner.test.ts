import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { describe, expect, it, onTestFinished } from 'vitest';
import { openDatabase, type Db } from '../../../src/core/db/database.js';
import { createTestDatabase } from '../../support/db.js';
import { REPO_ROOT, postCallback, send, spawnApp, type AppProcess } from '../../support/process.js';
import { tcpProxy } from '../../support/tcp-proxy.js';
import { waitFor } from '../../support/wait.js';
import { insertPendingTicket, successCallback, ticketRow } from '../payments/helpers.js';

// The callback spool belongs to one database: apps of different databases run from one folder share the spool file,
// and each drains only its own database's callbacks into its inbox, leaving (and reporting) the others'.

const ADMIN = { ADMIN_USER: 'ops', ADMIN_PASSWORD: 'spool owner admin password' };
const AUTH = `Basic ${Buffer.from(`${ADMIN.ADMIN_USER}:${ADMIN.ADMIN_PASSWORD}`).toString('base64')}`;
const QUIET = { PAYMENT_TIMEOUT_SECONDS: '600', ...ADMIN };

const databaseId = async (db: Db) =>
  (await db.selectFrom('appsecret').select('value').where('name', '=', 'database-id').executeTakeFirstOrThrow()).value;

const inboxRowsWith = (db: Db, checkoutRequestId: string) =>
  db.selectFrom('callbackinbox').select(['outcome', 'body']).where('body', 'like', `%${checkoutRequestId}%`).execute();

const spooledLines = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '') : []);

async function adminCallbacksPage(app: AppProcess): Promise<string> {
  const r = await send({ method: 'GET', url: `${app.baseUrl}/admin/callbacks`, headers: { authorization: AUTH } });
  return r.kind === 'answered' && r.status === 200 ? r.body : '';
}

describe('the callback spool belongs to one database', () => {
  it('when two apps of two SQLite files in one folder share the spool, then each drains only its own callbacks; the other\'s are left in the spool, logged and shown to an operator, until its own app drains them', { timeout: 90_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tikiti-spool-owner-'));
    const [xUrl, yUrl] = [`sqlite:${join(dir, 'x.db')}`, `sqlite:${join(dir, 'y.db')}`];
    const apps: AppProcess[] = [];
    const handles: Array<{ close(): Promise<void> }> = [];
    onTestFinished(async () => {
      await Promise.all(apps.map((a) => a.stop(2000)));
      for (const h of handles) await h.close();
      rmSync(dir, { recursive: true, force: true });
    });
    // B drains only soon after it starts; A drains every second, so A sees B's callback first.
    const b = await spawnApp(yUrl, { ...QUIET, RECONCILE_INTERVAL_SECONDS: '3600' });
    apps.push(b);
    const a = await spawnApp(xUrl, { ...QUIET, RECONCILE_INTERVAL_SECONDS: '1' });
    apps.push(a);
    const [x, y] = [await openDatabase(xUrl), await openDatabase(yUrl)];
    handles.push(x, y);
    const spool = join(dir, 'callback-spool.jsonl');

    // B's callback is spooled: another process holds y.db's write lock when it arrives.
    const tk = await insertPendingTicket(y.db);
    const body = JSON.stringify(successCallback({ checkoutRequestId: tk.checkoutRequestId!, amount: tk.totalAmount, phone: tk.phone }));
    const locker = new Database(join(dir, 'y.db'));
    locker.exec('BEGIN IMMEDIATE');
    const sent = await postCallback(b.baseUrl, body);
    locker.exec('COMMIT');
    locker.close();
    expect(sent).toMatchObject({ kind: 'answered', status: 200 });
    const yId = await databaseId(y.db);
    expect(yId).not.toBe(await databaseId(x.db));
    const [line] = spooledLines(spool);
    expect(JSON.parse(line!)).toMatchObject({ body, databaseId: yId, database: expect.stringMatching(/^[0-9a-f]{16}$/) });

    // A drains the shared spool every second: it leaves B's entry there, says so in its log and on its inbox page.
    await waitFor('A to report the other database\'s callback', async () => (await adminCallbacksPage(a)).includes('id="foreign-spool"'), { timeout: 15_000, interval: 200 });
    const page = await adminCallbacksPage(a);
    expect(page).toContain('1 callback in the spool file belong to another database');
    expect(page).toContain(`database id ${yId}`);
    expect(a.output()).toContain('payments.spool.foreign');
    expect(a.output()).toContain(yId);
    expect(await inboxRowsWith(x.db, tk.checkoutRequestId!)).toEqual([]);
    expect(await inboxRowsWith(y.db, tk.checkoutRequestId!)).toEqual([]);
    expect((await ticketRow(y.db, tk.ticketId)).paymentStatus).toBe('Pending');
    await waitFor('the entry back in the spool file', async () => spooledLines(spool).some((l) => l.includes(tk.checkoutRequestId!)), { timeout: 5000, interval: 50 });

    // B, started again, drains it into y.db, where it pays its ticket; x.db never saw it.
    await b.stop();
    const b2 = await spawnApp(yUrl, { ...QUIET, PORT: String(b.port), RECONCILE_INTERVAL_SECONDS: '1' });
    apps.push(b2);
    await waitFor('the callback applied in its own database', async () => (await ticketRow(y.db, tk.ticketId)).paymentStatus === 'Paid', { timeout: 20_000, interval: 100 });
    expect(await inboxRowsWith(y.db, tk.checkoutRequestId!)).toEqual([{ outcome: 'applied', body }]);
    expect(await inboxRowsWith(x.db, tk.checkoutRequestId!)).toEqual([]);
    await waitFor('A to see the spool clear', async () => !(await adminCallbacksPage(a)).includes('id="foreign-spool"'), { timeout: 10_000, interval: 200 });
  });

  it.skipIf(!process.env.TEST_MYSQL_URL)('when a MySQL database is dropped and made again at the same URL, then callbacks spooled for the old one are not drained into the new one: they are left, logged and shown', { timeout: 90_000 }, async () => {
    const database = await createTestDatabase('mysql');
    const schema = new URL(database.url).pathname.slice(1);
    const server = new URL(process.env.TEST_MYSQL_URL!);
    const proxy = await tcpProxy({ host: server.hostname, port: Number(server.port || 3306) });
    const viaProxy = new URL(database.url);
    viaProxy.host = proxy.address;
    const url = viaProxy.toString();
    const spool = join(REPO_ROOT, 'data', `callback-spool-${schema}.jsonl`);
    const apps: AppProcess[] = [];
    let fresh: { close(): Promise<void> } | undefined;
    onTestFinished(async () => {
      await Promise.all(apps.map((p) => p.stop(2000)));
      await proxy.close();
      await fresh?.close();
      await database.drop();
      const c = await createConnection(process.env.TEST_MYSQL_URL!);
      await c.query(`DROP DATABASE IF EXISTS \`${schema}\``);
      await c.end();
      for (const f of readdirSync(join(REPO_ROOT, 'data')).filter((n) => n.startsWith(`callback-spool-${schema}.jsonl`))) {
        rmSync(join(REPO_ROOT, 'data', f), { force: true });
      }
    });

    const first = await spawnApp(url, { ...QUIET, RECONCILE_INTERVAL_SECONDS: '1' });
    apps.push(first);
    const oldId = await databaseId(database.db);
    const tk = await insertPendingTicket(database.db);
    const body = JSON.stringify(successCallback({ checkoutRequestId: tk.checkoutRequestId!, amount: tk.totalAmount, phone: tk.phone }));
    await proxy.close(); // the database goes away: the callback is spooled
    expect(await postCallback(first.baseUrl, body)).toMatchObject({ kind: 'answered', status: 200 });
    expect(spooledLines(spool).map((l) => JSON.parse(l) as { databaseId?: string })).toEqual([expect.objectContaining({ databaseId: oldId })]);
    await first.stop(2000);

    // The database is dropped and made again under the same name: the same URL, another database.
    const c = await createConnection(process.env.TEST_MYSQL_URL!);
    await c.query(`DROP DATABASE \`${schema}\``);
    await c.query(`CREATE DATABASE \`${schema}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    await c.end();
    await proxy.open();
    const second = await spawnApp(url, { ...QUIET, RECONCILE_INTERVAL_SECONDS: '1' });
    apps.push(second);
    const now = await openDatabase(database.url);
    fresh = now;

    await waitFor('the app to report the old database\'s callback', async () => (await adminCallbacksPage(second)).includes('id="foreign-spool"'), { timeout: 15_000, interval: 200 });
    expect(await adminCallbacksPage(second)).toContain(`database id ${oldId}`);
    expect(second.output()).toContain('payments.spool.foreign');
    expect(await databaseId(now.db)).not.toBe(oldId);
    expect(await inboxRowsWith(now.db, tk.checkoutRequestId!)).toEqual([]);
    await waitFor('the entry back in the spool file', async () => spooledLines(spool).some((l) => l.includes(tk.checkoutRequestId!)), { timeout: 5000, interval: 50 });
  });
});
