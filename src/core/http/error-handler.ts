import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import { AppError, NotFoundError, ValidationError } from '../errors.js';

function wantsJson(req: Request): boolean {
  return req.path.startsWith('/api/') || req.path.startsWith('/admin/api/') || req.path.endsWith('/status') ||
    (req.accepts(['html', 'json']) === 'json');
}

export const notFound: RequestHandler = (_req, _res, next) => next(new NotFoundError());

/**
 * One place turns errors into answers: JSON for API paths, a page otherwise. Unknown errors (a database down, a bug)
 * are logged with the request id and shown as a plain apology: no stack, no SQL.
 */
export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  let status: number;
  let code: string;
  let message: string;
  let fields: Record<string, string> | undefined;

  if (err instanceof AppError) {
    status = err.status;
    code = err.code;
    message = err.publicMessage;
    if (err instanceof ValidationError) fields = err.fields;
  } else if (err && typeof err === 'object' && 'type' in err && typeof (err as { status?: unknown }).status === 'number') {
    // body-parser's errors: too large, bad JSON, unsupported charset…
    const e = err as { status: number; type: string };
    status = e.status;
    code = e.type.toUpperCase().replace(/[.\s-]/g, '_');
    message =
      e.type === 'entity.too.large' ? 'The request is too large.'
      : e.type === 'entity.parse.failed' ? 'The request body is not valid JSON.'
      : 'The request could not be read.';
  } else {
    status = 500;
    code = 'INTERNAL';
    message = 'Something went wrong on our side. Please try again in a moment.';
  }

  if (status >= 500) req.log?.error({ err }, 'request failed');
  if (res.headersSent) return;

  res.status(status);
  if (wantsJson(req)) {
    res.json({ error: { code, message, ...(fields ? { fields } : {}) } });
    return;
  }
  res.render('error', { title: status === 404 ? 'Not found' : 'Something went wrong', status, message, requestId: req.id });
};
