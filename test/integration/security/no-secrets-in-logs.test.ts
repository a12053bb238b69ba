import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect } from 'node:net';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { csrfFrom } from '../../support/app.js';
import { runningClock } from '../../support/clock.js';
import { dialects } from '../../support/db.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import { waitFor } from '../../support/wait.js';
import { buildMovie } from '../../support/builders.js';
import { refFrom, ticketByRef } from '../bookings/helpers.js';
import { insertPendingTicket, successCallback } from '../payments/helpers.js';
import { Reconciler } from '../../../src/payments/reconciler.js';
import { capturingLogger } from './helpers.js';

// Distinctive values, so any appearance in the logs is a leak and not a coincidence.
const SECRETS = {
  DARAJA_CONSUMER_KEY: 'ckeyQ7vLx2WmZp9RtYs4NbKd',
  DARAJA_CONSUMER_SECRET: 'csecH3jFq8UeLw5TzAa6PgMc',
  DARAJA_PASSKEY: 'pkeyN4bVr7KsYx2QdJm9EhWt1c5LzUo8FgRa3TiPnC6XwMk',
  MPESA_CALLBACK_TOKEN: 'cbtok0f4e8a2b6c1d9e7f3a5b0c8d2e6f4a1b9c7d',
  ADMIN_PASSWORD: 'admpwZx8Kq3Vn6Lr9Tb2',
  CSRF_SECRET: 'csrfsecY5uI9oP3aS7dF1gH4jK8lZ2xC6vB0n',
};
const OTHER = {
  // A second app whose credentials the simulator refuses: the failure path logs too.
  DARAJA_CONSUMER_KEY: 'wrongkeyB8nM3qW6eR1tY4',
  DARAJA_CONSUMER_SECRET: 'wrongsecJ5kL9zX2cV7bN0',
};
const ADMIN_USER = 'opsleak';

/** Every way a secret could be written: as is, in Base64 (a Basic header, a Password), base64url and URL-encoded. */
function encodings(secret: string): string[] {
  const b = Buffer.from(secret);
  return [...new Set([secret, b.toString('base64'), b.toString('base64').replace(/=+$/, ''), b.toString('base64url'), encodeURIComponent(secret)])];
}

/** Records what the simulator issues and receives: access tokens and the Base64 Passwords of pushes and queries. */
function recordDarajaSecrets(s: TestServer, into: Set<string>) {
  s.server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    if (!req.url?.startsWith('/simulator/')) return;
    const end = res.end.bind(res) as (...a: unknown[]) => ServerResponse;
    (res as unknown as { end: (...a: unknown[]) => ServerResponse }).end = (...args: unknown[]) => {
      const chunk = args[0];
      if (typeof chunk === 'string' || Buffer.isBuffer(chunk)) {
        const m = /"access_token":"([^"]+)"/.exec(String(chunk));
        if (m) into.add(m[1]!);
      }
      const body = (req as IncomingMessage & { body?: Record<string, unknown> }).body;
      if (body && typeof body.Password === 'string') into.add(body.Password);
      const auth = req.headers.authorization;
      if (auth) into.add(auth.replace(/^\w+\s+/, ''));
      return end(...args);
    };
  });
}

/**
 * One POST written on a socket exactly as given. An HTTP client (and the interceptor nock puts in front of every one
 * in tests) reads a path of '//api/…' as a URL on another host, 'api'; a hostile client can send it as is.
 */
function rawPost(port: number, path: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString()));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
    socket.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });
}

