import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIND_MISS } from '../../../src/bookings/booking.routes.js';
import { TICKET_LOOKUPS_PER_WINDOW } from '../../../src/bookings/rate-limit.js';
import { csrfFrom } from '../../support/app.js';
import { buildMovie, buildTicket } from '../../support/builders.js';
import { dialects } from '../../support/db.js';
import { MANUAL_SIMULATOR } from '../../support/daraja-edge.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import { uniquePhone } from './helpers.js';

describe.each(dialects)('find my ticket on %s', (dialect) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(dialect, MANUAL_SIMULATOR);
  });
  afterAll(async () => {
    await t?.close();
  });

  /** A client of its own (its own address for the limit, through X-Forwarded-For from loopback) with a CSRF token. */
  async function client(ip: string) {
    const agent = request.agent(t.app);
    const token = await csrfFrom({ get: (url: string) => agent.get(url).set('X-Forwarded-For', ip) }, '/tickets/find');
    const find = (phoneNumber: string, ticketCode: string) =>
      agent.post('/tickets/find').set('X-Forwarded-For', ip).type('form').send({ _csrf: token, phoneNumber, ticketCode });
    return { agent, find };
  }
  async function paid() {
    const phone = uniquePhone();
    const movieId = await buildMovie(t.database.db);
    const tk = await buildTicket(t.database.db, { movieId, phoneNumber: phone.stored });
    return { phone, tk };
  }

  it('when the phone and code match a Paid ticket, however typed, then it answers 303 to the ticket page', async () => {
    const { phone, tk } = await paid();
    const { find } = await client('198.51.100.1');
    const page = await request(t.app).get('/tickets/find').expect(200);
    expect(page.text).toContain('name="phoneNumber"');
    expect(page.text).toContain('name="ticketCode"');
    const code = tk.ticketCode!;
    const res = await find(phone.typed.replace(/^0/, '+254 '), `${code.slice(0, 4).toLowerCase()} ${code.slice(4)}`);
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe(`/tickets/${tk.ref}`);
  });

  it('when the phone, the code or both are wrong, or the ticket is not Paid, then the answer is the same 404 with what was typed', async () => {
    const { phone, tk } = await paid();
    const other = await paid();
    const pending = await buildTicket(t.database.db, { movieId: await buildMovie(t.database.db), paymentStatus: 'Pending', phoneNumber: phone.stored });
    const { find } = await client('198.51.100.2');
    const answers = [
      await find(uniquePhone().typed, tk.ticketCode!),
      await find(phone.typed, other.tk.ticketCode!),
      await find(uniquePhone().typed, 'ZZZZZZZZ'),
      await find(phone.typed, pending.ticketCode!),
      await find('not a phone', 'short'),
    ];
    for (const a of answers) {
      expect(a.status).toBe(404);
      expect(a.text).toContain(FIND_MISS);
    }
    const strip = (html: string) => html.replace(/value="[^"]*"/g, '');
    expect(new Set(answers.map((a) => strip(a.text))).size).toBe(1);
    expect(answers[0]!.text).toContain(`value="${tk.ticketCode}"`); // kept as typed
  });

  it('when one client keeps guessing, then after the limit it is answered 429 even for a right guess, while another client still finds its ticket', async () => {
    const { phone, tk } = await paid();
    const guesser = await client('203.0.113.9');
    for (let i = 0; i < TICKET_LOOKUPS_PER_WINDOW; i++) expect((await guesser.find(phone.typed, `AAAAAA${'23456789'[i % 8]}A`)).status).toBe(404);
    const limited = await guesser.find(phone.typed, tk.ticketCode!);
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBeDefined();
    expect(limited.text).toContain('Too many ticket searches');
    const owner = await client('203.0.113.10');
    expect((await owner.find(phone.typed, tk.ticketCode!)).status).toBe(303);
  });
});
