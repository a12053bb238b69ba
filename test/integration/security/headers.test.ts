import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csrfFrom } from '../../support/app.js';
import { dialects } from '../../support/db.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import { buildInbox, buildMovie, buildPush, buildTicket } from '../../support/builders.js';
import { MANUAL_SIMULATOR } from '../../support/daraja-edge.js';
import { refFrom, ticketByRef, uniquePhone } from '../bookings/helpers.js';
import { ADMIN_ENV, AUTH } from '../admin/helpers.js';
import { inlineCodeIn } from './helpers.js';

/** The directives of a Content-Security-Policy header, by name. */
function directives(csp: string | undefined): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const part of (csp ?? '').split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) map.set(name, values);
  }
  return map;
}

function expectStrictCsp(res: { headers: Record<string, string> }, what: string) {
  const csp = res.headers['content-security-policy'];
  expect(csp, what).toBeDefined();
  expect(csp, what).not.toMatch(/unsafe-inline|unsafe-eval|unsafe-hashes|\*/);
  const d = directives(csp);
  expect(d.get('default-src'), what).toEqual(["'self'"]);
  expect(d.get('script-src'), what).toEqual(["'self'"]);
  expect(d.get('style-src'), what).toEqual(["'self'"]);
  expect(d.get('object-src'), what).toEqual(["'none'"]);
  expect(d.get('frame-ancestors'), what).toEqual(["'none'"]);
  expect(d.get('form-action'), what).toEqual(["'self'"]);
  expect(d.get('base-uri'), what).toEqual(["'self'"]);
  // Images may come from https (posters); they cannot run code.
  expect(d.get('img-src'), what).toEqual(["'self'", 'data:', 'https:']);
  expect(d.get('connect-src'), what).toEqual(["'self'"]);
  expect(d.has('script-src-attr'), what).toBe(true);
  expect(d.get('script-src-attr'), what).toEqual(["'none'"]);
}

function expectHardened(res: { headers: Record<string, string> }, what: string) {
  expect(res.headers['x-powered-by'], what).toBeUndefined();
  expect(res.headers['x-content-type-options'], what).toBe('nosniff');
  expect(res.headers['referrer-policy'], what).toBe('no-referrer');
  expect(res.headers['x-frame-options'], what).toBe('SAMEORIGIN');
}

