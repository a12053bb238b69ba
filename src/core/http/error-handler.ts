import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import { isDatabaseUnreachable, unreachableCode } from '../db/errors.js';
import { AppError, DatabaseUnavailableError, NotFoundError, ValidationError } from '../errors.js';

function wantsJson(req: Request): boolean {
  return req.path.startsWith('/api/') || req.path.startsWith('/admin/api/') || req.path.startsWith('/door/api/') || req.path.endsWith('/status') ||
    (req.accepts(['html', 'json']) === 'json');
}

/**
 * An error a library raised about the request itself: http-errors' (expose is true for 4xx), body-parser's (typed) or
 * the router's URIError. Other errors that happen to carry a status (an upstream's, say) stay 500s.
 */
function isClientHttpError(err: unknown): err is { status: number; type?: string } {
  if (!err || typeof err !== 'object') return false;
  const e = err as { status?: unknown; expose?: unknown; type?: unknown };
  if (typeof e.status !== 'number' || e.status < 400 || e.status > 499) return false;
  return e.expose === true || typeof e.type === 'string' || err instanceof URIError;
}

export const notFound: RequestHandler = (_req, _res, next) => next(new NotFoundError());

const TITLES: Record<number, string> = { 404: 'Not found', 429: 'Please wait a moment', 503: 'Back in a moment' };

/**
 * One place turns errors into answers: JSON for API paths, a page otherwise. A database that cannot be reached is a
 * 503 with Retry-After and a calm message, whichever code met it (docs/adr/0020-database-outage.md). Unknown errors
 * (a bug) are logged with the request id and shown as a plain apology: no stack, no SQL.
 */
export const errorHandler: ErrorRequestHandler = (caught, req, res, _next) => {
  let status: number;
  let code: string;
  let message: string;
  let fields: Record<string, string> | undefined;
  const unreachable = !(caught instanceof AppError) && isDatabaseUnreachable(caught);
  const err: unknown = unreachable ? new DatabaseUnavailableError(caught) : caught;

  if (err instanceof AppError) {
    status = err.status;
    code = err.code;
    message = err.publicMessage;
    if (err instanceof ValidationError) fields = err.fields;
  } else if (isClientHttpError(err)) {
    // body-parser's errors (too large, bad JSON, unknown charset or encoding, a broken gzip body) and the router's
    // undecodable %-escapes: the client's fault, answered with its 4xx and a plain message, never the library's text.
    status = err.status;
    code = err.type ? err.type.toUpperCase().replace(/[.\s-]/g, '_') : err instanceof URIError ? 'BAD_URL' : `HTTP_${status}`;
    message =
      err.type === 'entity.too.large' ? 'The request is too large.'
      : err.type === 'entity.parse.failed' ? 'The request body is not valid JSON.'
      : err instanceof URIError ? 'That address is not valid.'
      : 'The request could not be read.';
  } else {
    status = 500;
    code = 'INTERNAL';
    message = 'Something went wrong on our side. Please try again in a moment.';
  }

  if (err instanceof DatabaseUnavailableError) {
    // Expected while the database is away: the code that said so, not a stack per request (the request log has the 503).
    if (err.cause !== undefined) req.log?.warn({ code: unreachableCode(err.cause) }, 'database unreachable: answered 503');
  } else if (status >= 500) req.log?.error({ err }, 'request failed');
  if (res.headersSent) return;

  res.status(status);
  if (err instanceof AppError && err.retryAfterSeconds !== undefined) {
    res.setHeader('Retry-After', String(err.retryAfterSeconds));
    res.setHeader('Cache-Control', 'no-store');
  }
  if (wantsJson(req)) {
    res.json({ error: { code, message, ...(fields ? { fields } : {}) } });
    return;
  }
  res.render('error', { title: TITLES[status] ?? 'Something went wrong', status, message, requestId: req.id });
};
