import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../../support/db.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import { ADMIN_PASSWORD, ADMIN_USER, tokenIn } from '../admin/helpers.js';
import { REFUND_ENV, paidTicket, waitForRefund } from './helpers.js';

describe.each(dialects)('the admin page that cancels a show on %s', (dialect) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(dialect, REFUND_ENV);
  });
  afterAll(async () => {
    await s?.close();
  });

  it('when an operator cancels a show from its page with a reason, then it is cancelled, its ticket refunded, and the page shows the counts', async () => {
    const t = await paidTicket(s);
    const agent = request.agent(s.baseUrl).auth(ADMIN_USER, ADMIN_PASSWORD);
    const form = await agent.get(`/admin/movies/${t.movieId}/cancel`).expect(200);
    expect(form.text).toContain('Cancel the show and refund 1 paid ticket');
    const token = tokenIn(form.text);

    const empty = await agent.post(`/admin/movies/${t.movieId}/cancel`).type('form').send({ _csrf: token, reason: ' ' }).expect(422);
    expect(empty.text).toContain('Give a reason for cancelling the show');
    expect((await s.database.db.selectFrom('movie').select('cancelledAt').where('movieId', '=', t.movieId).executeTakeFirstOrThrow()).cancelledAt).toBeNull();

    await agent.post(`/admin/movies/${t.movieId}/cancel`).type('form').send({ _csrf: token, reason: 'Power cut' }).expect(303);
    const refund = await s.database.db.selectFrom('refund').select('refundId').where('ticketId', '=', t.ticketId).executeTakeFirstOrThrow();
    await waitForRefund(s, refund.refundId, 'refunded');
    const page = await agent.get(`/admin/movies/${t.movieId}/cancel`).expect(200);
    expect(page.text).toContain('Cancelled: Power cut.');
    expect(page.text).toMatch(/<dd data-count="refunded">1<\/dd>/);
    const audit = await s.database.db.selectFrom('auditlog').select(['actor', 'detail']).where('action', '=', 'movie.cancelled').execute();
    expect(audit.some((a) => a.actor === ADMIN_USER && a.detail?.includes('Power cut'))).toBe(true);
  });
});