describe.each(dialects)('no secret in any log line on %s', (dialect) => {
  const capture = capturingLogger('trace');
  const issued = new Set<string>();
  const consoleOut: string[] = [];
  let s: TestServer;
  let refused: TestServer;
  // The app's clock: moved on past PAYMENT_TIMEOUT_SECONDS instead of waiting it out.
  const clock = runningClock();

  beforeAll(async () => {
    for (const m of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      vi.spyOn(console, m).mockImplementation((...a: unknown[]) => void consoleOut.push(a.map(String).join(' ')));
    }
    s = await startTestServer(dialect, {
      ...SECRETS, ADMIN_USER, LOG_LEVEL: 'trace', PAYMENT_TIMEOUT_SECONDS: '1', RATE_LIMIT_PUSHES_PER_PHONE: '100',
    }, { logger: capture.logger, now: clock.now });
    recordDarajaSecrets(s, issued);
    refused = await startTestServer(dialect, {
      ...OTHER, DARAJA_BASE_URL: `${s.baseUrl}/simulator`, MPESA_CALLBACK_TOKEN: 'othertok0123456789abcdef0123456789abcdef', LOG_LEVEL: 'trace',
    }, { logger: capture.logger.child({ app: 'second' }) });

    const book = async (app: TestServer, phone: string) => {
      const movieId = await buildMovie(app.database.db);
      const agent = request.agent(app.app);
      const _csrf = await csrfFrom(agent, `/movies/${movieId}`);
      const res = await agent.post('/bookings').type('form').send({ _csrf, movieId: String(movieId), customerName: 'Log Watcher', phoneNumber: phone, quantity: '2' });
      expect(res.status).toBe(303);
      return { ref: refFrom(res.headers.location), agent, _csrf };
    };
    const statusOf = async (app: TestServer, ref: string) => (await ticketByRef(app.database.db, ref)).paymentStatus;

    // booking → push → callback → Paid
    const paid = await book(s, '0708374149');
    // a push refused at once, then retried (refused again)
    const busy = await book(s, '254700000007');
    // a push answered by a failure callback
    const poor = await book(s, '254700000002');
    // a push that never gets a callback: the reconciler asks with STK Query
    const silent = await book(s, '254700000005');
    await waitFor('Paid', async () => (await statusOf(s, paid.ref)) === 'Paid');
    await waitFor('Failed', async () => (await statusOf(s, poor.ref)) === 'Failed');
    expect(await statusOf(s, busy.ref)).toBe('Failed');
    expect((await busy.agent.post(`/tickets/${busy.ref}/retry`).type('form').send({ _csrf: busy._csrf })).status).toBe(303);
    // Paid on the simulated phone (after SIMULATOR_DELAY_MS), then due for the reconciler's STK Query.
    await waitFor('the 254700000005 prompt paid', () => s.services.simulator!.prompts().some((p) => p.phoneNumber === '254700000005' && p.status === 'finished'));
    clock.advance(1100);
    const reconciler = s.services.jobs.find((j): j is Reconciler => j instanceof Reconciler);
    expect(reconciler).toBeDefined();
    await reconciler!.runOnce();
    await waitFor('Paid by query', async () => (await statusOf(s, silent.ref)) === 'Paid');
    for (const t of [paid, busy, poor, silent]) {
      await t.agent.get(`/tickets/${t.ref}`);
      await t.agent.get(`/tickets/${t.ref}/status`);
    }
    // The outbox goes to the log channel (no SMTP here): one line per message.
    expect((await s.services.notifications.runOnce()).sent).toBeGreaterThanOrEqual(3);

    // the admin, with Basic auth, reading and posting
    const auth = `Basic ${Buffer.from(`${ADMIN_USER}:${SECRETS.ADMIN_PASSWORD}`).toString('base64')}`;
    const admin = request.agent(s.app);
    expect((await admin.get('/admin').set('Authorization', auth)).status).toBe(200);
    const form = await admin.get('/admin/movies/new').set('Authorization', auth);
    const token = /name="_csrf" value="([^"]+)"/.exec(form.text)![1]!;
    await admin.post('/admin/movies').set('Authorization', auth).type('form').send({ _csrf: token, title: 'Logged', showTime: '2031-01-01T20:00', price: '20', maximumTickets: '10' });
    await request(s.app).get('/admin').set('Authorization', `Basic ${Buffer.from(`${ADMIN_USER}:wrong-${SECRETS.ADMIN_PASSWORD}`).toString('base64')}`);
    await request(s.app).post('/admin/api/movies').set('Authorization', auth).send({ title: 'API', showTime: '2031-01-01T20:00:00Z', price: 5, maximumTickets: 5 });

    // callbacks posted with the token: good, wrong, for an unknown payment, garbage, and through odd spellings of the path
    const tk = await insertPendingTicket(s.database.db);
    const cb = (path: string, body: string) => request(s.app).post(path).set('Content-Type', 'application/json').send(body);
    const good = JSON.stringify(successCallback({ checkoutRequestId: tk.checkoutRequestId!, amount: tk.totalAmount, phone: tk.phone }));
    await cb(`/api/payments/callback/${SECRETS.MPESA_CALLBACK_TOKEN}`, good);
    await cb(`/api/payments/callback/${SECRETS.MPESA_CALLBACK_TOKEN}`, '{"not":"a callback"}');
    await cb(`/api/payments/callback/${SECRETS.MPESA_CALLBACK_TOKEN}?retry=1`, good);
    await cb(`/API/Payments/Callback/${SECRETS.MPESA_CALLBACK_TOKEN}`, good);
    await cb(`/api/payments/callback/${SECRETS.MPESA_CALLBACK_TOKEN}/`, good);
    expect(await rawPost(s.port, `//api/payments/callback/${SECRETS.MPESA_CALLBACK_TOKEN}`, good)).toMatch(/^HTTP\/1\.1 \d{3} /);
    await cb(`/api/payments/callback/${SECRETS.MPESA_CALLBACK_TOKEN.slice(0, -3)}`, good);
    await request(s.app).get(`/api/payments/callback/${SECRETS.MPESA_CALLBACK_TOKEN}`);

    // the second app: Daraja (the simulator) refuses its credentials, so its push fails
    const failed = await book(refused, '254708374149');
    expect(await statusOf(refused, failed.ref)).toBe('Failed');
    // and a query with them
    await refused.services.daraja.stkQuery('ws_CO_000000000000000000000').catch(() => undefined);
  }, 90_000);

  afterAll(async () => {
    await refused?.close();
    await s?.close();
    vi.restoreAllMocks();
  });

  it('when the whole flow ran at LOG_LEVEL=trace, then the logs are real: requests, pushes, callbacks, the reconciler and the admin all logged', () => {
    const text = capture.text();
    expect(capture.lines.length).toBeGreaterThan(50);
    for (const needle of ['payments.push.accepted', 'payments.push.refused', 'payments.callback', 'daraja.token', '"statusCode":401', '/admin', 'reconcile']) {
      expect(text, needle).toContain(needle);
    }
    // The simulator issued tokens and checked Passwords, so the search below has them.
    const values = [...issued];
    expect(values.filter((v) => /^[A-Za-z0-9]{28}$/.test(v)).length, 'access tokens').toBeGreaterThanOrEqual(1);
    expect(values.filter((v) => Buffer.from(v, 'base64').toString().includes(SECRETS.DARAJA_PASSKEY)).length, 'Passwords').toBeGreaterThanOrEqual(1);
    expect(values, 'Basic credentials of the token request').toContain(Buffer.from(`${SECRETS.DARAJA_CONSUMER_KEY}:${SECRETS.DARAJA_CONSUMER_SECRET}`).toString('base64'));
  });

  it('when every log line is searched for every secret (as is and encoded), then none is found', () => {
    const text = capture.text() + consoleOut.join('\n');
    const secrets = new Map<string, string>();
    for (const [k, v] of Object.entries({ ...SECRETS })) secrets.set(k, v);
    secrets.set('second app consumer key', OTHER.DARAJA_CONSUMER_KEY);
    secrets.set('second app consumer secret', OTHER.DARAJA_CONSUMER_SECRET);
    secrets.set('Daraja Basic credentials', `${SECRETS.DARAJA_CONSUMER_KEY}:${SECRETS.DARAJA_CONSUMER_SECRET}`);
    secrets.set('admin Basic credentials', `${ADMIN_USER}:${SECRETS.ADMIN_PASSWORD}`);
    for (const v of issued) secrets.set(`issued/seen by the simulator: ${v.slice(0, 6)}…`, v);
    const leaks: string[] = [];
    for (const [name, secret] of secrets) {
      for (const form of encodings(secret)) {
        const i = text.indexOf(form);
        if (i >= 0) leaks.push(`${name} (${form === secret ? 'raw' : 'encoded'}): …${text.slice(Math.max(0, i - 120), i + form.length + 40)}…`);
      }
    }
    expect(leaks).toEqual([]);
  });

  it('when every log line is searched for every ticket reference, then none is found, and ticket URLs show [ref]', async () => {
    const refs = [
      ...(await s.database.db.selectFrom('ticket').select('ref').execute()),
      ...(await refused.database.db.selectFrom('ticket').select('ref').execute()),
    ].map((r) => r.ref);
    expect(refs.length).toBeGreaterThanOrEqual(6);
    const text = capture.text() + consoleOut.join('\n');
    expect(refs.filter((ref) => text.includes(ref))).toEqual([]);
    const ticketUrls = capture.lines.map((l) => /"url":"(\/tickets\/[^"]*)"/.exec(l)?.[1]).filter((u): u is string => !!u);
    expect(ticketUrls.length).toBeGreaterThanOrEqual(4);
    for (const u of ticketUrls) expect(u).toMatch(/^\/tickets\/\[ref\](\/status|\/retry)?$/);
  });

  it('when the lines at info and above are searched for the customers\' names, then none is found (they may only appear at debug and trace)', () => {
    const atInfo = capture.lines.filter((l) => (JSON.parse(l) as { level: number }).level >= 30);
    expect(atInfo.length).toBeGreaterThan(20);
    expect(atInfo.some((l) => l.includes('notification.logged'))).toBe(true);
    for (const name of ['Log Watcher', 'Wanjiru Test']) expect(atInfo.filter((l) => l.includes(name)), name).toEqual([]);
  });

  it('when the callback URL shows up in a log line, then its token segment is [redacted]', () => {
    const urls = capture.lines.filter((l) => /"url":"[^"]*payments\/+callback/i.test(l));
    expect(urls.length).toBeGreaterThanOrEqual(7);
    for (const l of urls) expect(/"url":"([^"]*)"/.exec(l)![1]).toMatch(/callback\/\[redacted\]$/i);
  });
});

