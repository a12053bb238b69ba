import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { dialects } from '../../support/db.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import { REFUND_ENV, askRefund, paidTicket, waitForRefund } from '../refunds/helpers.js';
import { capturingLogger } from './helpers.js';

// The initiator password and the SecurityCredential made from it are secrets: no log line of a refund carries either.

const PASSWORD = 'initPwQ4zR8mX2vB6nK1';
const CERT = fileURLToPath(new URL('../../../src/simulator/keys/simulator-certificate.pem', import.meta.url));

describe.each(dialects)('refund secrets and the logs on %s', (dialect) => {
  let s: TestServer;
  const cap = capturingLogger('trace');
  const credentials = new Set<string>();
  beforeAll(async () => {
    s = await startTestServer(dialect, { ...REFUND_ENV, LOG_LEVEL: 'trace', DARAJA_INITIATOR_PASSWORD: PASSWORD, DARAJA_CERTIFICATE_PATH: CERT }, { logger: cap.logger });
    s.server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
      const end = res.end.bind(res) as (...a: unknown[]) => ServerResponse;
      (res as unknown as { end: (...a: unknown[]) => ServerResponse }).end = (...args: unknown[]) => {
        const body = (req as IncomingMessage & { body?: Record<string, unknown> }).body;
        if (body && typeof body.SecurityCredential === 'string') credentials.add(body.SecurityCredential);
        return end(...args);
      };
    });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('when refunds succeed and fail at trace level, then neither the initiator password nor any SecurityCredential is logged', async () => {
    const ok = await paidTicket(s, { late: true });
    const bad = await paidTicket(s, { late: true, phone: '254700000012' });
    const a = await askRefund(s, { ref: ok.ref, reason: 'owed' }).expect(202);
    const b = await askRefund(s, { ref: bad.ref, reason: 'owed' }).expect(202);
    await waitForRefund(s, a.body.refundId, 'refunded');
    await waitForRefund(s, b.body.refundId, 'failed');
    expect(credentials.size).toBeGreaterThan(0);
    const text = cap.text();
    expect(text).toContain('refunds.refunded');
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(Buffer.from(PASSWORD).toString('base64'));
    for (const c of credentials) expect(text).not.toContain(c.slice(0, 40));
  }, 60_000);
});
