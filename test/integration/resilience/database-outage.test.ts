import { randomBytes } from 'node:crypto';
import { createConnection } from 'mysql2/promise';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';
import { formSession, postBooking, postCallback, send, spawnApp, type Sent } from '../../support/process.js';
import { tcpProxy, type TcpProxy } from '../../support/tcp-proxy.js';
import { insertPendingTicket, newReceipt, successCallback } from '../payments/helpers.js';
import { buildMovie } from '../../support/builders.js';
import { inboxCheckoutIds, sleep, strayCallback } from './helpers.js';

// The database going away under a running app, and an app started while it is away, with a TCP proxy in front of
// MariaDB standing in for the database server. Only MySQL can be away like this; SQLite's one failure, a file that
// cannot be opened, is refused at start (startup.test.ts).

const ADMIN = { ADMIN_USER: 'ops', ADMIN_PASSWORD: 'outage admin password' };
const AUTH = `Basic ${Buffer.from(`${ADMIN.ADMIN_USER}:${ADMIN.ADMIN_PASSWORD}`).toString('base64')}`;
const CALM = 'Tikiti cannot reach its database for a moment. Nothing is lost';

/** A MySQL user with a password of its own on the test database, and the app's URL through the proxy. */
async function appUser(database: TestDatabase, proxy: TcpProxy): Promise<{ url: string; password: string; drop(): Promise<void> }> {
  const admin = await createConnection(process.env.TEST_MYSQL_URL!);
  const user = `tikiti_o_${randomBytes(4).toString('hex')}`;
  const password = `pw-${randomBytes(9).toString('hex')}`;
  const schema = new URL(database.url).pathname.slice(1);
  for (const host of ['%', 'localhost', '127.0.0.1']) {
    await admin.query(`CREATE USER '${user}'@'${host}' IDENTIFIED BY '${password}'`);
    await admin.query(`GRANT ALL ON \`${schema}\`.* TO '${user}'@'${host}'`);
  }
  await admin.end();
  return {
    url: `mysql://${user}:${password}@${proxy.address}/${schema}`,
    password,
    async drop() {
      const c = await createConnection(process.env.TEST_MYSQL_URL!);
      for (const host of ['%', 'localhost', '127.0.0.1']) await c.query(`DROP USER IF EXISTS '${user}'@'${host}'`);
      await c.end();
    },
  };
}

const mysqlTarget = () => {
  const u = new URL(process.env.TEST_MYSQL_URL!);
  return { host: u.hostname, port: Number(u.port || 3306) };
};

interface Answer { what: string; startedAt: number; endedAt: number; sent: Sent }

const answered = (s: Sent): s is Extract<Sent, { kind: 'answered' }> => s.kind === 'answered';

/** 503 with Retry-After and the calm message, as a page or as the error JSON. */
function expectCalm503(a: Answer, json: boolean) {
  expect(a.sent, a.what).toMatchObject({ kind: 'answered', status: 503 });
  const s = a.sent as Extract<Sent, { kind: 'answered' }>;
  expect(Number(s.headers['retry-after']), a.what).toBeGreaterThan(0);
  if (json) {
    expect(s.headers['content-type'], a.what).toMatch(/application\/json/);
    expect(JSON.parse(s.body).error, a.what).toMatchObject({ code: 'DATABASE_UNAVAILABLE', message: expect.stringContaining(CALM) });
  } else {
    expect(s.headers['content-type'], a.what).toMatch(/text\/html/);
    expect(s.body, a.what).toContain(CALM);
    expect(s.body, a.what).not.toMatch(/ECONN|mysql|kysely|\n\s+at /i);
  }
}

