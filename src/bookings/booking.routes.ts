import { Router, type Request, type Response } from 'express';
import { NotFoundError } from '../core/errors.js';
import { unreachable } from '../core/result.js';
import { formValues, parseBookingForm } from './booking.schema.js';
import type { BookingForm, BookingRefusal, BookingService } from './booking.service.js';
import { setPushPhone, type LimitName, type RateLimits } from './rate-limit.js';
import type { TicketView } from './ticket-view.js';

const refParam = (req: Request): string => {
  const v = req.params.ref;
  return typeof v === 'string' ? v : '';
};

/** The one answer to every miss of find-my-ticket, whichever of the two was wrong. */
export const FIND_MISS = 'No paid ticket matches this phone number and ticket code. Check both (the code is in your SMS) and try again.';

function renderFind(res: Response, status: number, values: Record<string, string>, formError?: string): void {
  res.set('Cache-Control', 'no-store');
  res.status(status).render('tickets/find', { title: 'Find your ticket', values, formError });
}

/** Seconds between meta refreshes of a Pending ticket page when JavaScript is off. */
export const NOSCRIPT_REFRESH_SECONDS = 5;

export interface BookingRoutesDeps {
  bookings: BookingService;
  limits: Pick<RateLimits, 'bookingsPerIp' | 'pushesPerPhone' | 'ticketLookupsPerIp'>;
  maxTicketsPerBooking: number;
}

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

function renderRefusal(res: Response, r: BookingRefusal): void {
  switch (r.kind) {
    case 'movie_not_found':
      throw new NotFoundError('movie');
    case 'invalid':
    case 'show_started':
      return renderForm(res, 422, r.form);
    case 'not_enough_left':
      return renderForm(res, 409, r.form);
    default:
      unreachable(r);
  }
}

/** The page's title says what it is: only a Paid ticket's page calls itself a ticket. */
function pageTitle(t: TicketView): string {
  if (t.status === 'Paid') return `Your ticket · ${t.movieTitle}`;
  if (t.status === 'Pending') return `Payment pending · ${t.movieTitle}`;
  return `${t.outcomeUnknown ? 'Booking expired' : 'Payment not completed'} · ${t.movieTitle}`;
}

function renderTicket(res: Response, ticket: TicketView & { qrSvg: string | null }, opts: { status?: number; formError?: string } = {}): void {
  res.set('Cache-Control', 'no-store');
  res.status(opts.status ?? 200).render('tickets/show', {
    title: pageTitle(ticket),
    ticket,
    qrSvg: ticket.qrSvg,
    formError: opts.formError,
    refreshSeconds: ticket.status === 'Pending' ? NOSCRIPT_REFRESH_SECONDS : undefined,
  });
}

/** POST /bookings, the ticket page, its status JSON and retry. Thin: parse, call one service method, render. */
export function bookingRoutes(deps: BookingRoutesDeps): Router {
  const { bookings, limits } = deps;
  const router = Router();
  const ticketUrl = (ref: string) => `/tickets/${encodeURIComponent(ref)}`;
  const ticketOr404 = async (ref: string): Promise<TicketView & { qrSvg: string | null }> => {
    const t = await bookings.ticket(ref);
    if (!t.ok) throw new NotFoundError('ticket');
    return t.value;
  };

  router.post(
    '/bookings',
    limits.bookingsPerIp,
    async (req, res, next) => {
      const r = await bookings.review(parseBookingForm(req.body, deps.maxTicketsPerBooking), formValues(req.body));
      if (!r.ok) return renderRefusal(res, r.error);
      res.locals.booking = r.value;
      res.locals.typed = formValues(req.body);
      setPushPhone(res, r.value.phoneNumber);
      next();
    },
    limits.pushesPerPhone,
    async (_req, res) => {
      const r = await bookings.book(res.locals.booking, res.locals.typed);
      if (!r.ok) return renderRefusal(res, r.error);
      res.redirect(303, ticketUrl(r.value.ref));
    },
  );

  // Find my ticket: phone number + code. Misses are limited per client and all answered alike (booking.service.ts).
  router.get('/tickets/find', (_req, res) => {
    renderFind(res, 200, {});
  });

  router.post('/tickets/find', limits.ticketLookupsPerIp, async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const r = await bookings.findTicket(body.phoneNumber, body.ticketCode);
    if (r.ok) return res.redirect(303, ticketUrl(r.value));
    const typed = (v: unknown) => (typeof v === 'string' ? v.slice(0, 40) : '');
    renderFind(res, 404, { phoneNumber: typed(body.phoneNumber), ticketCode: typed(body.ticketCode) }, FIND_MISS);
  });

  router.get('/tickets/:ref', async (req, res) => {
    renderTicket(res, await ticketOr404(refParam(req)));
  });

  // The short link in the ticket SMS (an SMS has 160 characters to spare): straight to the ticket page.
  router.get('/t/:ref', (req, res) => {
    res.redirect(303, ticketUrl(refParam(req)));
  });

  router.get('/tickets/:ref/status', async (req, res) => {
    const r = await bookings.status(refParam(req));
    if (!r.ok) throw new NotFoundError('ticket');
    res.set('Cache-Control', 'no-store').json(r.value);
  });

  router.post(
    '/tickets/:ref/retry',
    async (req, res, next) => {
      const target = await bookings.retryTarget(refParam(req));
      if (!target.ok) throw new NotFoundError('ticket');
      if (target.value.status !== 'Failed') return res.redirect(303, ticketUrl(refParam(req)));
      setPushPhone(res, target.value.phoneNumber);
      next();
    },
    limits.pushesPerPhone,
    async (req, res) => {
      const ref = refParam(req);
      const r = await bookings.retry(ref);
      if (!r.ok) {
        switch (r.error.kind) {
          case 'not_found':
            throw new NotFoundError('ticket');
          case 'not_failed':
            break;
          case 'cannot_hold':
            return renderTicket(res, await ticketOr404(ref), { status: 409, formError: r.error.reason });
          default:
            unreachable(r.error);
        }
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
  which: LimitName,
  retryAfterSeconds: number,
): void {
  const minutes = Math.max(1, Math.ceil(retryAfterSeconds / 60));
  res.set('Cache-Control', 'no-store');
  res.status(429).render('tickets/rate-limited', {
    title: 'Please wait a moment',
    message: {
      pushesPerPhone: 'Too many M-Pesa payment prompts have been sent to this phone in a short time. To protect it, we will not send another one yet.',
      bookingsPerIp: 'Too many bookings have come from your connection in a short time.',
      ticketLookupsPerIp: 'Too many ticket searches that found nothing have come from your connection in a short time.',
    }[which],
    nothingCharged: which !== 'ticketLookupsPerIp',
    wait: minutes === 1 ? 'about a minute' : `about ${minutes} minutes`,
  });
}
