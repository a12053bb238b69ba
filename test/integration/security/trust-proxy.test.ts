import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../support/app.js';
import { dialects } from '../../support/db.js';
import { forwardingProxy } from '../../support/forwarding-proxy.js';
import { ADMIN_ENV } from '../admin/helpers.js';
import { insertPendingTicket, lastInboxRow, successCallback, ticketRow } from '../payments/helpers.js';

// What TRUST_PROXY decides. Express believes X-Forwarded-For only from a hop it trusts, and the default, `loopback`,
// trusts 127.0.0.0/8 and ::1: the ngrok agent (or a proxy) on this machine. Every 127.x address is loopback, so a
// client "from elsewhere" in this test has to be a real non-loopback address of this machine: its network
// interfaces' addresses, one for the client that must not be believed and one for the client the proxy vouches for.

const TOKEN = 'trustproxy_0123456789abcdef0123456789abcd';
const external = Object.values(networkInterfaces()).flat()
  .filter((a): a is NonNullable<typeof a> => !!a && !a.internal && !a.address.startsWith('fe80:'))
  .map((a) => a.address);
const untrusted = external.find((a) => !a.includes(':'));
const vouched = external.find((a) => a !== untrusted);
const plain = (ip: string | null) => (ip ?? '').replace(/^::ffff:(?=\d+\.)/, '');

/** One POST from a given local address, to a host and port. */
function postFrom(from: string, to: { host: string; port: number }, path: string, body: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const r = httpRequest({
      host: to.host, port: to.port, localAddress: from, method: 'POST', path, agent: false,
      headers: { 'content-type': 'application/json', connection: 'close', ...headers },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    r.on('error', reject);
    r.end(body);
  });
}

describe.skipIf(!untrusted || !vouched).each(dialects)('TRUST_PROXY at its default on %s', (dialect) => {
  let t: TestApp;
  let server: Server;
  let app: { host: string; port: number };
  let proxy: Awaited<ReturnType<typeof forwardingProxy>>;
  beforeAll(async () => {
    // TRUST_PROXY is not set: the default. Only `vouched` may post callbacks.
    t = await createTestApp(dialect, { ...ADMIN_ENV, MPESA_CALLBACK_TOKEN: TOKEN, MPESA_CALLBACK_ALLOWED_IPS: vouched! });
    expect(t.config.trustProxy).toBe('loopback');
    server = createServer(t.app);
    // Every interface, so the untrusted client can reach the app directly at this machine's own address.
    await new Promise<void>((resolve) => server.listen(0, '::', resolve));
    const port = (server.address() as AddressInfo).port;
    app = { host: untrusted!, port };
    // The trusted proxy: on this machine, so it reaches the app over loopback.
    proxy = await forwardingProxy({ host: '127.0.0.1', port }, { host: '::' });
  });
  afterAll(async () => {
    await proxy?.close();
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await t?.close();
  });

  const paid = async () => {
    const tk = await insertPendingTicket(t.database.db);
    return { tk, body: JSON.stringify(successCallback({ checkoutRequestId: tk.checkoutRequestId!, amount: tk.totalAmount, phone: tk.phone })) };
  };
  const path = `/api/payments/callback/${TOKEN}`;

  it('when a client reaches the app directly and claims an allowed address in X-Forwarded-For, then it is not believed: the callback is rejected under its real address', async () => {
    const { tk, body } = await paid();
    for (const claim of [vouched!, `${vouched!}, ${vouched!}`, `1.2.3.4, ${vouched!}`]) {
      const res = await postFrom(untrusted!, app, path, body, { 'x-forwarded-for': claim });
      expect(res.status).toBe(200);
      const row = await lastInboxRow(t.database.db);
      expect(row.outcome, claim).toBe('rejected');
      expect(row.detail).toMatch(/MPESA_CALLBACK_ALLOWED_IPS/);
      expect(plain(row.sourceIp), claim).toBe(untrusted);
    }
    expect((await ticketRow(t.database.db, tk.ticketId)).paymentStatus).toBe('Pending');
  });

  it('when the same claim comes through the trusted proxy, then the address the proxy saw counts, not what the client wrote before it', async () => {
    const { tk, body } = await paid();
    const through = { host: untrusted!, port: proxy.port };
    const forged = await postFrom(untrusted!, through, path, body, { 'x-forwarded-for': vouched! });
    expect(forged.status).toBe(200);
    const row = await lastInboxRow(t.database.db);
    expect(row.outcome).toBe('rejected');
    expect(plain(row.sourceIp)).toBe(untrusted);
    expect((await ticketRow(t.database.db, tk.ticketId)).paymentStatus).toBe('Pending');

    // The allowed address itself, through the proxy: the proxy vouches for it and the payment is applied.
    const honest = await postFrom(vouched!, { host: vouched!, port: proxy.port }, path, body);
    expect(honest.status).toBe(200);
    const applied = await lastInboxRow(t.database.db);
    expect(applied.outcome).toBe('applied');
    expect(plain(applied.sourceIp)).toBe(vouched);
    expect((await ticketRow(t.database.db, tk.ticketId)).paymentStatus).toBe('Paid');
  });

  it('when a direct client changes its X-Forwarded-For on every guess, then its failed sign-ins still add up under its real address', async () => {
    const guess = `Basic ${Buffer.from('ops:guess').toString('base64')}`;
    const get = (n: number, auth: string) => new Promise<number>((resolve, reject) => {
      const r = httpRequest({ host: app.host, port: app.port, localAddress: untrusted!, path: '/admin', agent: false,
        headers: { authorization: auth, 'x-forwarded-for': `10.9.8.${n}`, connection: 'close' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      r.on('error', reject);
      r.end();
    });
    for (let i = 0; i < 10; i++) expect(await get(i, guess)).toBe(401);
    expect(await get(99, guess)).toBe(429);
  });
});