describe.each(dialects)('no ticket reference and no customer name in the logs at LOG_LEVEL=info on %s', (dialect) => {
  const capture = capturingLogger('info');
  let s: TestServer;
  const refs: string[] = [];
  beforeAll(async () => {
    s = await startTestServer(dialect, { LOG_LEVEL: 'info', ADMIN_USER, ADMIN_PASSWORD: SECRETS.ADMIN_PASSWORD, RATE_LIMIT_PUSHES_PER_PHONE: '100' }, { logger: capture.logger });
    const movieId = await buildMovie(s.database.db);
    for (const phone of ['0708374149', '254700000001', '254700000007', '254700000002']) {
      const agent = request.agent(s.app);
      const _csrf = await csrfFrom(agent, `/movies/${movieId}`);
      const res = await agent.post('/bookings').type('form').send({ _csrf, movieId: String(movieId), customerName: 'Info Level Customer', phoneNumber: phone, quantity: '1' });
      expect(res.status).toBe(303);
      const ref = refFrom(res.headers.location);
      refs.push(ref);
      await agent.get(`/tickets/${ref}`);
      await agent.get(`/tickets/${ref}/status`);
      await agent.get(`/TICKETS/${ref}/`);
      await agent.post(`/tickets/${ref}/retry`).type('form').send({ _csrf });
    }
    await waitFor('Paid', async () => (await ticketByRef(s.database.db, refs[0]!)).paymentStatus === 'Paid', { timeout: 10_000 });
    await waitFor('Failed', async () => (await ticketByRef(s.database.db, refs[3]!)).paymentStatus === 'Failed', { timeout: 10_000 });
    expect((await s.services.notifications.runOnce()).sent).toBeGreaterThanOrEqual(2);
    // An operator finds a ticket by its reference (a wrong one first), and opens it.
    const auth = `Basic ${Buffer.from(`${ADMIN_USER}:${SECRETS.ADMIN_PASSWORD}`).toString('base64')}`;
    const cb = await insertPendingTicket(s.database.db);
    const admin = request.agent(s.app);
    const inbox = await s.database.db.insertInto('callbackinbox').values({
      receivedAt: '2030-01-01 00:00:00.000', source: 'callback', sourceIp: null, body: '{}', checkoutRequestId: cb.checkoutRequestId, outcome: 'unmatched', detail: null, ticketId: null, processedAt: null,
    }).executeTakeFirstOrThrow();
    const page = await admin.get(`/admin/callbacks/${Number(inbox.insertId)}`).set('Authorization', auth);
    const token = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;
    await admin.post(`/admin/callbacks/${Number(inbox.insertId)}/assign`).set('Authorization', auth).type('form').send({ _csrf: token, ticket: `${s.baseUrl}/tickets/${refs[0]}` });
  }, 60_000);
  afterAll(async () => {
    await s?.close();
  });

  it('when bookings, ticket pages, retries, notifications and the operator ran, then no line holds a reference or the customer\'s name', () => {
    const text = capture.text();
    expect(capture.lines.length).toBeGreaterThan(20);
    expect(text).toContain('notification.logged');
    expect(text).toContain('/tickets/[ref]/status');
    expect(refs.filter((ref) => text.includes(ref))).toEqual([]);
    expect(text).not.toContain('Info Level Customer');
    expect(text).not.toContain('Wanjiru Test');
  });
});
