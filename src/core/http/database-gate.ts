import type { RequestHandler } from 'express';
import { DatabaseUnavailableError } from '../errors.js';

/**
 * Until the database has answered and been migrated (a start while it is away), every request that reaches this is
 * answered 503 with Retry-After by the error handler. It is mounted after the health checks, the static files and the
 * callback, which work without the database (the callback is kept in the spool).
 */
export function databaseGate(isReady: () => boolean): RequestHandler {
  return (_req, _res, next) => {
    if (isReady()) return next();
    next(new DatabaseUnavailableError());
  };
}
