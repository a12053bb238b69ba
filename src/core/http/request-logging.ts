import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import { pinoHttp } from 'pino-http';
import type { Logger } from '../logger.js';

/**
 * Everything after the callback path. Express routes paths case-insensitively and ignores a trailing slash, so
 * /API/Payments/Callback/<token>/ reaches the callback too; the match must be as loose as the routing.
 */
const CALLBACK_PATH = /(\/api\/+payments\/+callback)[/?#;%].*$/is;

/**
 * The segment after the customer's /tickets/ (not /admin/tickets/, whose ids are row numbers): a ticket's reference,
 * which opens the ticket (and its retry) for whoever holds it, so it is a bearer secret like the callback token
 * (docs/adr/0023-references-are-bearer-secrets.md). The SMS's short link /t/<ref> carries the same secret. Only the
 * word `find`, a page of its own, is kept.
 */
const TICKET_REF = /^((?:[a-z][a-z0-9+.-]*:\/\/[^/]*)?\/+(?:tickets|t)\/+)(?!find(?:[/?#;]|$))[^/?#;]+/i;

/** The callback URL carries a secret after /callback, a ticket URL one after /tickets: neither reaches a log line. */
export function redactUrl(url: string | undefined): string | undefined {
  return url?.replace(CALLBACK_PATH, '$1/[redacted]').replace(TICKET_REF, '$1[ref]');
}

/** A POST to the callback URL, however spelled (the routing is as loose, see CALLBACK_PATH). */
export function isCallbackRequest(req: IncomingMessage): boolean {
  return req.method === 'POST' && /^\/+api\/+payments\/+callback/i.test(req.url ?? '');
}

/** pino-http with a request id per request (kept from X-Request-Id when it looks sane) echoed back as X-Request-Id. */
export function requestLogging(logger: Logger): RequestHandler {
  const log = accessLog(logger);
  // Below debug a callback's access line would not be written: skip the work of preparing it (the hot path).
  return (req, res, next) => (isCallbackRequest(req) && !logger.isLevelEnabled('debug') ? next() : log(req, res, next));
}

function accessLog(logger: Logger) {
  return pinoHttp({
    logger,
    genReqId(req: IncomingMessage, res: ServerResponse) {
      const incoming = req.headers['x-request-id'];
      const id = typeof incoming === 'string' && /^[\w.:-]{1,100}$/.test(incoming) ? incoming : randomUUID();
      res.setHeader('X-Request-Id', id);
      return id;
    },
    customLogLevel(req, res, err) {
      // A callback's one log line at info is the payments one (rejected, or applied): its access line is debug.
      if (isCallbackRequest(req) && !err && res.statusCode < 500) return 'debug';
      // 503 is the answer while the database is away, expected and said once per request: a warning, not an error.
      if (res.statusCode === 503) return 'warn';
      if (err || res.statusCode >= 500) return 'error';
      if (res.statusCode >= 400) return 'warn';
      return 'info';
    },
    autoLogging: { ignore: (req) => req.url === '/healthz' || req.url?.startsWith('/simulator/phone/prompts') === true },
    serializers: {
      req(req: { id: unknown; method: string; url: string; remoteAddress?: string }) {
        return { id: req.id, method: req.method, url: redactUrl(req.url), remoteAddress: req.remoteAddress };
      },
      res(res: { statusCode: number }) {
        return { statusCode: res.statusCode };
      },
    },
  });
}
