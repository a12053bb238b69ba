import { Router, type Request, type Response } from 'express';
import type { AppDeps } from '../app.js';
import { basicAuth } from '../core/http/basic-auth.js';
import { AppError, ValidationError } from '../core/errors.js';
import { AdminService, type CallbackAssigner } from './admin.service.js';
import { streamCsv } from './csv.js';
import { nairobiDate } from './nairobi.js';
import { filterQuery, parseTicketFilter } from './ticket-filter.js';

const MOVIE_FIELDS = ['title', 'description', 'showTime', 'price', 'maximumTickets', 'imageUrl'] as const;
type Section = 'home' | 'tickets' | 'callbacks' | 'refunds' | 'movies';

/** The operator area. Off (404) until ADMIN_USER and ADMIN_PASSWORD are both set. */
export function adminRoutes(deps: AppDeps): Router {
  const router = Router();
  router.use(basicAuth(deps.config.admin));
  router.use((_req, res, next) => {
    // Customer names and phone numbers: never kept by a shared cache or a browser's back-forward store, never indexed.
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Robots-Tag', 'noindex, nofollow');
    next();
  });

  // Looked up on each use rather than captured, so whatever deps.services holds at the time is what runs.
  const assigner = (): CallbackAssigner | undefined => deps.services.payments;
  const admin = new AdminService(deps.database, deps.services.movies, deps.now, assigner);
  const actor = (res: Response): string => String(res.locals.adminUser ?? 'admin');
  const page = (res: Response, view: string, section: Section, locals: Record<string, unknown>, status = 200) =>
    res.status(status).render(`admin/${view}`, { section, flash: undefined, ...locals });

  router.post('/api/movies', async (req, res) => {
    if (!req.is('application/json')) {
      throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'admin API takes JSON', {
        status: 415,
        publicMessage: 'Send the movie as JSON (Content-Type: application/json).',
      });
    }
    const movieId = await deps.services.movies.create(req.body);
    res.status(201).json({ movieId });
  });

  router.get('/', async (_req, res) => {
    page(res, 'home', 'home', { title: 'Dashboard', d: await admin.dashboard() });
  });

  // ── tickets ───────────────────────────────────────────────────────────────────────────────────────────────────

  router.get('/tickets', async (req, res) => {
    const p = await admin.tickets(req.query);
    const hasErrors = Object.keys(p.parsed.errors).length > 0;
    const q = p.parsed.values;
    const limit = p.limit === 50 ? undefined : String(p.limit);
    page(res, 'tickets', 'tickets', {
      title: 'Tickets',
      p,
      hasErrors,
      links: {
        next: p.next ? `/admin/tickets${filterQuery(q, { limit, after: p.next })}` : undefined,
        first: `/admin/tickets${filterQuery(q, { limit })}`,
        totals: `/admin/tickets/totals${filterQuery(q)}`,
        csv: `/admin/payments.csv${filterQuery({ ...q, status: q.status === 'Paid' ? 'Paid' : '' })}`,
      },
    }, hasErrors ? 422 : 200);
  });

  router.get('/tickets/totals', async (req, res) => {
    const r = await admin.ticketTotals(req.query);
    const hasErrors = r.totals === undefined;
    // The list page fetches the bare fragment; without JavaScript the link opens this as a page of its own.
    const view = req.query.fragment === '1' ? 'totals-fragment' : 'totals';
    page(res, view, 'tickets', { title: 'Ticket totals', r, back: `/admin/tickets${filterQuery(r.parsed.values)}` }, hasErrors ? 422 : 200);
  });

  router.get('/tickets/:ticketId', async (req, res) => {
    const d = await admin.ticket(Number(req.params.ticketId));
    page(res, 'ticket', 'tickets', { title: `Ticket ${d.ticket.ticketId}`, d });
  });

  router.get('/payments.csv', async (req, res) => {
    const parsed = parseTicketFilter(req.query);
    if (Object.keys(parsed.errors).length) {
      const fields = parsed.errors as Record<string, string>;
      throw new ValidationError(fields, `The export filter is not valid: ${Object.values(fields).join(' ')}`);
    }
    const f = parsed.filter;
    const name = `tikiti-payments-${f.from ?? 'start'}-to-${f.to ?? nairobiDate(deps.now())}.csv`;
    await streamCsv(res, name, admin.paymentsCsv(f), (err) => req.log?.error({ err }, 'CSV export failed part-way'));
  });

  // ── the callback inbox ────────────────────────────────────────────────────────────────────────────────────────

  router.get('/callbacks', async (req, res) => {
    const c = await admin.callbacks(req.query);
    const limit = c.limit === 50 ? undefined : String(c.limit);
    page(res, 'callbacks', 'callbacks', {
      title: 'Callback inbox',
      c,
      links: {
        next: c.next ? `/admin/callbacks${query({ outcome: c.outcome, limit, before: c.next })}` : undefined,
        first: `/admin/callbacks${query({ outcome: c.outcome, limit })}`,
      },
    }, c.outcomeError ? 422 : 200);
  });

  const callbackPage = async (res: Response, callbackId: number, extra: Record<string, unknown> = {}, status = 200) => {
    const d = await admin.callback(callbackId);
    page(res, 'callback', 'callbacks', { title: `Callback ${d.callback.callbackId}`, d, values: { ticket: '' }, errors: {}, ...extra }, status);
  };

  router.get('/callbacks/:callbackId', async (req, res) => {
    const assigned = typeof req.query.assigned === 'string' ? req.query.assigned : '';
    const flash = /^[a-z]{1,12}$/.test(assigned) ? `Assigned. The callback was processed with the outcome "${assigned}".` : undefined;
    await callbackPage(res, Number(req.params.callbackId), { flash });
  });

  router.post('/callbacks/:callbackId/assign', async (req, res) => {
    const callbackId = Number(req.params.callbackId);
    const ticket = field(req, 'ticket').slice(0, 200);
    const r = await attempt(() => admin.assignCallback(callbackId, ticket, actor(res)));
    if (!r.ok) return callbackPage(res, callbackId, { values: { ticket }, errors: r.error.fields }, 422);
    res.redirect(303, `/admin/callbacks/${callbackId}?assigned=${encodeURIComponent(r.value.outcome)}`);
  });

  // ── refunds ───────────────────────────────────────────────────────────────────────────────────────────────────

  router.get('/refunds', async (req, res) => {
    const done = typeof req.query.refunded === 'string' && /^\d{1,12}$/.test(req.query.refunded) ? req.query.refunded : undefined;
    page(res, 'refunds', 'refunds', {
      title: 'Refunds',
      r: await admin.refunds(),
      flash: done ? `Ticket ${done} is marked refunded.` : undefined,
    });
  });

  router.post('/refunds/:ticketId', async (req, res) => {
    const ticketId = Number(req.params.ticketId);
    await admin.markRefunded(ticketId, actor(res), field(req, 'note'));
    res.redirect(303, `/admin/refunds?refunded=${ticketId}`);
  });

  // ── movies ────────────────────────────────────────────────────────────────────────────────────────────────────

  router.get('/movies', async (req, res) => {
    const saved = typeof req.query.saved === 'string' && /^\d{1,12}$/.test(req.query.saved) ? req.query.saved : undefined;
    const how = req.query.created === '1' ? 'added' : 'saved';
    page(res, 'movies', 'movies', { title: 'Movies', m: await admin.movieList(), flash: saved ? `Movie ${saved} ${how}.` : undefined });
  });

  const movieForm = (
    res: Response,
    locals: { movieId?: number; name?: string; values: Record<string, string>; errors: Record<string, string>; taken?: number },
    status = 200,
  ) => page(res, 'movie-form', 'movies', { title: locals.name ? `Edit ${locals.name}` : 'Add a movie', movieId: undefined, taken: undefined, ...locals }, status);

  router.get('/movies/new', (_req, res) => {
    movieForm(res, { values: { price: '', maximumTickets: '' }, errors: {} });
  });

  router.post('/movies', async (req, res) => {
    const values = movieValues(req);
    const r = await attempt(() => admin.createMovie(values, actor(res)));
    if (!r.ok) return movieForm(res, { values, errors: r.error.fields }, 422);
    res.redirect(303, `/admin/movies?saved=${r.value}&created=1`);
  });

  router.get('/movies/:movieId/edit', async (req, res) => {
    const f = await admin.movieForm(Number(req.params.movieId));
    movieForm(res, { movieId: f.movie.movieId, name: f.movie.title, values: f.values, errors: {}, taken: f.movie.maximumTickets - f.movie.ticketsLeft });
  });

  router.post('/movies/:movieId', async (req, res) => {
    const movieId = Number(req.params.movieId);
    const values = movieValues(req);
    const r = await attempt(() => admin.updateMovie(movieId, values, actor(res)));
    if (!r.ok) {
      const f = await admin.movieForm(movieId);
      return movieForm(res, { movieId, name: f.movie.title, values, errors: r.error.fields, taken: f.movie.maximumTickets - f.movie.ticketsLeft }, 422);
    }
    res.redirect(303, `/admin/movies?saved=${movieId}`);
  });

  return router;
}

/** A form field as trimmed text ('' when absent or not a single string). */
function field(req: Request, name: string): string {
  const v = (req.body as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' ? v : '';
}

function movieValues(req: Request): Record<string, string> {
  return Object.fromEntries(MOVIE_FIELDS.map((k) => [k, field(req, k).slice(0, 5000)]));
}

function query(params: Record<string, string | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** Runs an action whose only expected failure is a form's field messages; anything else goes to the error handler. */
async function attempt<T>(fn: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: ValidationError }> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    if (err instanceof ValidationError) return { ok: false, error: err };
    throw err;
  }
}
