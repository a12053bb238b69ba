import { Router, type Request, type Response } from 'express';
import { basicAuth } from '../core/http/basic-auth.js';
import type { LoginLimiter } from '../core/http/login-limiter.js';
import { AppError, ConflictError, NotFoundError, ValidationError } from '../core/errors.js';
import { err, unreachable, type Result } from '../core/result.js';
import { parseMovieInput, type MovieInput } from '../movies/movie.schema.js';
import type { MovieRefusal, MovieService } from '../movies/movie.service.js';
import type { AdminContext } from './admin-views.js';
import type { ForeignSpooled } from '../payments/callback-intake.js';
import { callbackDetail, callbacksPage } from './callbacks.read-model.js';
import { streamCsv } from './csv.js';
import { dashboardPage } from './dashboard.read-model.js';
import { movieFormPage, movieListPage } from './movies.read-model.js';
import { nairobiDate } from './nairobi.js';
import type { AssignFailure, OperatorService } from './operator.service.js';
import { paymentsCsv } from './payments-csv.js';
import { refundsPage } from './refunds.read-model.js';
import { ticketDetail } from './ticket-detail.read-model.js';
import { filterQuery, parseTicketFilter } from './ticket-filter.js';
import { ticketsPage, ticketsTotals } from './tickets.read-model.js';

const MOVIE_FIELDS = ['title', 'description', 'showTime', 'price', 'maximumTickets', 'imageUrl'] as const;
type Section = 'home' | 'tickets' | 'callbacks' | 'refunds' | 'movies';

export interface AdminRoutesDeps {
  /** ADMIN_USER and ADMIN_PASSWORD; without them the area does not exist (404). */
  credentials: { user: string; password: string } | undefined;
  /** Failed sign-ins per client address, shared with every other Basic-auth area. */
  loginLimiter: LoginLimiter;
  context: AdminContext;
  movies: MovieService;
  operator: OperatorService;
  /** Callbacks in the spool file that belong to another database (the last drain's finding), shown on the inbox page. */
  foreignSpooled?: () => ForeignSpooled | undefined;
  /** The refund routes (admin/refund-admin.routes.ts), mounted behind this area's sign-in. */
  refunds?: Router;
}

