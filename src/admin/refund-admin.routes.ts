import { Router, type Request, type Response } from 'express';
import { AppError, ConflictError, NotFoundError, ValidationError } from '../core/errors.js';
import { unreachable } from '../core/result.js';
import type { RefundRefusal, RefundService } from '../refunds/refund.service.js';
import { timeView } from './nairobi.js';

/**
 * The operator's refunds, mounted inside the admin router (after its Basic auth): the JSON API for scripts and the
 * page's live status, and the HTML forms of the refunds page and the ticket page (CSRF-protected like every form).
 */
export function refundAdminRoutes(deps: { refunds: RefundService }): Router {
  const { refunds } = deps;
  const router = Router();
  const actor = (res: Response): string => String(res.locals.adminUser ?? 'admin');

  router.post('/api/refunds', async (req, res) => {
    requireJson(req);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const ref = typeof body.ref === 'string' ? body.ref.trim() : '';
    const ticketId = typeof body.ticketId === 'number' ? body.ticketId : undefined;
    if (ref === '' && ticketId === undefined) throw new ValidationError({ ref: 'Give the ticket\'s ref.' }, 'Give the ticket\'s ref.');
    const reason = typeof body.reason === 'string' ? body.reason : '';
    const r = await refunds.request({ ...(ref ? { ref } : {}), ...(ticketId !== undefined ? { ticketId } : {}), reason, actor: actor(res) });
    if (!r.ok) {
      if (r.error.kind === 'in_flight_or_done') {
        res.status(409).json({ error: { code: 'REFUND_IN_FLIGHT_OR_DONE', message: r.error.message }, refundId: r.error.refundId, status: r.error.status });
        return;
      }
      throw refusalError(r.error);
    }
    res.status(202).json(r.value);
  });

  router.get('/api/refunds/:refundId', async (req, res) => {
    const r = await refunds.get(Number(req.params.refundId));
    if (!r) throw new NotFoundError('refund');
    res.set('Cache-Control', 'no-store').json(r);
  });

  router.post('/api/movies/:movieId/cancel', async (req, res) => {
    requireJson(req);
    const reason = typeof req.body?.reason === 'string' ? req.body.reason : '';
    const r = await refunds.cancelShow(Number(req.params.movieId), reason, actor(res));
    if (!r.ok) {
      if (r.error.kind === 'not_found') throw new NotFoundError('movie');
      throw new ValidationError({ reason: r.error.message }, r.error.message);
    }
    res.status(202).json(r.value);
  });

  router.get('/api/movies/:movieId/cancel', async (req, res) => {
    const counts = await refunds.cancelCounts(Number(req.params.movieId));
    if (!counts) throw new NotFoundError('movie');
    res.set('Cache-Control', 'no-store').json(counts);
  });

  // The forms: the refunds page's button per owed refund, and the ticket page's refund with a reason.
  router.post('/refunds/:ticketId/reverse', async (req, res) => {
    const ticketId = Number(req.params.ticketId);
    const reason = typeof req.body?.reason === 'string' && req.body.reason.trim() !== '' ? req.body.reason : 'Refund owed';
    const r = await refunds.request({ ticketId, reason, actor: actor(res) });
    if (!r.ok) throw refusalError(r.error);
    const back = req.body?.back === 'ticket' ? `/admin/tickets/${ticketId}?refund=${r.value.refundId}` : `/admin/refunds?requested=${r.value.refundId}`;
    res.redirect(303, back);
  });

  const cancelPage = async (res: Response, movieId: number, error?: string) => {
    const v = await refunds.cancelView(movieId);
    if (!v) throw new NotFoundError('movie');
    const at = timeView(v.showTime);
    res.status(error ? 422 : 200).render('admin/cancel', {
      section: 'movies', flash: undefined, title: `Cancel ${v.title}`, error,
      c: { ...v, showTimeIso: at.iso, showTimeDisplay: at.stamp },
    });
  };

  router.get('/movies/:movieId/cancel', async (req, res) => {
    await cancelPage(res, Number(req.params.movieId));
  });

  router.post('/movies/:movieId/cancel', async (req, res) => {
    const movieId = Number(req.params.movieId);
    const r = await refunds.cancelShow(movieId, typeof req.body?.reason === 'string' ? req.body.reason : '', actor(res));
    if (!r.ok) {
      if (r.error.kind === 'not_found') throw new NotFoundError('movie');
      return cancelPage(res, movieId, r.error.message);
    }
    res.redirect(303, `/admin/movies/${movieId}/cancel`);
  });

  return router;
}

function requireJson(req: Request): void {
  if (!req.is('application/json')) {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'admin API takes JSON', { status: 415, publicMessage: 'Send JSON (Content-Type: application/json).' });
  }
}

function refusalError(e: RefundRefusal): AppError {
  switch (e.kind) {
    case 'not_found':
      return new NotFoundError('ticket');
    case 'invalid':
      return new ValidationError({ reason: e.message }, e.message);
    case 'not_paid':
      return new ConflictError('REFUND_NOT_POSSIBLE', e.message);
    case 'in_flight_or_done':
      return new ConflictError('REFUND_IN_FLIGHT_OR_DONE', e.message);
    default:
      return unreachable(e);
  }
}
