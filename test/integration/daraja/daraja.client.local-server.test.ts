import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DarajaClient } from '../../../src/daraja/daraja.client.js';
import { DarajaNetworkError } from '../../../src/daraja/errors.js';
import { FROZEN_NOW, PHONE, answers, config } from './helpers.js';

// Real sockets on 127.0.0.1: what nock cannot imitate faithfully (a body that trickles in, a closed port, a reset).
type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;
let server: Server;
let baseUrl: string;
let handler: Handler;
const requests: { method: string; url: string }[] = [];

beforeEach(async () => {
  requests.length = 0;
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => { requests.push({ method: req.method ?? '', url: req.url ?? '' }); handler(req, res, body); });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/simulator`;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
};
const frozen = () => new Date(FROZEN_NOW);

describe('the client against a real HTTP server', () => {
  it('when the base URL has a path, then the token and push go under it', async () => {
    handler = (req, res) => (req.method === 'GET' ? json(res, 200, answers.token()) : json(res, 200, answers.pushAccepted()));
    const accepted = await new DarajaClient(config({ baseUrl }), { now: frozen }).stkPush({ phoneNumber: PHONE, amount: 1 });
    expect(accepted.checkoutRequestId).toMatch(/^ws_CO_/);
    expect(requests).toStrictEqual([
      { method: 'GET', url: '/simulator/oauth/v1/generate?grant_type=client_credentials' },
      { method: 'POST', url: '/simulator/mpesa/stkpush/v1/processrequest' },
    ]);
  });

  it('when the answer trickles in a byte at a time, then the push still ends at the deadline', async () => {
    handler = (req, res) => {
      if (req.method === 'GET') return json(res, 200, answers.token());
      res.writeHead(200, { 'Content-Type': 'application/json' });
      const drip = setInterval(() => res.write(' '), 50); // never idle long enough for a socket idle timer
      res.on('close', () => clearInterval(drip));
    };
    const started = Date.now();
    const err = await new DarajaClient(config({ baseUrl, timeoutMs: 400 }), { now: frozen })
      .stkPush({ phoneNumber: PHONE, amount: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DarajaNetworkError);
    expect(err).toMatchObject({ kind: 'timeout', outcome: 'unknown' });
    expect(Date.now() - started).toBeLessThan(400 + 200);
  });

  it('when the server drops the connection after reading the push, then it is a reset with outcome unknown', async () => {
    handler = (req, res) => (req.method === 'GET' ? json(res, 200, answers.token()) : req.socket.destroy());
    const err = await new DarajaClient(config({ baseUrl }), { now: frozen }).stkPush({ phoneNumber: PHONE, amount: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DarajaNetworkError);
    expect(err).toMatchObject({ kind: 'reset', outcome: 'unknown' });
    expect(requests.filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('when nothing listens on the port, then the push is refused with outcome refused', async () => {
    handler = () => undefined;
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    const err = await new DarajaClient(config({ baseUrl }), { now: frozen, retry: { retries: 0 } })
      .stkPush({ phoneNumber: PHONE, amount: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DarajaNetworkError);
    expect(err).toMatchObject({ kind: 'refused', outcome: 'refused' });
    server = createServer(); // for afterEach
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  });
});
