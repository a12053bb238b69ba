import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { NotFoundError } from '../errors.js';

/** Compares two secrets in constant time (hashing first makes the lengths equal, so length leaks nothing either). */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

/**
 * HTTP Basic auth for the operator area. With no credentials configured the area does not exist (404), so an
 * unconfigured install never exposes a login prompt.
 */
export function basicAuth(credentials: { user: string; password: string } | undefined, realm = 'Tikiti admin'): RequestHandler {
  return (req, res, next) => {
    if (!credentials) return next(new NotFoundError());
    const header = req.headers.authorization ?? '';
    const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header);
    if (m) {
      const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      const user = i >= 0 ? decoded.slice(0, i) : '';
      const pass = i >= 0 ? decoded.slice(i + 1) : '';
      // Evaluate both comparisons so timing does not reveal which part was wrong.
      const okUser = safeEqual(user, credentials.user);
      const okPass = safeEqual(pass, credentials.password);
      if (okUser && okPass) {
        res.locals.adminUser = user;
        return next();
      }
    }
    res.setHeader('WWW-Authenticate', `Basic realm="${realm}", charset="UTF-8"`);
    res.status(401).type('text/plain').send('Authentication required.');
  };
}
