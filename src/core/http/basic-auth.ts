import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { ipKeyGenerator } from 'express-rate-limit';
import { AppError, NotFoundError } from '../errors.js';
import type { LoginLimiter } from './login-limiter.js';

/** Compares two secrets in constant time (hashing first makes the lengths equal, so length leaks nothing either). */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

export interface Account {
  user: string;
  password: string;
}

/** An area behind HTTP Basic auth: the operator area, and any other (the door) with accounts of its own. */
export interface SignInArea {
  /** Who may sign in here (the door lists its own account and the admin's). None: the area does not exist (404). */
  accounts: readonly Account[];
  realm: string;
  /** Failed sign-ins per client address, one limiter for every area (compose.ts builds it once). */
  limiter: LoginLimiter;
}

/** The account these credentials name, comparing every account in full so timing tells nothing. */
function matching(accounts: readonly Account[], user: string, pass: string): Account | undefined {
  let found: Account | undefined;
  for (const a of accounts) {
    // Both comparisons always run, so timing does not reveal which part was wrong.
    const okUser = safeEqual(user, a.user);
    const okPass = safeEqual(pass, a.password);
    if (okUser && okPass) found ??= a;
  }
  return found;
}

/**
 * HTTP Basic auth for an area. With no account the area does not exist (404), so an unconfigured install never shows a
 * login prompt. A client address that has failed too often in the window (login-limiter.ts) is answered 429 with
 * Retry-After, before its credentials are even read, so a guess made then learns nothing; a correct login is never
 * slowed. Failures are logged at warn with the address, never with what was sent.
 */
export function basicAuth(area: SignInArea): RequestHandler {
  return async (req, res, next) => {
    if (area.accounts.length === 0) return next(new NotFoundError());
    // The client address Express derives through TRUST_PROXY, as the booking limits use it (an IPv6 client by its /56).
    const address = ipKeyGenerator(req.ip ?? req.socket.remoteAddress ?? 'unknown');
    const wait = await area.limiter.blockedFor(address);
    if (wait > 0) {
      req.log?.warn({ event: 'auth.limited', realm: area.realm, ip: req.ip, retryAfterSeconds: wait }, 'sign-in refused unseen: too many failures from this address');
      return next(new AppError('TOO_MANY_SIGN_INS', 'too many failed sign-ins from this address', {
        status: 429,
        retryAfterSeconds: wait,
        publicMessage: 'Too many failed sign-ins have come from your connection. Please wait a minute before trying again.',
      }));
    }
    const header = req.headers.authorization;
    const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header ?? '');
    if (m) {
      const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      const account = matching(area.accounts, i >= 0 ? decoded.slice(0, i) : '', i >= 0 ? decoded.slice(i + 1) : '');
      if (account) {
        res.locals.adminUser = account.user;
        return next();
      }
    }
    // A request without credentials is a browser asking for the prompt, not a guess: only wrong ones count.
    if (header !== undefined) {
      const failures = await area.limiter.failed(address);
      req.log?.warn({ event: 'auth.failed', realm: area.realm, ip: req.ip, failures }, 'sign-in failed');
    }
    res.setHeader('WWW-Authenticate', `Basic realm="${area.realm}", charset="UTF-8"`);
    res.status(401).type('text/plain').send('Authentication required.');
  };
}
