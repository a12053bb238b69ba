import { Router, type Request, type Response } from 'express';
import type { AppDeps } from '../app.js';
import { setPushPhone, type RateLimits } from '../core/http/rate-limit.js';
import type { BookingForm, BookingService, TicketView } from './booking.service.js';

const refParam = (req: Request): string => {
  const v = req.params.ref;
  return typeof v === 'string' ? v : '';
};

/** Seconds between meta refreshes of a Pending ticket page when JavaScript is off. */
export const NOSCRIPT_REFRESH_SECONDS = 5;

function renderForm(res: Response, status: number, form: BookingForm): void {
  res.status(status).render('movies/show', {
    title: form.movie.title,
    movie: form.movie,
    values: form.values,
    errors: form.errors,
    formError: form.formError,
    maxTickets: form.maxTickets,
  });
}

function renderTicket(res: Response, ticket: TicketView, opts: { status?: number; formError?: string } = {}): void {
  res.set('Cache-Control', 'no-store');
  res.status(opts.status ?? 200).render('tickets/show', {
    title: `Ticket · ${ticket.movieTitle}`,
    ticket,
    formError: opts.formError,
    refreshSeconds: ticket.status === 'Pending' ? NOSCRIPT_REFRESH_SECONDS : undefined,
  });
}

/**
 * POST /bookings, the ticket page, its status JSON and retry. Thin: each step calls one service method. The
 * service is read from deps on each request so a test can swap it.
 */
export function bookingRoutes(deps: AppDeps, limits: RateLimits): Router {
  const router = Router();
  const bookings = (): BookingService => deps.services.bookings;
  const ticketUrl = (ref: string) => `/tickets/${encodeURIComponent(ref)}`;

  router.post(
    '/bookings',
    limits.bookingsPerIp,
    async (req, res, next) => {
      const r = await bookings().validate(req.body);
      if (!r.ok) return renderForm(res, r.status, r.form);
      res.locals.booking = r.booking;
      setPushPhone(res, r.booking.phoneNumber);
      next();
    },
    limits.pushesPerPhone,
    async (_req, res) => {
      const r = await bookings().book(res.locals.booking);
      if (!r.ok) return renderForm(res, r.status, r.form);
      res.redirect(303, ticketUrl(r.ref));
    },
  );

  router.get('/tickets/:ref', async (req, res) => {
    renderTicket(res, await bookings().ticket(refParam(req)));
  });

  router.get('/tickets/:ref/status', async (req, res) => {
    const body = await bookings().status(refParam(req));
    res.set('Cache-Control', 'no-store').json(body);
  });

  router.post(
    '/tickets/:ref/retry',
    async (req, res, next) => {
      const target = await bookings().retryTarget(refParam(req));
      if (target.status !== 'Failed') return res.redirect(303, ticketUrl(refParam(req)));
      setPushPhone(res, target.phoneNumber);
      next();
    },
    limits.pushesPerPhone,
    async (req, res) => {
      const ref = refParam(req);
      const r = await bookings().retry(ref);
      if (r.kind === 'refused') {
        return renderTicket(res, await bookings().ticket(ref), { status: 409, formError: r.reason });
      }
      res.redirect(303, ticketUrl(ref));
    },
  );

  return router;
}

/** The 429 page for either limit (Retry-After is already set by the limiter). */
export function renderRateLimited(
  _req: unknown,
  res: Response,
  which: 'bookingsPerIp' | 'pushesPerPhone',
  retryAfterSeconds: number,
): void {
  const minutes = Math.max(1, Math.ceil(retryAfterSeconds / 60));
  res.set('Cache-Control', 'no-store');
  res.status(429).render('tickets/rate-limited', {
    title: 'Please wait a moment',
    message:
      which === 'pushesPerPhone'
        ? 'Too many M-Pesa payment prompts have been sent to this phone in a short time. To protect it, we will not send another one yet.'
        : 'Too many bookings have come from your connection in a short time.',
    wait: minutes === 1 ? 'about a minute' : `about ${minutes} minutes`,
  });
}
