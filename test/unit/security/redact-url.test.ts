import { describe, expect, it } from 'vitest';
import { redactUrl } from '../../../src/core/http/request-logging.js';
import { capturingLogger } from '../../integration/security/helpers.js';

const TOKEN = 'cbtok0f4e8a2b6c1d9e7f3a5b0c8d2e6f4a1b9c7d';

describe('log redaction', () => {
  it.each([
    `/api/payments/callback/${TOKEN}`,
    `/api/payments/callback/${TOKEN}/`,
    `/api/payments/callback/${TOKEN}?x=1`,
    `/API/Payments/CALLBACK/${TOKEN}`,
    `//api//payments/callback/${TOKEN}`,
    `/api/payments/callback/x/${TOKEN}`,
    `/api/payments/callback?token=${TOKEN}`,
    `/api/payments/callback%2F${TOKEN}`,
    `/api/payments/callback/${TOKEN}\n`,
  ])('when the request URL is %j, then the logged URL keeps no part of the token', (url) => {
    const logged = redactUrl(url)!;
    expect(logged).not.toContain(TOKEN.slice(0, 8));
    expect(logged).toMatch(/callback\/\[redacted\]$/i);
  });

  it.each([
    ['/tickets/Ehmjsq_WhcRK4WNnNjVdId-k', '/tickets/[ref]'],
    ['/t/Ehmjsq_WhcRK4WNnNjVdId-k', '/t/[ref]'],
    ['/T/Ehmjsq_WhcRK4WNnNjVdId-k?utm=sms', '/T/[ref]?utm=sms'],
    ['/tickets/Ehmjsq_WhcRK4WNnNjVdId-k/status', '/tickets/[ref]/status'],
    ['/tickets/Ehmjsq_WhcRK4WNnNjVdId-k/retry', '/tickets/[ref]/retry'],
    ['/TICKETS/Ehmjsq_WhcRK4WNnNjVdId-k/', '/TICKETS/[ref]/'],
    ['//tickets//Ehmjsq_WhcRK4WNnNjVdId-k?x=1', '//tickets//[ref]?x=1'],
    ['/tickets/Ehmjsq_WhcRK4WNnNjVdId-k;v=1', '/tickets/[ref];v=1'],
    ['http://tikiti.example/tickets/Ehmjsq_WhcRK4WNnNjVdId-k', 'http://tikiti.example/tickets/[ref]'],
    ['/tickets/not-a-real-ref', '/tickets/[ref]'],
  ])('when the request URL is the ticket URL %j, then the reference is logged as [ref]', (url, logged) => {
    expect(redactUrl(url)).toBe(logged);
  });

  it('when a URL is neither the callback nor a ticket, then it is logged as it is', () => {
    for (const url of ['/admin/callbacks/12', '/admin/tickets/12', '/admin/tickets/totals?status=Paid', '/tickets/find', '/tickets/find?x=1', '/tickets', '/api/payments/callbackish', '/']) {
      expect(redactUrl(url)).toBe(url);
    }
  });

  it('when a secret-named field or a credential header is passed to the logger by mistake, then it is written as [redacted]', () => {
    const { logger, text } = capturingLogger('trace');
    const values = ['hdrAuthV1', 'hdrCookieV2', 'pwV3', 'PwV4', 'csecV5', 'pkeyV6', 'atokV7', 'atok2V8', 'tokV9', 'cbtokV10', 'nestedPwV11', 'nestedPkV12', 'setCookieV13'];
    logger.info({
      req: { headers: { authorization: values[0], cookie: values[1] } },
      res: { headers: { 'set-cookie': values[12] } },
      password: values[2], Password: values[3], consumerSecret: values[4], passkey: values[5], accessToken: values[6],
      access_token: values[7], token: values[8], callbackToken: values[9],
      body: { password: values[10], passkey: values[11] },
    }, 'oops');
    const out = text();
    expect(out).toContain('oops');
    for (const v of values) expect(out, v).not.toContain(v);
    expect(out.match(/\[redacted\]/g)?.length).toBe(values.length);
  });
});
