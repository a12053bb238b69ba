import type { IncomingMessage } from 'node:http';
import { Router } from 'express';
import { loggableError } from '../core/db/transaction.js';
import type { Logger } from '../core/logger.js';
import type { CallbackIntake } from './callback-intake.js';

/** Daraja ignores what we answer, but it is the documented acknowledgement, and what docs/routes.md promises. */
export const CALLBACK_ACK = { ResultCode: 0, ResultDesc: 'Success' } as const;

/** Bodies over this are cut to it (a real callback is about 1 KB). */
export const CALLBACK_BODY_LIMIT = 64 * 1024;

/**
 * POST /api/payments/callback/:token — mounted before the app's body parsers and CSRF, because it reads its own body:
 * a parser's 413 or 400 would answer Safaricom with an error instead of storing what arrived. Any POST under the
 * callback path is stored (a missing or extra segment is a wrong token). The answer is always 200 with CALLBACK_ACK,
 * once the body is kept: committed to the inbox or, with the database down, fsynced to the spool file the reconciler
 * drains. The one exception is a body that could be kept in neither (503), because acknowledging a payment we did
 * not keep would lose it.
 */
export function callbackRoutes(deps: { intake: Pick<CallbackIntake, 'receive'>; logger: Logger }): Router {
  const { intake, logger } = deps;
  const router = Router();
  router.post('/api/payments/callback{/*token}', async (req, res) => {
    const segments: unknown = (req.params as Record<string, unknown>).token;
    const token = Array.isArray(segments) ? segments.join('/') : '';
    const body = await readBody(req, CALLBACK_BODY_LIMIT);
    try {
      await intake.receive({
        token,
        sourceIp: req.ip,
        rawBody: body.text,
        ...(body.bytes > CALLBACK_BODY_LIMIT ? { oversizeBytes: body.bytes } : {}),
      });
    } catch (err) {
      logger.error({ event: 'payments.callback.not_stored', err: loggableError(err), bytes: body.bytes }, 'callback could NOT be kept (inbox and spool both failed); not acknowledged');
      res.status(503).json({ ResultCode: 1, ResultDesc: 'Temporarily unavailable' });
      return;
    }
    res.status(200).json(CALLBACK_ACK);
  });
  return router;
}

/**
 * Reads the request body as UTF-8 text whatever its content type, keeping at most `limit` bytes and counting the rest
 * (which is read and dropped, so the connection stays usable). Never rejects: a broken upload yields what arrived.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<{ text: string; bytes: number }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    let bytes = 0;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      resolve({ text: Buffer.concat(chunks).toString('utf8'), bytes });
    };
    if (req.readableEnded) return finish();
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (kept < limit) {
        const part = chunk.subarray(0, limit - kept);
        chunks.push(part);
        kept += part.length;
      }
    });
    req.on('end', finish);
    req.on('error', finish);
    req.on('close', finish);
  });
}