/** The operator area: each page reads its own read model; each write goes through one service. */
export function adminRoutes(deps: AdminRoutesDeps): Router {
  const { context: ctx, movies, operator } = deps;
  const router = Router();
  router.use(basicAuth({ accounts: deps.credentials ? [deps.credentials] : [], realm: 'Tikiti admin', limiter: deps.loginLimiter }));
  router.use((_req, res, next) => {
    // Customer names and phone numbers: never kept by a shared cache or a browser's back-forward store, never indexed.
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Robots-Tag', 'noindex, nofollow');
    next();
  });

  if (deps.refunds) router.use(deps.refunds);

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
    const r = await saveMovie(req.body, (input) => movies.create(input, actor(res)));
    if (!r.ok) throw movieRefusalError(r.error);
    res.status(201).json({ movieId: r.value });
  });

  router.get('/', async (_req, res) => {
    page(res, 'home', 'home', { title: 'Dashboard', d: await dashboardPage(ctx) });
  });

  // ── tickets ───────────────────────────────────────────────────────────────────────────────────────────────────

  router.get('/tickets', async (req, res) => {
    const p = await ticketsPage(ctx, req.query);
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
    const r = await ticketsTotals(ctx, req.query);
    const hasErrors = r.totals === undefined;
    // The list page fetches the bare fragment; without JavaScript the link opens this as a page of its own.
    const view = req.query.fragment === '1' ? 'totals-fragment' : 'totals';
    page(res, view, 'tickets', { title: 'Ticket totals', r, back: `/admin/tickets${filterQuery(r.parsed.values)}` }, hasErrors ? 422 : 200);
  });

  router.get('/tickets/:ticketId', async (req, res) => {
    const d = await ticketDetail(ctx, Number(req.params.ticketId));
    if (!d.ok) throw new NotFoundError('ticket');
    page(res, 'ticket', 'tickets', { title: `Ticket ${d.value.ticket.ticketId}`, d: d.value });
  });

  router.get('/payments.csv', async (req, res) => {
    const parsed = parseTicketFilter(req.query);
    if (Object.keys(parsed.errors).length) {
      const fields = parsed.errors as Record<string, string>;
      throw new ValidationError(fields, `The export filter is not valid: ${Object.values(fields).join(' ')}`);
    }
    const f = parsed.filter;
    const name = `tikiti-payments-${f.from ?? 'start'}-to-${f.to ?? nairobiDate(ctx.now())}.csv`;
    await streamCsv(res, name, paymentsCsv(ctx, f), (err) => req.log?.error({ err }, 'CSV export failed part-way'));
  });

  // ── the callback inbox ────────────────────────────────────────────────────────────────────────────────────────

  router.get('/callbacks', async (req, res) => {
    const c = await callbacksPage(ctx, req.query);
    const limit = c.limit === 50 ? undefined : String(c.limit);
    page(res, 'callbacks', 'callbacks', {
      title: 'Callback inbox',
      c,
      foreign: deps.foreignSpooled?.(),
      links: {
        next: c.next ? `/admin/callbacks${query({ outcome: c.outcome, limit, before: c.next })}` : undefined,
        first: `/admin/callbacks${query({ outcome: c.outcome, limit })}`,
      },
    }, c.outcomeError ? 422 : 200);
  });

  const callbackPage = async (res: Response, callbackId: number, extra: Record<string, unknown> = {}, status = 200) => {
    const d = await callbackDetail(ctx, callbackId);
    if (!d.ok) throw new NotFoundError('callback');
    page(res, 'callback', 'callbacks', { title: `Callback ${d.value.callback.callbackId}`, d: d.value, values: { ticket: '' }, errors: {}, ...extra }, status);
  };

  router.get('/callbacks/:callbackId', async (req, res) => {
    const assigned = typeof req.query.assigned === 'string' ? req.query.assigned : '';
    const flash = /^[a-z]{1,12}$/.test(assigned) ? `Assigned. The callback was processed with the outcome "${assigned}".` : undefined;
    await callbackPage(res, Number(req.params.callbackId), { flash });
  });

  router.post('/callbacks/:callbackId/assign', async (req, res) => {
    const callbackId = Number(req.params.callbackId);
    const ticket = field(req, 'ticket').slice(0, 200);
    const r = await operator.assignCallback(callbackId, ticket, actor(res));
    if (!r.ok) {
      if (r.error.kind === 'invalid') return callbackPage(res, callbackId, { values: { ticket }, errors: r.error.fields }, 422);
      throw assignFailureError(r.error);
    }
    res.redirect(303, `/admin/callbacks/${callbackId}?assigned=${encodeURIComponent(r.value.outcome)}`);
  });

  // ── refunds ───────────────────────────────────────────────────────────────────────────────────────────────────

  router.get('/refunds', async (req, res) => {
    const done = typeof req.query.refunded === 'string' && /^\d{1,12}$/.test(req.query.refunded) ? req.query.refunded : undefined;
    page(res, 'refunds', 'refunds', {
      title: 'Refunds',
      r: await refundsPage(ctx),
      flash: done ? `Ticket ${done} is marked refunded.` : undefined,
    });
  });

  router.post('/refunds/:ticketId', async (req, res) => {
    const ticketId = Number(req.params.ticketId);
    const r = await operator.markRefunded(ticketId, actor(res), field(req, 'note'));
    if (!r.ok) {
      switch (r.error.kind) {
        case 'not_found':
          throw new NotFoundError('ticket');
        case 'not_due':
          throw new ConflictError('REFUND_NOT_DUE', r.error.message);
        default:
          unreachable(r.error);
      }
    }
    res.redirect(303, `/admin/refunds?refunded=${ticketId}`);
  });

  // ── movies ────────────────────────────────────────────────────────────────────────────────────────────────────

  router.get('/movies', async (req, res) => {
    const saved = typeof req.query.saved === 'string' && /^\d{1,12}$/.test(req.query.saved) ? req.query.saved : undefined;
    const how = req.query.created === '1' ? 'added' : 'saved';
    page(res, 'movies', 'movies', { title: 'Movies', m: await movieListPage(ctx), flash: saved ? `Movie ${saved} ${how}.` : undefined });
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
    const r = await saveMovie(values, (input) => movies.create(input, actor(res)));
    if (!r.ok) {
      if (r.error.kind === 'not_found') throw new NotFoundError('movie');
      return movieForm(res, { values, errors: r.error.fields }, 422);
    }
    res.redirect(303, `/admin/movies?saved=${r.value}&created=1`);
  });

  router.get('/movies/:movieId/edit', async (req, res) => {
    const f = await movieFormPage(ctx, Number(req.params.movieId));
    if (!f.ok) throw new NotFoundError('movie');
    movieForm(res, { movieId: f.value.movie.movieId, name: f.value.movie.title, values: f.value.values, errors: {}, taken: f.value.taken });
  });

  router.post('/movies/:movieId', async (req, res) => {
    const movieId = Number(req.params.movieId);
    const f = await movieFormPage(ctx, movieId);
    if (!f.ok) throw new NotFoundError('movie');
    const values = movieValues(req);
    const r = await saveMovie(values, (input) => movies.update(movieId, input, actor(res)));
    if (r.ok) return res.redirect(303, `/admin/movies?saved=${movieId}`);
    if (r.error.kind === 'not_found') throw new NotFoundError('movie');
    movieForm(res, { movieId, name: f.value.movie.title, values, errors: r.error.fields, taken: f.value.taken }, 422);
  });

  return router;
}

/** Parses a movie (form or JSON) and, when it reads, hands it to `write`. */
async function saveMovie<T>(body: unknown, write: (input: MovieInput) => Promise<Result<T, MovieRefusal>>): Promise<Result<T, MovieRefusal>> {
  const input = parseMovieInput(body);
  return input.ok ? write(input.value) : err({ kind: 'invalid', fields: input.error });
}

function movieRefusalError(r: MovieRefusal): AppError {
  switch (r.kind) {
    case 'not_found':
      return new NotFoundError('movie');
    case 'invalid':
      return new ValidationError(r.fields);
    default:
      return unreachable(r);
  }
}

function assignFailureError(f: Exclude<AssignFailure, { kind: 'invalid' }>): AppError {
  switch (f.kind) {
    case 'callback_not_found':
      return new NotFoundError('callback');
    case 'ticket_not_found':
      return new NotFoundError('ticket');
    case 'not_unmatched':
      return new ConflictError('CALLBACK_NOT_UNMATCHED', `This callback is already "${f.outcome}". Only an unmatched callback can be assigned to a ticket.`);
    case 'unreadable':
      return new ConflictError('CALLBACK_INVALID', 'This callback cannot be read, so it cannot be assigned.');
    default:
      return unreachable(f);
  }
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