/** Local assets a page loads (scripts and stylesheets), which must exist: a CSP of 'self' is useless if the page has no JS file. */
function assetsOf(html: string): string[] {
  return [...html.matchAll(/<(?:script[^>]*\bsrc|link[^>]*\bhref)="(\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]!);
}

describe.each(dialects)('security headers and inline code on %s', (dialect) => {
  let s: TestServer;
  const pages = new Map<string, { status: number; text: string; headers: Record<string, string> }>();

  // One real server in manual simulator mode, so pending prompts stay on the phone page; every page a customer, the
  // operator or the simulator's phone can see is fetched once, with hostile-looking data in it.
  beforeAll(async () => {
    s = await startTestServer(dialect, { ...ADMIN_ENV, SIMULATOR_MODE: 'manual', RATE_LIMIT_PUSHES_PER_PHONE: '1' });
    const db = s.database.db;
    const get = async (url: string, opts: { admin?: boolean; agent?: ReturnType<typeof request.agent> } = {}) => {
      let r = (opts.agent ?? request(s.app)).get(url);
      if (opts.admin) r = r.set('Authorization', AUTH);
      const res = await r;
      pages.set(url, res);
      return res;
    };

    const movieId = await buildMovie(db, { title: 'Headers <b>movie</b>' });
    const soldOut = await buildMovie(db, { maximumTickets: 1 });
    const agent = request.agent(s.app);
    const _csrf = await csrfFrom(agent, `/movies/${movieId}`);
    const phone = uniquePhone().typed;
    const post = (form: Record<string, string>) => agent.post('/bookings').type('form').send({ _csrf, ...form });

    // A real booking through the simulator: a prompt waits on the phone page.
    const booked = await post({ movieId: String(movieId), customerName: '"Amina" <i>W</i>', phoneNumber: phone, quantity: '2' });
    expect(booked.status).toBe(303);
    const pendingRef = refFrom(booked.headers.location);
    // The 303 came after the simulator's answer, so the prompt is on its phone already.
    expect(s.services.simulator!.prompts().filter((p) => p.status === 'pending')).toHaveLength(1);
    // A refused push (test number 254700000007) leaves a finished prompt in "Recent" and a Failed ticket.
    const refused = await post({ movieId: String(movieId), customerName: 'Refused', phoneNumber: '254700000007', quantity: '1' });
    const failedRef = refFrom(refused.headers.location);

    pages.set('422 booking form', await post({ movieId: String(movieId), customerName: '', phoneNumber: 'nope', quantity: '-1' }));
    pages.set('409 sold out', await (async () => {
      await post({ movieId: String(soldOut), customerName: 'Filler', phoneNumber: uniquePhone().typed, quantity: '1' });
      return post({ movieId: String(soldOut), customerName: 'Late', phoneNumber: uniquePhone().typed, quantity: '1' });
    })());
    pages.set('429 rate limited', await post({ movieId: String(movieId), customerName: 'Again', phoneNumber: phone, quantity: '1' }));
    pages.set('403 CSRF', await agent.post('/bookings').type('form').send({ movieId: String(movieId) }));
    pages.set('404 page', await request(s.app).get('/no/such/page'));

    const paid = await buildTicket(db, { movieId, paymentStatus: 'Paid', customerName: '<script>x</script>' });
    const toFollow = await buildTicket(db, { movieId, paymentStatus: 'Paid', mpesaReceiptNumber: null, confirmedBy: 'query' });
    const refund = await buildTicket(db, { movieId, paymentStatus: 'Paid', needsRefund: 1, holdsTickets: 0 });
    await buildPush(db, { ticketId: paid.ticketId });
    const cb = await buildInbox(db, { outcome: 'unmatched', body: '{"x":"<img src=x onerror=alert(1)>"}' });

    for (const url of ['/', `/movies/${movieId}`, `/movies/${soldOut}`, `/tickets/${pendingRef}`, `/tickets/${failedRef}`,
      `/tickets/${paid.ref}`, `/tickets/${toFollow.ref}`, `/tickets/${refund.ref}`, '/simulator/phone']) {
      await get(url);
    }
    for (const url of ['/admin', '/admin/tickets', '/admin/tickets?status=Paid', '/admin/tickets/totals', '/admin/tickets/totals?fragment=1',
      `/admin/tickets/${paid.ticketId}`, `/admin/tickets/${refund.ticketId}`, '/admin/callbacks', `/admin/callbacks/${cb}`,
      '/admin/refunds', '/admin/movies', '/admin/movies/new', `/admin/movies/${movieId}/edit`, '/admin/tickets?from=nonsense']) {
      await get(url, { admin: true });
    }
    pages.set('admin 401', await request(s.app).get('/admin'));
  }, 60_000);
  afterAll(async () => {
    await s?.close();
  });

  it('when any page is rendered, then it holds no inline script, <style>, style attribute, on*= handler or javascript: URL', () => {
    expect(pages.size).toBeGreaterThanOrEqual(28);
    for (const [url, res] of pages) {
      if (!String(res.headers['content-type']).startsWith('text/html')) continue;
      expect(inlineCodeIn(res.text), url).toEqual([]);
    }
    // The scan is not vacuous: the pages it read are the real ones.
    expect(pages.get('/simulator/phone')!.text).toContain('Enter M-Pesa PIN');
    expect(pages.get('/admin/callbacks')!.status).toBe(200);
    expect(pages.get('429 rate limited')!.status).toBe(429);
  });

  it('when the inline-code scan meets inline code, then it reports it (the scan itself works)', () => {
    expect(inlineCodeIn('<script>alert(1)</script>')).toHaveLength(1);
    expect(inlineCodeIn('<script src="/js/a.js">alert(1)</script>')).toHaveLength(1);
    expect(inlineCodeIn('<p style="color:red">')).toHaveLength(1);
    expect(inlineCodeIn('<button onclick="x()">')).toHaveLength(1);
    expect(inlineCodeIn('<a href="javascript:x()">')).toHaveLength(1);
    expect(inlineCodeIn('<style>p{}</style>')).toHaveLength(1);
    expect(inlineCodeIn('<script src="/js/a.js" defer></script><p>on=1 style= </p>')).toEqual([]);
  });

  it('when any page, JSON answer, error or asset is served, then the CSP allows only our own scripts and styles and no X-Powered-By is sent', async () => {
    for (const [url, res] of pages) {
      expectStrictCsp(res, url);
      expectHardened(res, url);
    }
    const more = ['/api/movies', '/healthz', '/readyz', '/css/site.css', '/js/ticket.js', '/simulator/assets/phone.js', '/tickets/abc/status'];
    for (const url of more) {
      const res = await request(s.app).get(url);
      expectHardened(res, url);
      expect(res.headers['content-security-policy'], url).toBeDefined();
    }
    const cb = await request(s.app).post(`/api/payments/callback/${s.config.callbackToken}`).send({});
    expectHardened(cb, 'callback');
    const sim = await request(s.app).post('/simulator/mpesa/stkpush/v1/processrequest').send({});
    expectHardened(sim, 'simulator API');
  });

  it('when a movie poster is an https URL, then the pages show it and the CSP lets the browser load it', async () => {
    const movieId = await buildMovie(s.database.db);
    await s.database.db.updateTable('movie').set({ imageUrl: 'https://images.example.org/poster.jpg' }).where('movieId', '=', movieId).execute();
    for (const url of ['/', `/movies/${movieId}`]) {
      const res = await request(s.app).get(url);
      expect(res.text, url).toContain('src="https://images.example.org/poster.jpg"');
      expect(directives(res.headers['content-security-policy']).get('img-src'), url).toContain('https:');
    }
  });

  it('when a page loads a script or stylesheet, then it is one of our files, served with its own type', async () => {
    const assets = new Set<string>();
    for (const res of pages.values()) for (const a of assetsOf(res.text)) assets.add(a);
    expect([...assets]).toEqual(expect.arrayContaining(['/css/site.css', '/js/booking.js', '/js/ticket.js', '/simulator/assets/phone.js']));
    for (const a of assets) {
      const res = await request(s.app).get(a);
      expect(res.status, a).toBe(200);
      expect(res.headers['content-type'], a).toMatch(a.endsWith('.js') ? /javascript/ : /text\/css/);
    }
  });

  it('when PUBLIC_BASE_URL is http, then no HSTS, no upgrade-insecure-requests and no Secure cookies (they would break plain-http development)', async () => {
    const res = await request(s.app).get('/movies/1').set('X-Forwarded-Proto', 'https');
    expect(res.headers['strict-transport-security']).toBeUndefined();
    expect(res.headers['content-security-policy']).not.toMatch(/upgrade-insecure-requests/);
    const cookies = res.headers['set-cookie'] as unknown as string[];
    expect(cookies.length).toBeGreaterThanOrEqual(2);
    for (const c of cookies) {
      expect(c).not.toMatch(/;\s*Secure/i);
      expect(c).toMatch(/;\s*HttpOnly/i);
      expect(c).toMatch(/;\s*SameSite=Lax/i);
    }
  });
});

describe.each(dialects)('https deployments on %s', (dialect) => {
  let t: TestServer;
  beforeAll(async () => {
    // ngrok (or a load balancer) on this machine terminates TLS and forwards plain http with X-Forwarded-Proto. Pushes
    // still reach the built-in simulator on this port (manual mode: accepted, no callback to the public URL).
    t = await startTestServer(dialect, { ...MANUAL_SIMULATOR, PUBLIC_BASE_URL: 'https://tikiti-test.ngrok-free.app', TRUST_PROXY: 'loopback' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('when PUBLIC_BASE_URL is https, then HSTS for a year, upgrade-insecure-requests, and every cookie Secure with the __Host- prefix', async () => {
    const movieId = await buildMovie(t.database.db);
    const res = await request(t.app).get(`/movies/${movieId}`).set('X-Forwarded-Proto', 'https');
    expect(res.status).toBe(200);
    const hsts = res.headers['strict-transport-security'];
    expect(hsts).toMatch(/max-age=(\d+)/);
    expect(Number(/max-age=(\d+)/.exec(hsts!)![1])).toBeGreaterThanOrEqual(31_536_000);
    expect(hsts).toMatch(/includeSubDomains/);
    expect(res.headers['content-security-policy']).toMatch(/upgrade-insecure-requests/);
    const cookies = res.headers['set-cookie'] as unknown as string[];
    expect(cookies.map((c) => c.split('=')[0]).sort()).toEqual(['__Host-tikiti.csrf', '__Host-tikiti.sid']);
    for (const c of cookies) {
      expect(c).toMatch(/;\s*Secure/i);
      expect(c).toMatch(/;\s*HttpOnly/i);
      expect(c).toMatch(/;\s*Path=\//i);
      expect(c).not.toMatch(/;\s*Domain=/i);
    }
  });

  it('when PUBLIC_BASE_URL is https, then the forms still work through the TLS-terminating proxy (Secure cookies come back over https)', async () => {
    const movieId = await buildMovie(t.database.db);
    const page = await request(t.app).get(`/movies/${movieId}`).set('X-Forwarded-Proto', 'https');
    // What the form's browser is given: both cookies Secure, __Host- (so only this https origin sends them back), HttpOnly.
    const setCookies = page.headers['set-cookie'] as unknown as string[];
    expect(setCookies.map((c) => c.split('=')[0]).sort()).toEqual(['__Host-tikiti.csrf', '__Host-tikiti.sid']);
    for (const c of setCookies) {
      expect(c).toMatch(/;\s*Secure(;|$)/i);
      expect(c).toMatch(/;\s*HttpOnly(;|$)/i);
      expect(c).toMatch(/;\s*Path=\/(;|$)/i);
      expect(c).toMatch(/;\s*SameSite=Lax(;|$)/i);
    }
    const cookies = setCookies.map((c) => c.split(';')[0]!).join('; ');
    const _csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;
    const res = await request(t.app)
      .post('/bookings')
      .set('X-Forwarded-Proto', 'https')
      .set('Cookie', cookies)
      .type('form')
      .send({ _csrf, movieId: String(movieId), customerName: 'Over TLS', phoneNumber: uniquePhone().typed, quantity: '1' });
    // Those Secure cookies, sent back over https, carry the form: the booking is taken, and the browser id stays the same.
    expect(res.status).toBe(303);
    const again = (res.headers['set-cookie'] as unknown as string[] | undefined) ?? [];
    expect(again.map((c) => c.split('=')[0])).not.toContain('__Host-tikiti.sid');
    for (const c of again) expect(c).toMatch(/^__Host-[^;]*;.*;\s*Secure(;|$)/i);
    const ticket = await ticketByRef(t.database.db, refFrom(res.headers.location));
    expect(ticket).toMatchObject({ movieId, customerName: 'Over TLS', paymentStatus: 'Pending' });
  });
});
