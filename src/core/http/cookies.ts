import cookieParser from 'cookie-parser';
import type { RequestHandler } from 'express';

/**
 * A cookie value as text, or '' for cookie-parser's JSON form: cookie-parser turns a value written `j:…` into the
 * object or array it spells, and code that expects a string (ours, csrf-csrf's) then breaks on it. Tikiti never sets
 * such a cookie, so one that arrives was made by hand: it counts as absent.
 */
function plainValue(raw: string): string {
  let value = raw;
  if (raw.includes('%')) {
    try {
      value = decodeURIComponent(raw);
    } catch {
      // a broken %-escape stays as it came, as cookie-parser would leave it
    }
  }
  return value.startsWith('j:') ? '' : value;
}

/**
 * cookie-parser without JSON cookies: every value in `req.cookies` is a non-empty string, and anything else
 * (`j:{…}`, `j:[…]`, an empty value) is as if the browser had not sent it.
 */
export function plainCookies(): RequestHandler[] {
  const dropNonText: RequestHandler = (req, _res, next) => {
    const cookies = req.cookies as Record<string, unknown> | undefined;
    if (cookies) {
      for (const [name, value] of Object.entries(cookies)) {
        if (typeof value !== 'string' || value === '') delete cookies[name];
      }
    }
    next();
  };
  return [cookieParser(undefined, { decode: plainValue }), dropNonText];
}