describe.skipIf(!process.env.TEST_MYSQL_URL)('a database outage on MySQL', () => {
  it('when the database goes away under bookings, pages and callbacks, then pages and JSON are 503 with Retry-After (never 500), readyz 503, callbacks 200; once it is back it serves and the callbacks are applied', { timeout: 120_000 }, async () => {
    const database = await createTestDatabase('mysql');
    const proxy = await tcpProxy(mysqlTarget());
    const user = await appUser(database, proxy);
    const db = database.db;
    const movieId = await buildMovie(db, { price: 10, maximumTickets: 5000 });
    const tk = await insertPendingTicket(db);
    const { ref } = await db.selectFrom('ticket').select('ref').where('ticketId', '=', tk.ticketId).executeTakeFirstOrThrow();
    const app = await spawnApp(user.url, { ...ADMIN, PAYMENT_TIMEOUT_SECONDS: '600' });
    onTestFinished(async () => {
      await app.stop(2000);
      await proxy.close();
      await user.drop();
      await database.drop();
    });
    const session = await formSession(app.baseUrl, movieId);

    const answers: Answer[] = [];
    const record = async (what: string, go: () => Promise<Sent>) => {
      const startedAt = Date.now();
      const sent = await go();
      answers.push({ what, startedAt, endedAt: Date.now(), sent });
      return sent;
    };
    const get = (url: string, headers: Record<string, string> = {}) => () => send({ method: 'GET', url: `${app.baseUrl}${url}`, headers });
    const pages: Array<[string, () => Promise<Sent>]> = [
      ['page /', get('/')],
      [`page /movies/${movieId}`, get(`/movies/${movieId}`)],
      ['page /tickets/…', get(`/tickets/${ref}`)],
      ['json /tickets/…/status', get(`/tickets/${ref}/status`)],
      ['json /api/movies', get('/api/movies')],
      ['page /admin', get('/admin', { authorization: AUTH })],
      ['json /admin/api/movies', () => send({
        method: 'POST', url: `${app.baseUrl}/admin/api/movies`, headers: { authorization: AUTH, 'content-type': 'application/json' },
        body: JSON.stringify({ title: 'During', showTime: '2031-01-01T20:00:00Z', price: 5, maximumTickets: 5 }),
      })],
    ];
    let stop = false;
    let seq = 0;
    const strays: string[] = [];
    const loop = async (worker: number) => {
      while (!stop) {
        const n = seq++;
        if (n % 3 === 0) {
          await record('booking', () => postBooking(app.baseUrl, session, { movieId, customerName: `Outage ${n}`, phoneNumber: '0708374149', quantity: 1 }));
        } else if (n % 3 === 1) {
          const id = `ws_CO_outage_${worker}_${n}_${randomBytes(3).toString('hex')}`;
          strays.push(id);
          await record('callback', () => postCallback(app.baseUrl, strayCallback(id)));
        } else {
          const [what, go] = pages[n % pages.length]!;
          await record(what, go);
        }
        await sleep(20);
      }
    };
    const running = Promise.all([0, 1, 2].map(loop));

    await sleep(800);
    const closedAt = Date.now();
    await proxy.close();
    // The payment for our ticket arrives while the database is away.
    const receipt = newReceipt();
    const paid = JSON.stringify(successCallback({ checkoutRequestId: tk.checkoutRequestId!, amount: tk.totalAmount, phone: tk.phone, receipt }));
    expect(await record('callback', () => postCallback(app.baseUrl, paid))).toMatchObject({ kind: 'answered', status: 200 });
    await expect.poll(async () => (await send({ method: 'GET', url: `${app.baseUrl}/readyz` })), { timeout: 15_000 })
      .toMatchObject({ kind: 'answered', status: 503 });
    // Long enough for every kind of request to meet the outage several times.
    await expect.poll(() => pages.every(([what]) => answers.filter((a) => a.what === what && a.startedAt > closedAt).length >= 2), { timeout: 20_000 }).toBe(true);
    const openedAt = Date.now();
    await proxy.open();
    await expect.poll(async () => (await send({ method: 'GET', url: `${app.baseUrl}/readyz` })), { timeout: 15_000 })
      .toMatchObject({ kind: 'answered', status: 200 });
    const backAt = Date.now();
    await sleep(1000);
    stop = true;
    await running;

    // Never a 500, never a dropped connection, from start to end.
    expect(answers.filter((a) => !answered(a.sent) || a.sent.status >= 500 && a.sent.status !== 503).map((a) => `${a.what}: ${JSON.stringify(a.sent).slice(0, 200)}`)).toEqual([]);
    // Every callback was acknowledged, outage or not.
    const callbacks = answers.filter((a) => a.what === 'callback');
    expect(callbacks.filter((a) => !(answered(a.sent) && a.sent.status === 200))).toEqual([]);
    // While the database was away (asked after it went, answered before it came back): the calm 503.
    const during = answers.filter((a) => a.startedAt > closedAt + 100 && a.endedAt < openedAt && a.what !== 'callback');
    expect(during.length).toBeGreaterThan(10);
    for (const a of during) expectCalm503(a, a.what.startsWith('json'));
    expect(during.filter((a) => a.what === 'booking').length).toBeGreaterThan(0);
    // Before and after it, the app served: bookings were taken on both sides of the outage.
    const booked = answers.filter((a) => a.what === 'booking' && answered(a.sent) && a.sent.status === 303);
    expect(booked.some((a) => a.endedAt < closedAt)).toBe(true);
    expect(booked.some((a) => a.startedAt > backAt)).toBe(true);

    // Every acknowledged callback reaches the inbox (from the spool, for those that came during the outage), and the
    // payment made during it is applied: the ticket is Paid with its receipt.
    await expect.poll(async () => {
      const inbox = new Set(await inboxCheckoutIds(db));
      return strays.filter((id) => !inbox.has(id)).length;
    }, { timeout: 20_000 }).toBe(0);
    await expect.poll(async () => db.selectFrom('ticket').select(['paymentStatus', 'mpesaReceiptNumber', 'confirmedBy']).where('ticketId', '=', tk.ticketId).executeTakeFirstOrThrow(), { timeout: 20_000 })
      .toEqual({ paymentStatus: 'Paid', mpesaReceiptNumber: receipt, confirmedBy: 'callback' });
    expect(app.output()).not.toContain(user.password);
  });

  it('when the app starts while the database is away, then it listens at once (healthz 200, readyz 503, pages 503, callbacks 200), says where it keeps trying, and serves once the database is there', { timeout: 120_000 }, async () => {
    // A database that is not even migrated yet: "ready" means reachable and migrated.
    const database = await createTestDatabase('mysql', { migrate: false });
    const proxy = await tcpProxy(mysqlTarget(), { open: false });
    const user = await appUser(database, proxy);
    const app = await spawnApp(user.url, { ...ADMIN, LOG_LEVEL: 'info' }, { waitFor: '/healthz' });
    onTestFinished(async () => {
      await app.stop(2000);
      await proxy.close();
      await user.drop();
      await database.drop();
    });
    const at = (url: string, headers: Record<string, string> = {}) => send({ method: 'GET', url: `${app.baseUrl}${url}`, headers });
    const answer = async (what: string, go: () => Promise<Sent>): Promise<Answer> => ({ what, startedAt: 0, endedAt: 0, sent: await go() });

    expect(await at('/healthz')).toMatchObject({ kind: 'answered', status: 200 });
    expect(await at('/readyz')).toMatchObject({ kind: 'answered', status: 503, body: JSON.stringify({ status: 'database unavailable' }) });
    expectCalm503(await answer('page /', () => at('/')), false);
    expectCalm503(await answer('page /movies/1', () => at('/movies/1')), false);
    expectCalm503(await answer('page /admin', () => at('/admin', { authorization: AUTH })), false);
    expectCalm503(await answer('json /api/movies', () => at('/api/movies')), true);
    expectCalm503(await answer('json /tickets/x/status', () => at('/tickets/Ehmjsq_WhcRK4WNnNjVdId-k/status')), true);
    expect(await at('/css/site.css')).toMatchObject({ kind: 'answered', status: 200 });
    const early = `ws_CO_before_start_${randomBytes(4).toString('hex')}`;
    expect(await postCallback(app.baseUrl, strayCallback(early))).toMatchObject({ kind: 'answered', status: 200 });

    // One line per attempt names DATABASE_URL's host and port, never its password.
    await expect.poll(() => app.output().split('\n').filter((l) => l.includes(`DATABASE_URL: MySQL at ${proxy.address} cannot be reached (ECONNREFUSED)`)).length, { timeout: 15_000 })
      .toBeGreaterThanOrEqual(2);
    expect(app.output()).not.toContain(user.password);

    await proxy.open();
    await expect.poll(async () => (await at('/readyz')), { timeout: 20_000 }).toMatchObject({ kind: 'answered', status: 200 });
    const home = await at('/');
    expect(home).toMatchObject({ kind: 'answered', status: 200 });
    // Migrated and seeded once it could: the demo catalogue is on the page.
    expect((home as Extract<Sent, { kind: 'answered' }>).body).toMatch(/href="\/movies\/\d+"/);
    await expect.poll(async () => (await inboxCheckoutIds(database.db)).includes(early), { timeout: 20_000 }).toBe(true);
    expect(app.output()).toContain('The database is reachable again');
    expect(app.output()).not.toContain(user.password);
  });
});
