import { randomBytes } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { doubleCsrf } from 'csrf-csrf';
import { AppError } from '../errors.js';


/**
 * CSRF protection for every form (double-submit cookie, signed, tied to a per-browser id cookie), from csrf-csrf.
 * Stateless, so it works unchanged with several instances that share the secret (CSRF_SECRET, or the one kept in the
 * database), which is asked for on each request. `skip` exempts paths that are protected otherwise (the callback's
 * secret token, Basic-auth JSON, the simulator).
 */
export function csrfProtection(opts: { secret: () => string; secure: boolean; skip: (req: Request) => boolean }) {
  const cookieOptions = { sameSite: 'lax' as const, path: '/', secure: opts.secure, httpOnly: true };
  // Over https both cookies take the __Host- prefix: a sibling subdomain (another tunnel on the same parent domain)
  // cannot plant them, so the double submit cannot be seeded from outside.
  const SID_COOKIE = opts.secure ? '__Host-tikiti.sid' : 'tikiti.sid';

  const browserId: RequestHandler = (req, res, next) => {
    let sid = req.cookies?.[SID_COOKIE] as string | undefined;
    if (!sid || !/^[A-Za-z0-9_-]{20,64}$/.test(sid)) {
      sid = randomBytes(18).toString('base64url');
      res.cookie(SID_COOKIE, sid, cookieOptions);
      req.cookies = { ...(req.cookies ?? {}), [SID_COOKIE]: sid };
    }
    next();
  };

  const { doubleCsrfProtection, generateCsrfToken } = doubleCsrf({
    getSecret: () => opts.secret(),
    getSessionIdentifier: (req) => String(req.cookies?.[SID_COOKIE] ?? ''),
    cookieName: opts.secure ? '__Host-tikiti.csrf' : 'tikiti.csrf',
    cookieOptions,
    getCsrfTokenFromRequest: (req) => (req.body as Record<string, unknown> | undefined)?._csrf as string | undefined ?? req.headers['x-csrf-token'] as string | undefined,
    skipCsrfProtection: opts.skip,
  });

  const protect: RequestHandler = (req, res, next) => {
    doubleCsrfProtection(req, res, (err?: unknown) => {
      if (err) {
        return next(
          new AppError('CSRF_INVALID', 'missing or wrong CSRF token', {
            status: 403,
            publicMessage: 'This form has expired or was not sent from our site. Please go back, reload the page and try again.',
          }),
        );
      }
      // Every page rendered from here on can put a token in its forms.
      if (!opts.skip(req)) res.locals.csrfToken = generateCsrfToken(req, res);
      next();
    });
  };

  return [browserId, protect];
}
